import SkeinProtocol

// The producer's bookkeeping types: records waiting in an accumulator, batches in flight, and the
// counters it reports. Kept apart from Producer.swift so the actor's file stays about behaviour.

public struct ProducerStatistics: Sendable, Equatable {
    /// Batches (one RecordBatch each) the broker accepted, or that were written with acks=0.
    public var batchesDelivered = 0
    public var recordsDelivered = 0
    public var recordsFailed = 0
    /// Batch attempts that failed with a retriable error and were sent again.
    public var retries = 0
}

struct ProducerIdentity: Sendable {
    var producerId: Int64
    var producerEpoch: Int16
}

struct PendingRecord: Sendable {
    var key: [UInt8]?
    var value: [UInt8]?
    var headers: [RecordHeader]
    var timestamp: Int64
    var completion: Completion
    /// `estimatedSize`, computed once.
    let size: Int

    init(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], timestamp: Int64, completion: Completion) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.completion = completion
        size =
            16 + (key?.count ?? 0) + (value?.count ?? 0)
            + headers.reduce(0) { $0 + 8 + $1.key.utf8.count + ($1.value?.count ?? 0) }
    }

    /// Who hears of the outcome: the caller of `send`, or nobody in particular (`enqueue`).
    enum Completion {
        case caller(CheckedContinuation<RecordMetadata, any Error>)
        case none
    }

    /// Close to the encoded size; decides when a batch is full and sizes its buffer.
    var estimatedSize: Int { size }
}

struct Accumulator {
    /// Either records or encoded runs, never both: whichever kind arrives second drains the batch first,
    /// so the partition's records keep the order they were sent in.
    var records: [PendingRecord] = []
    var encoded: [EncodedRecords] = []
    var encodedCount = 0
    var estimatedBytes = 0
    /// Records whose `send` caller waits for the outcome.
    var callerCount = 0
    /// Changes whenever the accumulator is drained, so a stale linger timer can tell.
    var generation: UInt64 = 0

    /// Empties the accumulator into a batch, starting a new generation.
    mutating func takeBatch(for topicPartition: TopicPartition) -> ProducerBatch {
        defer {
            records = []
            encoded = []
            encodedCount = 0
            estimatedBytes = 0
            callerCount = 0
            generation &+= 1
        }
        return ProducerBatch(
            topicPartition: topicPartition, records: records, encoded: encoded, estimatedBytes: estimatedBytes,
            callerCount: callerCount)
    }

    var isEmpty: Bool { records.isEmpty && encoded.isEmpty }
}

struct ProducerBatch: Sendable {
    private static let counter = BatchCounter()
    let id: UInt64
    let topicPartition: TopicPartition
    let records: [PendingRecord]
    let encoded: [EncodedRecords]
    /// Records in `records` and `encoded` together.
    let recordCount: Int
    let estimatedBytes: Int
    let callerCount: Int
    var baseSequence: Int32?
    var attempts = 0

    init(
        topicPartition: TopicPartition, records: [PendingRecord], encoded: [EncodedRecords] = [], estimatedBytes: Int,
        callerCount: Int
    ) {
        self.id = Self.counter.next()
        self.topicPartition = topicPartition
        self.records = records
        self.encoded = encoded
        self.recordCount = records.count + encoded.reduce(0) { $0 + $1.count }
        self.estimatedBytes = estimatedBytes
        self.callerCount = callerCount
    }
}

struct PartitionSender {
    var queue: [ProducerBatch] = []
    var isRunning = false
    var nextSequence: Int32 = 0
}
