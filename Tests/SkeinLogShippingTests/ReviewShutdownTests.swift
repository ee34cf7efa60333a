import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): graceful shutdown while the broker hangs.
extension DeliveryTests {
    /// `finish(deadline:)` is checked only between attempts, and an attempt runs up to `attemptTimeout`
    /// (30 s; an establish can add the recovery's 120 s stable wait): with a broker that accepts
    /// connections but does not answer, SIGTERM took 30 s or more instead of `shutdown_flush_seconds`.
    @Test(.disabled("review finding, not fixed: an attempt in flight is not cut at the finish deadline"))
    func finishReturnsByItsDeadlineWhenTheBrokerHangs() async throws {
        let broker = try await ServerProcess.skeind()
        defer {
            kill(broker.process.processIdentifier, SIGCONT)
            broker.stop()
        }
        let running = try await start(settings(broker), topic: "logs")
        try await running.channel.emit(Self.events(1...10))
        try await waitCommitted(running, 10)
        kill(broker.process.processIdentifier, SIGSTOP)
        try await running.channel.emit(Self.events(11...20))
        let started = ContinuousClock.now
        await running.delivery.finish(deadline: .now + .seconds(1))
        await running.loop.value
        let took = ContinuousClock.now - started
        #expect(took < .seconds(6), "finish with a 1 s deadline took \(took)")
    }
}
