import Logging
import SkeinClient

/// What to read of a topic: the shared core of `skein consume` and `skein logs`.
public struct ReadRequest: Sendable {
    public var topic: String
    /// nil for every partition.
    public var partitions: [Int32]?
    public var start: StartPosition = .beginning
    /// Start at the first record at or after this time (through the broker's time index); wins over `start`.
    public var since: Int64?
    /// Stop at the last record at or before this time.
    public var until: Int64?
    /// Keep reading new records instead of stopping at the end offsets seen at the start.
    public var follow = false
    /// Deliver each poll's records in timestamp order across partitions (for log views).
    public var orderByTime = false

    public init(topic: String) {
        self.topic = topic
    }
}

/// Counts for `--stats` and for tests that check where a read started.
public struct ReadSummary: Sendable {
    /// Records the broker returned that the reader looked at (before filters).
    public var recordsScanned = 0
    public var startOffsets: [Int32: Int64] = [:]
    public var stopOffsets: [Int32: Int64] = [:]
}

/// Reads assigned partitions from a start position to the end offsets of the moment it started
/// (or forever with `follow`), handing each record to a callback that may stop the read.
public struct RecordReader {
    let bootstrap: [String]
    let logger: Logger

    let security: ClientSecurity

    public init(bootstrap: [String], logger: Logger, security: ClientSecurity = .plaintext) {
        self.security = security
        self.bootstrap = bootstrap
        self.logger = logger
    }

    public func read(
        _ request: ReadRequest, configuration: ConsumerConfiguration = ConsumerConfiguration(),
        onRecords: ([ConsumerRecord]) throws -> Bool
    ) async throws -> ReadSummary {
        if request.follow, request.until != nil {
            throw ToolError.usage("--follow and --until cannot be combined")
        }
        let metadata = try ClusterMetadata(
            bootstrapServers: bootstrap, clientId: configuration.clientId, allowAutoTopicCreation: false,
            logger: logger,
            security: security)
        let admin = AdminClient(metadata: metadata, logger: logger)
        let consumer = Consumer(metadata: metadata, configuration: configuration, logger: logger)
        do {
            let summary = try await read(request, admin: admin, consumer: consumer, onRecords: onRecords)
            await consumer.close()
            await metadata.close()
            return summary
        } catch {
            await consumer.close()
            await metadata.close()
            throw error
        }
    }

    private func read(
        _ request: ReadRequest, admin: AdminClient, consumer: Consumer, onRecords: ([ConsumerRecord]) throws -> Bool
    ) async throws -> ReadSummary {
        let all = try await admin.partitions(of: request.topic)
        var partitions = all
        if let chosen = request.partitions {
            for partition in chosen where !all.contains(where: { $0.partition == partition }) {
                throw KafkaClientError.unknownTopicOrPartition(topic: request.topic, partition: partition)
            }
            partitions = all.filter { chosen.contains($0.partition) }
        }
        let isolation = await consumer.configuration.isolationLevel
        let starts = try await startOffsets(request, partitions, admin, isolation)
        var stops: [TopicPartition: Int64] = [:]
        if !request.follow {
            // With read_committed the end is the last stable offset: records after it are not readable yet.
            stops = try await admin.offsets(partitions, .end, isolationLevel: isolation)
            if let until = request.until {
                let untilOffsets = try await admin.offsets(
                    partitions, .timestamp(until.addingReportingOverflow(1).partialValue), isolationLevel: isolation)
                stops.merge(untilOffsets) { min($0, $1) }
            }
        }
        var summary = ReadSummary()
        for partition in partitions {
            summary.startOffsets[partition.partition] = starts[partition]
            if let stop = stops[partition] { summary.stopOffsets[partition.partition] = stop }
        }
        var active = partitions.filter { partition in
            guard let stop = stops[partition] else { return true }
            return (starts[partition] ?? 0) < stop
        }
        try await consumer.assign(active, from: .offset(0))
        for partition in active { try await consumer.seek(partition, to: .offset(starts[partition] ?? 0)) }
        // For time order across partitions, records wait in `held` until every partition still being
        // read has fetched past their time: a busy partition's backlog arrives over several polls.
        var held: [ConsumerRecord] = []
        var newestFetched: [TopicPartition: Int64] = [:]
        var stopped = false
        while !active.isEmpty, !Task.isCancelled {
            var records = try await consumer.poll()
            if !stops.isEmpty {
                records.removeAll { record in record.offset >= stops[record.topicPartition] ?? .max }
            }
            summary.recordsScanned += records.count
            if !request.follow {
                var finished: [TopicPartition] = []
                for partition in active where (await consumer.position(of: partition) ?? 0) >= stops[partition] ?? .max
                {
                    finished.append(partition)
                }
                for partition in finished { await consumer.unassign(partition) }
                active.removeAll { finished.contains($0) }
            }
            if request.orderByTime {
                for record in records {
                    newestFetched[record.topicPartition] = max(
                        newestFetched[record.topicPartition] ?? .min, record.timestamp)
                }
                held += records
                held.sort { ($0.timestamp, $0.partition, $0.offset) < ($1.timestamp, $1.partition, $1.offset) }
                var bound = Int64.max
                for partition in active {
                    let position = await consumer.position(of: partition) ?? 0
                    let end = await consumer.endOffset(of: partition) ?? .max
                    if position < end { bound = min(bound, newestFetched[partition] ?? .min) }
                }
                let ready = held.prefix { $0.timestamp <= bound }.count
                records = Array(held[..<ready])
                held.removeFirst(ready)
            }
            if !records.isEmpty, try !onRecords(records) {
                stopped = true
                break
            }
        }
        if !stopped, !held.isEmpty, !Task.isCancelled { _ = try onRecords(held) }
        return summary
    }

    private func startOffsets(
        _ request: ReadRequest, _ partitions: [TopicPartition], _ admin: AdminClient, _ isolation: IsolationLevel
    ) async throws -> [TopicPartition: Int64] {
        if let since = request.since {
            return try await admin.offsets(partitions, .timestamp(since), isolationLevel: isolation)
        }
        switch request.start {
        case .beginning: return try await admin.offsets(partitions, .beginning)
        case .end: return try await admin.offsets(partitions, .end, isolationLevel: isolation)
        case .offset(let offset):
            let beginnings = try await admin.offsets(partitions, .beginning)
            let ends = try await admin.offsets(partitions, .end, isolationLevel: isolation)
            return Dictionary(
                uniqueKeysWithValues: partitions.map { partition in
                    (partition, min(max(offset, beginnings[partition] ?? 0), ends[partition] ?? offset))
                })
        case .fromEnd(let count):
            let beginnings = try await admin.offsets(partitions, .beginning)
            let ends = try await admin.offsets(partitions, .end, isolationLevel: isolation)
            return Dictionary(
                uniqueKeysWithValues: partitions.map { partition in
                    (partition, max((ends[partition] ?? 0) - count, beginnings[partition] ?? 0))
                })
        }
    }
}
