import Foundation
import SkeinLog
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// Which partitions OffsetFetch with require_stable reports as unstable: those whose offset an unfinished
/// transaction holds, for that transaction's group only, until it commits or aborts (or a restart aborts it).
@Suite struct TransactionStableOffsetsTests {
    let partition = TopicPartition("input", 0)
    let other = TopicPartition("input", 1)

    func withBroker(_ body: (Broker) throws -> Void) throws {
        let directory = NSTemporaryDirectory() + "skein-stable-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = BrokerConfig()
        config.dataDirectory = directory
        let broker = try Broker(config: config)
        try broker.createTopic("input", partitions: 2)
        try body(broker)
    }

    /// InitProducerId, AddOffsetsToTxn and TxnOffsetCommit of `offset` for `partition` in group "g".
    func sendOffsets(_ broker: Broker, _ id: String, offset: Int64) throws -> (Int64, Int16) {
        let coordinator = broker.transactions
        return try coordinator.queue.sync {
            let granted = try coordinator.initProducerId(
                transactionalId: id, timeoutMs: 60_000, producerId: -1, producerEpoch: -1
            ).get()
            try coordinator.addOffsets(
                transactionalId: id, producerId: granted.producerId, epoch: granted.epoch, groupId: "g"
            ).get()
            try coordinator.commitOffsets(
                transactionalId: id, producerId: granted.producerId, epoch: granted.epoch, groupId: "g",
                offsets: [
                    .init(group: "g", partition: .init(partition), offset: offset, leaderEpoch: -1, metadata: nil)
                ]
            ).get()
            return (granted.producerId, granted.epoch)
        }
    }

    func end(_ broker: Broker, _ id: String, _ producer: (Int64, Int16), commit: Bool) throws {
        let coordinator = broker.transactions
        try coordinator.queue.sync {
            try coordinator.endTransaction(
                transactionalId: id, producerId: producer.0, epoch: producer.1, commit: commit
            ).get()
        }
    }

    @Test func pendingUntilCommitThenCommitted() throws {
        try withBroker { broker in
            let producer = try sendOffsets(broker, "worker", offset: 10)
            #expect(broker.transactions.pendingOffsetPartitions(group: "g") == [partition])
            #expect(broker.transactions.pendingOffsetPartitions(group: "h").isEmpty)
            #expect(broker.groups.offsets.committed(groupId: "g")[partition] == nil)
            try end(broker, "worker", producer, commit: true)
            #expect(broker.transactions.pendingOffsetPartitions(group: "g").isEmpty)
            #expect(broker.groups.offsets.committed(groupId: "g")[partition]?.offset == 10)
            #expect(broker.groups.offsets.committed(groupId: "g")[other] == nil)
            broker.shutdown()
        }
    }

    @Test func anAbortDropsThePendingOffset() throws {
        try withBroker { broker in
            let producer = try sendOffsets(broker, "worker", offset: 10)
            try end(broker, "worker", producer, commit: false)
            #expect(broker.transactions.pendingOffsetPartitions(group: "g").isEmpty)
            #expect(broker.groups.offsets.committed(groupId: "g")[partition] == nil)
            broker.shutdown()
        }
    }

    @Test func aRestartAbortsTheOpenTransactionAndItsPendingOffset() throws {
        let directory = NSTemporaryDirectory() + "skein-stable-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = BrokerConfig()
        config.dataDirectory = directory
        var broker: Broker? = try Broker(config: config)
        try broker!.createTopic("input", partitions: 2)
        _ = try sendOffsets(broker!, "worker", offset: 10)
        #expect(broker!.transactions.pendingOffsetPartitions(group: "g") == [partition])
        broker!.shutdown()
        broker = nil
        let reopened = try Broker(config: config)
        #expect(reopened.transactions.metadata("worker")?.state == .completeAbort)
        #expect(reopened.transactions.pendingOffsetPartitions(group: "g").isEmpty)
        #expect(reopened.groups.offsets.committed(groupId: "g")[partition] == nil)
        reopened.shutdown()
    }
}
