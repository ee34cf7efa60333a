import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): one sink used from two tasks.
extension DeliveryTests {
    /// `emit` takes its sequence numbers under a lock and queues the records after an actor hop, so two
    /// tasks emitting into one sink (a syslog source with a UDP and a TCP listener) can queue 11…20
    /// before 1…10. Committed in that order, a failure in between makes recovery see 20 and drop 1…10
    /// as delivered; and consumers see the sequence out of order.
    @Test(.disabled("review finding, not fixed: concurrent emits on one sink queue out of sequence order"))
    func concurrentEmitsQueueInSequenceOrder() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let running = try await start(settings(broker), topic: "logs")
        let channel = running.channel
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for batch in 0..<100 {
                        let first = (task * 100 + batch) * 5 + 1
                        try? await channel.emit(Self.events(first...(first + 4), stream: "t\(task)"))
                    }
                }
            }
        }
        try await waitCommitted(running, 2000)
        await running.stop()
        let (records, _) = try await readBack(broker, topic: "logs")
        let sequences = records.map(\.0)
        #expect(sequences.count == 2000)
        #expect(sequences == Array(1...2000).map(UInt64.init), "committed out of sequence order")
    }
}
