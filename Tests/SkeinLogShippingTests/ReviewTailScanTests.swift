import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): the broker lost during the tail scan.
extension DeliveryTests {
    /// The tail scan took a window read cut short for the whole window: `poll` swallows connection
    /// errors and returns nothing, and after 400 such polls `read` returned what it had. A broker lost
    /// during recovery (kill -9, restart) then gave a state older than what is committed, and the agent
    /// sent committed records again under the same sequence numbers.
    @Test func aBrokerLostDuringTheTailScanIsAFailureNotAnOlderState() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let settings = settings(broker)
        let count = 5000
        var configuration = ProducerConfiguration()
        configuration.acks = .all
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        // Large records (sent uncompressed): the first window the scan reads, the newest 4096 records,
        // takes some thirty fetches.
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: 8000)
        var records: [ProducerRecord] = []
        for sequence in 1...count {
            records.append(
                ProducerRecord(
                    topic: "logs", key: Array("host-a".utf8), value: value,
                    headers: [
                        RecordHeader(key: PositionHeaders.agent, value: Array(settings.transactionalId.utf8)),
                        RecordHeader(key: PositionHeaders.source, value: Array("files.test".utf8)),
                        RecordHeader(key: PositionHeaders.sequence, value: Array(String(sequence).utf8)),
                        RecordHeader(key: PositionHeaders.position, value: Array("s1@\(sequence)".utf8)),
                    ]))
        }
        try await producer.enqueue(records)
        await producer.flush()
        #expect(await producer.firstEnqueueError == nil)
        await producer.close()
        let partitions = try await partitionCount(broker, "logs")
        let partition = Murmur2Partitioner.partition(forKey: Array("host-a".utf8), partitionCount: partitions)

        func recovery() throws -> TailRecovery {
            let metadata = try ClusterMetadata(
                bootstrapServers: [broker.bootstrap], clientId: "test", logger: Self.logger)
            var recovery = TailRecovery(
                metadata: metadata, agentId: settings.transactionalId, hostKey: Array("host-a".utf8),
                isolation: .readCommitted, logger: Self.logger)
            recovery.stableWait = .seconds(5)
            return recovery
        }
        // No checkpoint: the scan reads the whole partition back. Twice to time it (the second warm)...
        var took = Duration.zero
        for _ in 0..<2 {
            let started = ContinuousClock.now
            let full = try await recovery().recover(topic: "logs", partition: partition, hint: nil)
            took = ContinuousClock.now - started
            #expect(full.states["files.test"]?.sequence == UInt64(count))
        }
        // ...then again, with the broker killed half way through.
        let scan = try recovery()
        let task = Task { try await scan.recover(topic: "logs", partition: partition, hint: nil) }
        try await Task.sleep(for: took / 2)
        kill(broker.process.processIdentifier, SIGKILL)
        broker.process.waitUntilExit()
        if case .success(let outcome) = await task.result {
            #expect(
                outcome.states["files.test"]?.sequence == UInt64(count),
                "a scan cut short was taken for the committed state (full scan took \(took))")
        }
    }

    func partitionCount(_ broker: ServerProcess, _ topic: String) async throws -> Int {
        let metadata = try ClusterMetadata(bootstrapServers: [broker.bootstrap], clientId: "test", logger: Self.logger)
        defer { Task { await metadata.close() } }
        return try await metadata.partitionCount(of: topic)
    }
}
