import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinClient

/// read_committed filtering on hand-built batches: which records a consumer delivers given a
/// Fetch answer's aborted-transaction list, following Kafka's consumer algorithm.
@Suite("read_committed filtering")
struct ReadCommittedTests {
    /// A data batch of `count` records starting at `offset`.
    static func data(at offset: Int64, count: Int = 1, producer: Int64, transactional: Bool = true) throws
        -> RecordBatch
    {
        let records = (0..<count).map {
            Record(offsetDelta: Int32($0), value: ByteBuffer(string: "v\(offset + Int64($0))"))
        }
        var bytes = try RecordBatch.encode(
            records: records, baseOffset: offset, baseTimestamp: 1_000, isTransactional: transactional,
            producerId: producer, producerEpoch: producer >= 0 ? 0 : -1, baseSequence: producer >= 0 ? 0 : -1)
        return try #require(try RecordBatch.read(from: &bytes))
    }

    /// A COMMIT or ABORT marker: a control batch whose one record's key is (version 0, type).
    static func marker(at offset: Int64, producer: Int64, commit: Bool) throws -> RecordBatch {
        var key = ByteBuffer()
        key.writeInteger(Int16(0))
        key.writeInteger(Int16(commit ? 1 : 0))
        var value = ByteBuffer()
        value.writeInteger(Int16(0))
        value.writeInteger(Int32(0))
        let payload = try Record.encodeAll([Record(offsetDelta: 0, key: key, value: value)])
        let header = RecordBatchHeader(
            baseOffset: offset, attributes: RecordBatchHeader.transactionalFlag | RecordBatchHeader.controlFlag,
            baseTimestamp: 1_000, maxTimestamp: 1_000, producerId: producer, producerEpoch: 0, recordsCount: 1)
        var bytes = try RecordBatch.encode(header: header, recordsPayload: payload)
        return try #require(try RecordBatch.read(from: &bytes))
    }

    /// The first offsets of the batches the filter lets through, feeding them all in order.
    static func delivered(_ batches: [RecordBatch], aborted: [(producer: Int64, first: Int64)]?) -> [Int64] {
        var filter = AbortedTransactionFilter(
            abortedTransactions: aborted?.map { .init(producerId: $0.producer, firstOffset: $0.first) })
        return batches.filter { filter.shouldDeliver($0) }.map(\.header.baseOffset)
    }

    @Test func interleavedProducersDropOnlyTheAbortedTransaction() throws {
        // Producer 1 aborts 0–1; producer 2 commits 2–3 in between; a plain batch; producer 1 then
        // commits a new transaction at 7.
        let batches = [
            try Self.data(at: 0, count: 2, producer: 1),
            try Self.data(at: 2, count: 2, producer: 2),
            try Self.marker(at: 4, producer: 1, commit: false),
            try Self.marker(at: 5, producer: 2, commit: true),
            try Self.data(at: 6, producer: -1, transactional: false),
            try Self.data(at: 7, producer: 1),
            try Self.marker(at: 8, producer: 1, commit: true),
        ]
        #expect(Self.delivered(batches, aborted: [(1, 0)]) == [2, 6, 7])
    }

    @Test func abortedTransactionStartedBeforeTheFetchedRange() throws {
        // The transaction began at 3, before this answer's first batch; its marker is at 11.
        let batches = [
            try Self.data(at: 10, producer: 5),
            try Self.marker(at: 11, producer: 5, commit: false),
            try Self.data(at: 12, producer: 6),
        ]
        #expect(Self.delivered(batches, aborted: [(5, 3)]) == [12])
    }

    @Test func oneProducerAbortingTwiceThenCommitting() throws {
        let batches = [
            try Self.data(at: 0, producer: 1),
            try Self.marker(at: 1, producer: 1, commit: false),
            try Self.data(at: 2, producer: 1),
            try Self.marker(at: 3, producer: 1, commit: false),
            try Self.data(at: 4, producer: 1),
            try Self.marker(at: 5, producer: 1, commit: true),
        ]
        // Listed out of order on purpose: the filter must sort by first offset.
        #expect(Self.delivered(batches, aborted: [(1, 2), (1, 0)]) == [4])
    }

    @Test func abortListNamesOnlyTheTransactionsAborted() throws {
        // An aborted transaction of producer 1 that starts after a committed one of producer 1.
        let batches = [
            try Self.data(at: 0, producer: 1),
            try Self.marker(at: 1, producer: 1, commit: true),
            try Self.data(at: 2, producer: 1),
            try Self.marker(at: 3, producer: 1, commit: false),
        ]
        #expect(Self.delivered(batches, aborted: [(1, 2)]) == [0])
    }

