import SkeinCompression

/// Producer settings, named and defaulted after Kafka's producer configs where one exists.
public struct ProducerConfiguration: Sendable {
    /// How many replicas must have the batch before the broker answers (`acks`).
    public enum Acks: Int16, Sendable {
        /// Fire and forget: the broker sends no answer and offsets are unknown (-1).
        case none = 0
        case leader = 1
        case all = -1
    }

    public var acks: Acks = .all
    /// How long a partial batch waits for more records (`linger.ms`); trades latency for fewer,
    /// larger requests.
    public var linger: Duration = .milliseconds(5)
    /// Uncompressed bytes at which a batch is sent without waiting for `linger` (`batch.size`).
    public var batchSize: Int = 16_384
    public var compression: CompressionCodec = .none
    /// nil for the codec's Kafka default.
    public var compressionLevel: Int? = nil
    /// Attempts after the first for a batch that failed with a retriable error (`retries`).
    public var retries: Int = 10
    /// Wait between attempts (`retry.backoff.ms`), doubled per attempt up to `retryBackoffMax`.
    public var retryBackoff: Duration = .milliseconds(100)
    public var retryBackoffMax: Duration = .seconds(1)
    /// Exactly-once per partition within a producer session: the broker drops retried duplicates
    /// by sequence number (`enable.idempotence`). Needs acks=all and at most 5 batches in flight.
    public var enableIdempotence: Bool = true
    /// Batches per partition sent before the first is answered
    /// (`max.in.flight.requests.per.connection`, applied per partition here).
    public var maxInFlightPerPartition: Int = 5
    /// The broker-side wait for acks (`request.timeout.ms` as sent in Produce).
    public var brokerTimeoutMs: Int32 = 30_000
    public var clientId: String = "skein-producer"
    /// Unacknowledged bytes at which `enqueue` waits (`buffer.memory`).
    public var bufferMemory: Int = 32 * 1024 * 1024
    /// Makes the producer transactional (`transactional.id`): its writes become visible to
    /// read_committed consumers only when `commitTransaction` succeeds, and a new producer with the
    /// same id fences this one. nil (the default) for a plain idempotent producer. Needs idempotence.
    public var transactionalId: String? = nil
    /// How long the coordinator lets a transaction stay open before aborting it
    /// (`transaction.timeout.ms`); the broker caps it with `transaction.max.timeout.ms`.
    public var transactionTimeoutMs: Int32 = 60_000
    /// How long `initTransactions`, `commitTransaction`, `abortTransaction` and
    /// `sendOffsetsToTransaction` keep retrying while the coordinator is busy or loading
    /// (CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR) before failing
    /// (`max.block.ms`).
    public var maxBlock: Duration = .seconds(60)

    public init() {}

    func validate() throws(KafkaClientError) {
        guard batchSize > 0 else { throw .invalidConfiguration("batchSize must be positive") }
        guard maxInFlightPerPartition >= 1 else { throw .invalidConfiguration("maxInFlightPerPartition must be ≥ 1") }
        guard retries >= 0 else { throw .invalidConfiguration("retries must not be negative") }
        if let compressionLevel, !compression.accepts(level: compressionLevel) {
            throw .invalidConfiguration("\(compression) does not accept level \(compressionLevel)")
        }
        if let transactionalId {
            guard !transactionalId.isEmpty else { throw .invalidConfiguration("transactional.id must not be empty") }
            guard enableIdempotence else { throw .invalidConfiguration("transactional.id requires idempotence") }
            guard transactionTimeoutMs > 0 else {
                throw .invalidConfiguration("transaction.timeout.ms must be positive")
            }
        }
        if enableIdempotence {
            guard acks == .all else { throw .invalidConfiguration("idempotence requires acks=all") }
            guard maxInFlightPerPartition <= 5 else {
                throw .invalidConfiguration("idempotence allows at most 5 batches in flight per partition")
            }
        }
    }
}

/// Where a record ended up.
public struct RecordMetadata: Sendable, Equatable {
    public var topicPartition: TopicPartition
    /// -1 with acks=0, when the broker does not say.
    public var offset: Int64

    public init(topicPartition: TopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }

    public var partition: Int32 { topicPartition.partition }
}

/// One header of a produced or consumed record.
public struct RecordHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// A record to produce.
public struct ProducerRecord: Sendable {
    public var topic: String
    /// nil lets the producer choose: by murmur2 of the key when there is one, else a partition
    /// that keyless records share until its batch is sent (sticky).
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// Milliseconds since the epoch; nil for the time of `send`.
    public var timestamp: Int64?

    public init(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = [],
        timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}
