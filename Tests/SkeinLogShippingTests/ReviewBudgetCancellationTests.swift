import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Synchronization
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): cancelling a wait for the memory cap.
@Suite struct ReviewBudgetCancellationTests {
    /// `acquire` cancelled between its cancellation check and installing its cancellation handler went
    /// on waiting for room regardless: at shutdown during an outage a source never stopped and the agent
    /// hung in `waitForAll`.
    @Test func aCancelledAcquireDoesNotWaitForRoom() async throws {
        let budget = MemoryBudget(capacity: 10)
        try await budget.acquire(10)
        var stuck = 0
        // Contend for the budget's lock, which widens the window between the check and the handler.
        let hammering = Atomic<Bool>(true)
        let hammer = Thread {
            while hammering.load(ordering: .relaxed) { _ = budget.heldBytes }
        }
        hammer.start()
        defer { hammering.store(false, ordering: .relaxed) }
        let deadline = ContinuousClock.now + .seconds(20)
        var rounds = 0
        while rounds < 100_000, ContinuousClock.now < deadline, stuck == 0 {
            rounds += 1
            let done = Atomic<Bool>(false)
            let task = Task {
                _ = try? await budget.acquire(5)
                done.store(true, ordering: .releasing)
            }
            // Spin a little so the cancel lands at different points of `acquire`.
            var spin = 0
            for _ in 0..<(rounds % 64) { spin &+= 1 }
            task.cancel()
            let bound = ContinuousClock.now + .seconds(2)
            while !done.load(ordering: .acquiring), ContinuousClock.now < bound { await Task.yield() }
            if !done.load(ordering: .acquiring) {
                stuck += 1
                budget.release(5)  // frees it (and keeps the budget full for the next round)
                await task.value
            } else if budget.heldBytes != 10 {
                Issue.record("a cancelled acquire kept \(budget.heldBytes - 10) bytes")
                budget.release(budget.heldBytes - 10)
            }
            _ = spin
        }
        #expect(stuck == 0, "\(stuck) cancelled acquire(s) waited for room, after \(rounds) rounds")
    }
}