    @Test func withoutAbortsEveryDataBatchAndNoMarkerIsDelivered() throws {
        let batches = [
            try Self.data(at: 0, count: 3, producer: 1),
            try Self.marker(at: 3, producer: 1, commit: true),
            try Self.data(at: 4, producer: -1, transactional: false),
        ]
        #expect(Self.delivered(batches, aborted: nil) == [0, 4])
        #expect(Self.delivered(batches, aborted: []) == [0, 4])
    }

    @Test func nonTransactionalBatchOfAnAbortedProducerIdIsKept() throws {
        // Only transactional batches can be aborted; an idempotent batch is always committed.
        let batches = [
            try Self.data(at: 0, producer: 1),
            try Self.data(at: 1, producer: 1, transactional: false),
            try Self.marker(at: 2, producer: 1, commit: false),
        ]
        #expect(Self.delivered(batches, aborted: [(1, 0)]) == [1])
    }

    @Test func markerTypeIsReadFromTheControlRecordKey() throws {
        #expect(AbortedTransactionFilter.marker(of: try Self.marker(at: 0, producer: 1, commit: true)) == .commit)
        #expect(AbortedTransactionFilter.marker(of: try Self.marker(at: 0, producer: 1, commit: false)) == .abort)
        #expect(AbortedTransactionFilter.marker(of: try Self.data(at: 0, producer: 1)) == nil)
    }

    @Test func isolationLevelUsesKafkasNamesAndDefaultsToReadCommitted() {
        #expect(IsolationLevel(kafkaName: "read_committed") == .readCommitted)
        #expect(IsolationLevel(kafkaName: "read_uncommitted") == .readUncommitted)
        #expect(IsolationLevel(kafkaName: "committed") == nil)
        #expect(IsolationLevel.readCommitted.rawValue == 1)
        #expect(ConsumerConfiguration().isolationLevel == .readCommitted)
    }
}

/// The transactional producer's state checks, which need no broker: misuse fails at once with a
/// clear error instead of reaching the coordinator.
@Suite("Transactional producer without a broker")
struct TransactionalProducerStateTests {
    static func configuration(transactionalId: String? = "tx-1") -> ProducerConfiguration {
        var configuration = ProducerConfiguration()
        configuration.transactionalId = transactionalId
        return configuration
    }

    @Test func transactionalIdNeedsIdempotenceAndAPositiveTimeout() {
        var noIdempotence = Self.configuration()
        noIdempotence.enableIdempotence = false
        noIdempotence.acks = .leader
        #expect(throws: KafkaClientError.self) {
            _ = try Producer(bootstrapServers: ["127.0.0.1:1"], configuration: noIdempotence)
        }
        var badTimeout = Self.configuration()
        badTimeout.transactionTimeoutMs = 0
        #expect(throws: KafkaClientError.self) {
            _ = try Producer(bootstrapServers: ["127.0.0.1:1"], configuration: badTimeout)
        }
        #expect(throws: KafkaClientError.self) {
            _ = try Producer(bootstrapServers: ["127.0.0.1:1"], configuration: Self.configuration(transactionalId: ""))
        }
        #expect(ProducerConfiguration().transactionalId == nil)
        #expect(ProducerConfiguration().transactionTimeoutMs == 60_000)
    }

    @Test func sendAndBeginBeforeInitTransactionsAreRefused() async throws {
        let producer = try Producer(bootstrapServers: ["127.0.0.1:1"], configuration: Self.configuration())
        await #expect(
            throws: KafkaClientError.invalidTransactionState("call initTransactions and beginTransaction first")
        ) {
            _ = try await producer.send(topic: "t", value: [1])
        }
        await #expect(throws: KafkaClientError.self) { try await producer.beginTransaction() }
        await #expect(throws: KafkaClientError.self) { try await producer.commitTransaction() }
        await #expect(throws: KafkaClientError.self) {
            try await producer.enqueue([ProducerRecord(topic: "t", value: [1])])
        }
        await producer.close()
    }

    @Test func transactionCallsOnANonTransactionalProducerAreRefused() async throws {
        let producer = try Producer(bootstrapServers: ["127.0.0.1:1"], configuration: ProducerConfiguration())
        await #expect(throws: KafkaClientError.invalidTransactionState("the producer has no transactional.id")) {
            try await producer.initTransactions()
        }
        await #expect(throws: KafkaClientError.self) { try await producer.abortTransaction() }
        await producer.close()
    }
}
