import Foundation
import NIOCore
import SkeinLog
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// The coordinator's state machine and its recovery: what a restart does with a transaction that was open,
/// preparing to commit, or left in a partition with no coordinator state at all.
@Suite struct TransactionCoordinatorTests {
    let topic = "orders"
    var partition: TopicPartition { TopicPartition(topic, 0) }

    func openBroker(_ directory: String, settings: [String: String] = [:]) throws -> Broker {
        var config = BrokerConfig()
        config.dataDirectory = directory
        for (name, value) in settings { try config.apply(name, value) }
        return try Broker(config: config)
    }

    /// A transactional batch appended as the produce path would (after its AddPartitionsToTxn).
    func appendTransactional(_ broker: Broker, producerId: Int64, epoch: Int16, sequence: Int32) throws {
        var batch = try RecordBatch.encode(
            records: [Record(offsetDelta: 0, value: ByteBuffer(string: "v\(sequence)"))], baseTimestamp: 1,
            isTransactional: true, producerId: producerId, producerEpoch: epoch, baseSequence: sequence)
        let log = try #require(broker.logs.log(for: partition))
        let refusal = broker.transactions.verifyProduce(producerId: producerId, epoch: epoch, partition: partition)
        #expect(refusal == nil)
        _ = try batch.withUnsafeMutableReadableBytes { try log.append($0) }
    }

    func begin(_ broker: Broker, _ id: String, timeoutMs: Int32 = 60_000) throws -> (Int64, Int16) {
        let coordinator = broker.transactions
        return try coordinator.queue.sync {
            let granted = try coordinator.initProducerId(
                transactionalId: id, timeoutMs: timeoutMs, producerId: -1, producerEpoch: -1
            ).get()
            _ = try coordinator.addPartitions(
                transactionalId: id, producerId: granted.producerId, epoch: granted.epoch, partitions: [partition]
            ).get()
            return (granted.producerId, granted.epoch)
        }
    }

