import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): the log topic gains partitions.
extension DeliveryTests {
    /// The partition comes from the host name and the topic's partition count. Adding partitions to the
    /// log topic moved the agent to another partition where it found nothing of its own: the sequence
    /// started again at 1 (repeating numbers) and existing files were read from their end (losing lines).
    @Test(.disabled("review finding, not fixed: recovery reads only the partition the key hashes to now"))
    func addingPartitionsToTheTopicKeepsTheSourcesState() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let first = try await start(settings(broker), topic: "logs")
        try await first.channel.emit(Self.events(1...10))
        try await waitCommitted(first, 10)
        await first.stop()

        let current = try await partitionCount(broker, "logs")
        let moved = try #require(
            (current + 1...current + 32).first {
                Murmur2Partitioner.partition(forKey: Array("host-a".utf8), partitionCount: $0)
                    != Murmur2Partitioner.partition(forKey: Array("host-a".utf8), partitionCount: current)
            })
        let admin = try AdminClient(bootstrapServers: [broker.bootstrap])
        try await admin.addPartitions("logs", totalCount: Int32(moved))
        await admin.close()

        let second = try await start(settings(broker), topic: "logs")
        #expect(second.state.found)
        #expect(second.state.sequence == 10)
        #expect(second.state.positions == ["s1": "10"])
        await second.stop()
    }
}
