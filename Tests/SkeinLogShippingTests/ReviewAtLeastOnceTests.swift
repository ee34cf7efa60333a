import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): recovery in at-least-once mode.
extension DeliveryTests {
    /// In at-least-once mode recovery read the partition read_uncommitted, so records of an aborted
    /// transaction (left by an earlier exactly-once run, before `exactly_once = "off"`) counted as
    /// delivered: their sequence numbers were skipped and the lines lost.
    @Test func atLeastOnceRecoveryIgnoresAbortedRecords() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let settings = settings(broker)
        var configuration = ProducerConfiguration()
        configuration.transactionalId = settings.transactionalId
        configuration.acks = .all
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        try await producer.initTransactions()
        try await producer.beginTransaction()
        for sequence in 1...5 {
            _ = try await producer.send(
                ProducerRecord(
                    topic: "logs", key: Array("host-a".utf8), value: Array("{}".utf8),
                    headers: [
                        RecordHeader(key: PositionHeaders.agent, value: Array(settings.transactionalId.utf8)),
                        RecordHeader(key: PositionHeaders.source, value: Array("files.test".utf8)),
                        RecordHeader(key: PositionHeaders.sequence, value: Array(String(sequence).utf8)),
                        RecordHeader(key: PositionHeaders.position, value: Array("s1@\(sequence)".utf8)),
                    ]))
        }
        try await producer.abortTransaction()
        await producer.close()

        var atLeastOnce = settings
        atLeastOnce.exactlyOnce = .off
        let running = try await start(atLeastOnce, topic: "logs")
        #expect(running.state.sequence == 0)
        #expect(running.state.positions == [:])
        await running.stop()
    }
}
