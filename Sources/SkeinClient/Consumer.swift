import Logging
import NIOCore
import SkeinCompression
import SkeinProtocol

/// Where to start or continue reading a partition.
public enum OffsetSpec: Sendable, Equatable {
    case offset(Int64)
    /// The log start offset: the oldest record still stored.
    case beginning
    /// The log end offset: only records produced from now on.
    case end
    /// The first record with a timestamp at or after this many milliseconds since the epoch (the
    /// end when there is none).
    case timestamp(Int64)
}

/// Consumer settings, named after Kafka's consumer configs where one exists.
public struct ConsumerConfiguration: Sendable {
    /// How long the broker may hold a Fetch open waiting for `minBytes` (`fetch.max.wait.ms`).
    public var maxWait: Duration = .milliseconds(500)
    public var minBytes: Int32 = 1
    public var maxBytes: Int32 = 50 * 1024 * 1024
    /// Per partition per Fetch (`max.partition.fetch.bytes`); a larger first batch still comes whole.
    public var partitionMaxBytes: Int32 = 1024 * 1024
    /// Where to go when the position is out of range (`auto.offset.reset`).
    public var offsetReset: OffsetSpec = .beginning
    /// Cap on one decompressed batch; the data comes from the network and a tiny compressed batch
    /// could otherwise expand to gigabytes.
    public var maxDecompressedBatchBytes: Int = 256 * 1024 * 1024
    public var clientId: String = "skein-consumer"
    /// `isolation.level`: read_committed (the default, as in Java and librdkafka) sees only
    /// committed transactions; read_uncommitted also sees open and aborted ones.
    public var isolationLevel: IsolationLevel = .readCommitted

    public init() {}
}

/// A record as read back.
public struct ConsumerRecord: Sendable, Equatable {
    public var topicPartition: TopicPartition
    public var offset: Int64
    public var timestamp: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RecordHeader]

    public var partition: Int32 { topicPartition.partition }

    public init(
        topicPartition: TopicPartition, offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8]?,
        headers: [RecordHeader]
    ) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// A consumer of explicitly assigned partitions: it reads from positions it is told (or resolves