    @Test func commitWritesAMarkerAndAppliesOffsetsOnlyThen() throws {
        let directory = NSTemporaryDirectory() + "skein-txn-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try openBroker(directory)
        try broker.createTopic(topic, partitions: 1)
        let (producerId, epoch) = try begin(broker, "app")
        try appendTransactional(broker, producerId: producerId, epoch: epoch, sequence: 0)
        let log = try #require(broker.logs.log(for: partition))
        #expect(log.lastStableOffset == 0)
        let coordinator = broker.transactions
        let offset = TransactionMetadata.PendingOffset(
            group: "g", partition: .init(partition), offset: 42, leaderEpoch: -1, metadata: nil)
        try coordinator.queue.sync {
            try coordinator.addOffsets(transactionalId: "app", producerId: producerId, epoch: epoch, groupId: "g").get()
            try coordinator.commitOffsets(
                transactionalId: "app", producerId: producerId, epoch: epoch, groupId: "g", offsets: [offset]
            ).get()
        }
        #expect(broker.groups.offsets.committed(groupId: "g").isEmpty)
        try coordinator.queue.sync {
            try coordinator.endTransaction(transactionalId: "app", producerId: producerId, epoch: epoch, commit: true)
                .get()
        }
        #expect(log.logEndOffset == 2 && log.lastStableOffset == 2)
        #expect(broker.groups.offsets.committed(groupId: "g")[partition]?.offset == 42)
        #expect(coordinator.metadata("app")?.state == .completeCommit)
        // A retried commit succeeds and writes nothing; an abort now is refused.
        try coordinator.queue.sync {
            try coordinator.endTransaction(transactionalId: "app", producerId: producerId, epoch: epoch, commit: true)
                .get()
            #expect(
                coordinator.endTransaction(transactionalId: "app", producerId: producerId, epoch: epoch, commit: false)
                    .failureValue == .invalidTransactionState("cannot abort in state CompleteCommit"))
        }
        #expect(log.logEndOffset == 2)
        broker.shutdown()
    }

    @Test func aRestartCompletesAPreparedCommitAndAbortsAnOpenTransaction() throws {
        let directory = NSTemporaryDirectory() + "skein-txn-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var broker: Broker? = try openBroker(directory)
        try broker!.createTopic(topic, partitions: 1)
        let (committer, committerEpoch) = try begin(broker!, "committer")
        try appendTransactional(broker!, producerId: committer, epoch: committerEpoch, sequence: 0)
        let (opener, openerEpoch) = try begin(broker!, "opener")
        try appendTransactional(broker!, producerId: opener, epoch: openerEpoch, sequence: 0)
        var prepared = try #require(broker!.transactions.metadata("committer"))
        broker!.shutdown()
        broker = nil
        // The crash this stands for: PrepareCommit was durable, no marker was written yet.
        prepared.state = .prepareCommit
        let store = try TransactionLog(directory: directory + "/.transactions", clock: SystemClock())
        try store.write([prepared]) { [] }
        try store.shutdown()

        let reopened = try openBroker(directory)
        let log = try #require(reopened.logs.log(for: partition))
        #expect(log.logEndOffset == 4, "two batches and two markers")
        #expect(log.lastStableOffset == 4)
        #expect(reopened.transactions.metadata("committer")?.state == .completeCommit)
        let opened = try #require(reopened.transactions.metadata("opener"))
        #expect(opened.state == .completeAbort && opened.producerEpoch == openerEpoch + 1)
        let read = try log.read(from: 0, maxBytes: 1 << 20, isolation: .readCommitted)
        // The two markers land at 2 and 3 in either order.
        #expect(read.abortedTransactions?.map { [$0.producerId, $0.firstOffset] } == [[opener, 1]])
        // The fenced incarnation's next batch is refused.
        #expect(
            reopened.transactions.verifyProduce(producerId: opener, epoch: openerEpoch, partition: partition)
                == .invalidProducerEpoch)
        reopened.shutdown()
    }

    @Test func aTransactionWithoutCoordinatorStateIsAbortedAtStart() throws {
        let directory = NSTemporaryDirectory() + "skein-txn-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var broker: Broker? = try openBroker(directory)
        try broker!.createTopic(topic, partitions: 1)
        let (producerId, epoch) = try begin(broker!, "lost")
        try appendTransactional(broker!, producerId: producerId, epoch: epoch, sequence: 0)
        broker!.shutdown()
        broker = nil
        try FileManager.default.removeItem(atPath: directory + "/.transactions")
        let reopened = try openBroker(directory)
        let log = try #require(reopened.logs.log(for: partition))
        #expect(log.lastStableOffset == log.logEndOffset, "no partition's LSO stays stuck")
        #expect(log.openTransactions.isEmpty)
        reopened.shutdown()
    }

    @Test func anExpiredTransactionIsAbortedAndItsProducerFenced() throws {
        let directory = NSTemporaryDirectory() + "skein-txn-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try openBroker(directory)
        try broker.createTopic(topic, partitions: 1)
        let (producerId, epoch) = try begin(broker, "slow", timeoutMs: 1)
        try appendTransactional(broker, producerId: producerId, epoch: epoch, sequence: 0)
        let coordinator = broker.transactions
        var state = coordinator.metadata("slow")?.state
        // Polled with a bound: the 1 ms timeout must pass on the system clock before the check aborts.
        let deadline = Date().addingTimeInterval(10)
        for _ in 0..<10_000 where state == .ongoing && Date() < deadline {
            coordinator.queue.sync { coordinator.abortTimedOut() }
            state = coordinator.metadata("slow")?.state
            if state == .ongoing { usleep(1_000) }
        }
        #expect(state == .completeAbort)
        let log = try #require(broker.logs.log(for: partition))
        #expect(log.lastStableOffset == log.logEndOffset)
        coordinator.queue.sync {
            #expect(
                coordinator.endTransaction(transactionalId: "slow", producerId: producerId, epoch: epoch, commit: true)
                    .failureValue == .fenced)
            // KIP-360: the producer the broker bumped past may resume with its id and old epoch.
            let resumed = coordinator.initProducerId(
                transactionalId: "slow", timeoutMs: 1000, producerId: producerId, producerEpoch: epoch)
            #expect((try? resumed.get())?.epoch == epoch + 2)
        }
        broker.shutdown()
    }

    @Test func timeoutsAboveTheMaximumAreRefused() throws {
        let directory = NSTemporaryDirectory() + "skein-txn-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = try openBroker(directory, settings: ["transaction.max.timeout.ms": "5000"])
        let coordinator = broker.transactions
        coordinator.queue.sync {
            let refused = coordinator.initProducerId(
                transactionalId: "x", timeoutMs: 5001, producerId: -1, producerEpoch: -1)
            #expect(refused.failureValue == .invalidTransactionTimeout && coordinator.metadata("x") == nil)
        }
        broker.shutdown()
    }
}

extension Result {
    fileprivate var failureValue: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