/// through ListOffsets), decompresses batches, and can follow a log as it grows. It commits
/// nothing; consumer groups are a separate layer.
public actor Consumer {
    public let configuration: ConsumerConfiguration
    private let metadata: ClusterMetadata
    private let ownsMetadata: Bool
    private let logger: Logger
    /// The next offset to fetch, per assigned partition.
    private var positions: [TopicPartition: Int64] = [:]
    /// The log end offsets the last Fetch reported.
    public private(set) var highWatermarks: [TopicPartition: Int64] = [:]
    /// The last stable offsets the last Fetch reported: where read_committed reading stops while
    /// a transaction is open.
    public private(set) var lastStableOffsets: [TopicPartition: Int64] = [:]
    private var isClosed = false

    public init(
        bootstrapServers: [String], configuration: ConsumerConfiguration = ConsumerConfiguration(),
        logger: Logger = Logger(label: "skein-consumer"), security: ClientSecurity = .plaintext
    ) throws {
        self.configuration = configuration
        self.metadata = try ClusterMetadata(
            bootstrapServers: bootstrapServers, clientId: configuration.clientId, logger: logger, security: security)
        self.ownsMetadata = true
        self.logger = logger
    }

    public init(
        metadata: ClusterMetadata, configuration: ConsumerConfiguration = ConsumerConfiguration(),
        logger: Logger = Logger(label: "skein-consumer")
    ) {
        self.configuration = configuration
        self.metadata = metadata
        self.ownsMetadata = false
        self.logger = logger
    }

    /// Replaces the assignment, starting every partition at `start`.
    public func assign(_ partitions: [TopicPartition], from start: OffsetSpec = .beginning) async throws {
        positions = [:]
        let resolved = try await resolve(partitions, start)
        for partition in partitions { positions[partition] = resolved[partition] }
    }

    /// Every partition of `topic`, starting at `start`.
    public func assign(topic: String, from start: OffsetSpec = .beginning) async throws {
        let count = try await metadata.partitionCount(of: topic)
        try await assign((0..<count).map { TopicPartition(topic: topic, partition: Int32($0)) }, from: start)
    }

    public var assignment: [TopicPartition] {
        positions.keys.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    public func position(of partition: TopicPartition) -> Int64? { positions[partition] }

    /// Where this consumer has read all there is for its isolation level, as of the last Fetch:
    /// the last stable offset with read_committed, the high watermark otherwise. A reader whose
    /// position reached it has caught up.
    public func endOffset(of partition: TopicPartition) -> Int64? {
        if configuration.isolationLevel == .readCommitted, let stable = lastStableOffsets[partition] { return stable }
        return highWatermarks[partition]
    }

    /// Stops reading `partition` (it keeps no position).
    public func unassign(_ partition: TopicPartition) {
        positions[partition] = nil
    }

    public func seek(_ partition: TopicPartition, to spec: OffsetSpec) async throws {
        positions[partition] = try await resolve([partition], spec)[partition]
    }

    /// The offsets `spec` names for each partition, asking the leaders where needed.
    public func offsets(for partitions: [TopicPartition], _ spec: OffsetSpec) async throws -> [TopicPartition: Int64] {
        try await resolve(partitions, spec)
    }

    private func resolve(_ partitions: [TopicPartition], _ spec: OffsetSpec) async throws -> [TopicPartition: Int64] {
        try await metadata.listOffsets(partitions, spec, isolationLevel: configuration.isolationLevel)
    }

    private func groupByLeader(_ partitions: [TopicPartition]) async throws -> [Int32: [TopicPartition]] {
        var byLeader: [Int32: [TopicPartition]] = [:]
        for partition in partitions {
            byLeader[try await metadata.leaderId(for: partition), default: []].append(partition)
        }
        return byLeader
    }

    /// One Fetch round over every assigned partition: returns what is there, or waits up to
    /// `maxWait` for something to arrive. Positions move past what is returned.
    public func poll() async throws -> [ConsumerRecord] {
        guard !isClosed else { throw KafkaClientError.closed }
        guard !positions.isEmpty else { return [] }
        var pending: [(EventLoopFuture<FetchResponse>, Int16)] = []
        var retriable: KafkaClientError?
        for (leader, members) in try await groupByLeader(Array(positions.keys)) {
            do {
                let connection = try await metadata.connection(toNode: leader)
                let version = try connection.versions.version(of: .fetch, minimum: 4)
                let topics = Dictionary(grouping: members, by: \.topic).map { topic, members in
                    FetchRequest.Topic(
                        topic: topic,
                        partitions: members.map {
                            .init(
                                partition: $0.partition, fetchOffset: positions[$0] ?? 0,
                                partitionMaxBytes: configuration.partitionMaxBytes)
                        })
                }
                let waitMs = Int32(
                    clamping: configuration.maxWait.components.seconds * 1000
                        + configuration.maxWait.components.attoseconds / 1_000_000_000_000_000)
                let request = FetchRequest(
                    maxWaitMs: waitMs, minBytes: configuration.minBytes, maxBytes: configuration.maxBytes,
                    isolationLevel: configuration.isolationLevel.rawValue, topics: topics)
                let future = try connection.enqueue(
                    request, version: version,
                    timeout: KafkaConnection.defaultRequestTimeout + .milliseconds(Int64(waitMs)))
                pending.append((future, version))
            } catch let error as KafkaClientError where error.isRetriable {
                retriable = error
            }
        }
        var records: [ConsumerRecord] = []
        for (future, _) in pending {
            do {
                let response = try await future.get()
                records += try await consume(response)
            } catch let error as KafkaClientError where error.isRetriable {
                retriable = error
            }
        }
        if records.isEmpty, let retriable {
            logger.debug("fetch failed, will retry: \(retriable)")
            await metadata.refreshQuietly()
        }
        return records
    }

    /// Follows the assigned partitions: every record from the current positions on, then new
    /// ones as they are produced, until the stream's consumer stops iterating or the consumer is
    /// closed.
    public nonisolated func records() -> AsyncThrowingStream<ConsumerRecord, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    while !Task.isCancelled {
                        for record in try await self.poll() { continuation.yield(record) }
                    }
                    continuation.finish()
                } catch KafkaClientError.closed {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func consume(_ response: FetchResponse) async throws -> [ConsumerRecord] {
        var records: [ConsumerRecord] = []
        for topic in response.topics {
            for partition in topic.partitions {
                let key = TopicPartition(topic: topic.topic, partition: partition.partitionIndex)
                guard var position = positions[key] else { continue }
                if partition.errorCode == .noError {
                    highWatermarks[key] = partition.highWatermark
                    if partition.lastStableOffset >= 0 { lastStableOffsets[key] = partition.lastStableOffset }
                }
                switch partition.errorCode {
                case .noError:
                    break
                case .offsetOutOfRange:
                    logger.info("\(key) position \(position) out of range; resetting to \(configuration.offsetReset)")
                    positions[key] = try await resolve([key], configuration.offsetReset)[key]
                    continue
                case let code where code.isRetriable:
                    await metadata.invalidate(topic: key.topic)
                    continue
                case let code:
                    throw KafkaClientError.broker(code, context: "fetch \(key)")
                }
                guard case .bytes(var bytes) = partition.records else { continue }
                var filter =
                    configuration.isolationLevel == .readCommitted
                    ? AbortedTransactionFilter(abortedTransactions: partition.abortedTransactions) : nil
                while let batch = try RecordBatch.read(from: &bytes) {
                    let deliver = filter?.shouldDeliver(batch) ?? !batch.header.isControl
                    guard batch.header.lastOffset >= position else { continue }
                    if deliver {
                        for record in try decodeRecords(of: batch, partition: key)
                        where record.offset >= position {
                            records.append(record)
                        }
                    }
                    position = batch.header.lastOffset + 1
                }
                positions[key] = position
            }
        }
        return records
    }

    private func decodeRecords(of batch: RecordBatch, partition: TopicPartition) throws -> [ConsumerRecord] {
        try batch.verifyCRC()
        let header = batch.header
        guard let codec = header.compression else {
            throw KafkaClientError.unexpectedResponse(
                "batch at \(header.baseOffset) of \(partition) has an unknown codec")
        }
        var payload = batch.recordsPayload
        if codec != .none {
            let decompressed = try decompress(
                Array(payload.readableBytesView), codec: codec, maxOutputBytes: configuration.maxDecompressedBatchBytes)
            payload = ByteBuffer(bytes: decompressed)
        }
        let records = try payload.withUnsafeReadableBytes { bytes throws(ProtocolError) in
            try RecordPayloadReader.decode(bytes, count: Int(header.recordsCount))
        }
        let useLogAppendTime = header.timestampType == .logAppendTime
        return records.map { record in
            ConsumerRecord(
                topicPartition: partition, offset: header.baseOffset + Int64(record.offsetDelta),
                timestamp: useLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ record.timestampDelta,
                key: record.key, value: record.value,
                headers: record.headers.map { RecordHeader(key: $0.key, value: $0.value) })
        }
    }

    public func close() async {
        isClosed = true
        if ownsMetadata { await metadata.close() }
    }
}

extension ClusterMetadata {
    /// A refresh whose failure the caller will meet again on its next request anyway.
    func refreshQuietly() async {
        try? await refresh()
    }
}
