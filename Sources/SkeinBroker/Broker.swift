import Foundation
import Logging
import SkeinLog
import SkeinMetrics
import SkeinProtocol
import SkeinSASL

/// The broker's state shared by every connection: storage, topic metadata, producer state and the fetch
/// requests waiting for data. Request handlers live in `Handlers/`, one file per Kafka API.
public final class Broker: @unchecked Sendable {
    public let config: BrokerConfig
    public let logs: LogManager
    public let topics: TopicRegistry
    let producers: ProducerStateManager
    let groups: GroupCoordinator
    let transactions: TransactionCoordinator
    let purgatory = FetchPurgatory()
    let recompressor: Recompressor
    public let logger: Logger
    /// Every warning a client can trigger at will (refused requests and batches, bad frames, refused
    /// connections) goes through this, so a client retrying in a loop cannot fill the journal.
    public let clientWarnings: LogRateLimiter
    /// Counters of the data path and the scrape-time view of storage and groups (`/metrics`).
    public let metrics = BrokerMetrics()
    /// ACLs and the decisions every handler asks for before acting (README "Authorization (ACLs)").
    public let authorizer: Authorizer
    /// SASL mechanisms, the SCRAM credential store and the failed-login delay (issue #15).
    public let sasl: SASLAuthenticator
    /// Client quotas (`client-quotas.json`) and the produce and fetch rates measured against them.
    public let quotas: QuotaEnforcer
    let topicLock = NSLock()
    /// Topics whose partitions are being created, with their partition counts, and topics being grown by
    /// CreatePartitions, with the partitions being added (under `topicLock`): they count against
    /// `max.partitions` and hold their name until they are registered or rolled back.
    var pendingTopics: [String: Int32] = [:]
    /// Runs topic creation off the event loops: a CreateTopics may create thousands of directories.
    let adminQueue = DispatchQueue(label: "skein.admin")
    private var snapshotTimer: (any DispatchSourceTimer)?
    private var groupTimeoutTimer: (any DispatchSourceTimer)?
    private let portLock = NSLock()
    private var boundPorts: [String: Int] = [:]

    /// The first listener's port clients are told to connect to: the one actually bound (a listener on
    /// port 0 gets one from the kernel), else the configured one.
    public var advertisedPort: Int {
        get { advertisedAddress(listener: config.listeners.first?.name ?? "PLAINTEXT").port }
        set { setBoundPort(newValue, listener: config.listeners.first?.name ?? "PLAINTEXT") }
    }

    public func setBoundPort(_ port: Int, listener: String) {
        portLock.withLock { boundPorts[listener] = port }
    }

    /// Where a client that came in on `listener` is told to connect (Metadata, FindCoordinator,
    /// DescribeCluster): that listener's advertised address, so a TLS client stays on TLS.
    public func advertisedAddress(listener: String) -> (host: String, port: Int) {
        let known = config.listeners.contains { $0.name == listener }
        let name = known ? listener : (config.listeners.first?.name ?? listener)
        let bound = portLock.withLock { boundPorts[name] }
        return config.advertisedAddress(listener: name, boundPort: bound)
    }

    /// Opens the data directory, recovering storage and producer state.
    public init(config: BrokerConfig, logger: Logger = Logger(label: "skeind")) throws {
        self.config = config
        self.logger = logger
        self.clientWarnings = LogRateLimiter(
            logger: logger, linesPerInterval: config.connectionLogLinesPerInterval,
            intervalMs: config.connectionLogIntervalMs)
        let directory = config.dataDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let registry = try TopicRegistry(dataDirectory: directory)
        self.authorizer = try Authorizer(
            config: config.authorizer, dataDirectory: directory, metrics: metrics.registry)
        self.sasl = try SASLAuthenticator(
            settings: config.sasl, dataDirectory: directory, registry: metrics.registry)
        let defaults = config.logDefaults
        self.recompressor = Recompressor()
        let descriptors = DescriptorCache(
            budget: config.logMaxOpenFiles > 0 ? config.logMaxOpenFiles : DescriptorCache.defaultBudget())
        self.logs = try LogManager.open(
            directory: directory, decompressor: recompressor, records: recompressor, descriptors: descriptors,
            ownedEntries: Self.ownedEntries
        ) { topicPartition in
            TopicConfig.logConfig(overrides: registry.topic(topicPartition.topic)?.configs ?? [:], defaults: defaults)
        }
        self.topics = registry
        self.producers = try ProducerStateManager(directory: directory)
        self.quotas = QuotaEnforcer(
            store: try ClientQuotaStore(dataDirectory: directory), window: config.quotaWindow,
            registry: metrics.registry)
        // Offsets live in their own hidden log directory: not a topic, never listed by Metadata.
        let offsetStore = try OffsetStore(directory: directory + "/.groups", clock: SystemClock(), logger: logger)
        self.groups = GroupCoordinator(config: config.groups, clock: SystemClock(), offsets: offsetStore)
        // The transaction coordinator's state lives in its own hidden log directory, like the offsets.
        let purgatory = self.purgatory
        transactions = try TransactionCoordinator(
            directory: directory + "/.transactions",
            dependencies: .init(
                logs: logs, producers: producers, offsets: offsetStore, wake: { purgatory.wake($0) }
            ), maxTimeoutMs: config.transactionMaxTimeoutMs, clock: SystemClock(), logger: logger)
        let report = logs.recoveryReport
        let state =
            report.partitions == 0
            ? "empty"
            : report.cleanShutdown
                ? "after a clean shutdown"
                : "recovered after an unclean shutdown: \(report.segmentsRescanned) segments rescanned, \(report.bytesTruncated) bytes truncated"
        let checked = report.checkedEveryRecord && report.partitions > 0 ? "; every stored record checked" : ""
        logger.info(
            "opened \(directory): \(report.partitions) partitions, \(report.segments) segments, \(state)\(checked)")
        logs.observer = metrics
        metrics.registry.register(
            CollectorFunction { [weak self] writer in self?.collectStateMetrics(into: &writer) })
        try reconcileTopicsWithLogs()
        reportDescriptorBudget()
        try producers.recover(logs: logs.allLogs)
        try transactions.queue.sync { try transactions.recover() }
        transactions.start(cleanupIntervalMs: config.transactionCleanupIntervalMs)
        logs.startBackgroundTasks(
            retentionCheckIntervalMs: config.retentionCheckIntervalMs,
            flushCheckIntervalMs: config.flushCheckIntervalMs,
            checkpointIntervalMs: config.checkpointIntervalMs)
        // Producer state snapshots bound how much log a restart replays to rebuild it.
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "skein.producer-state"))
        let interval = Int(max(1000, config.checkpointIntervalMs))
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval))
        timer.setEventHandler { [weak self] in self?.checkpointProducerState() }
        timer.resume()
        snapshotTimer = timer
        // Group timeouts are checked often so a dead member is noticed soon after its session ends.
        let groupTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "skein.groups"))
        groupTimer.schedule(deadline: .now() + .milliseconds(100), repeating: .milliseconds(100))
        groupTimer.setEventHandler { [weak self] in self?.groups.tick() }
        groupTimer.resume()
        groupTimeoutTimer = groupTimer
    }

    /// Every registered partition gets a log, and every partition directory a topic: either side can be
    /// missing after a crash between the two writes of a CreateTopics, or after an operator copied data in.
    private func reconcileTopicsWithLogs() throws {
        let partitionsOnDisk = Dictionary(grouping: logs.topicPartitions, by: \.topic)
        for (topic, partitions) in partitionsOnDisk where topics.topic(topic) == nil {
            let count = (partitions.map(\.partition).max() ?? 0) + 1
            logger.warning(
                "partition directories of \(topic) have no topic metadata; registering it with \(count) partitions")
            _ = try topics.add(
                TopicMetadata(name: topic, partitionCount: count, configs: [:], topicId: UUID(), createdAtMs: nowMs()))
        }
        for registered in topics.allTopics {
            var topic = registered
            var present = Set(partitionsOnDisk[topic.name]?.map(\.partition) ?? [])
            if present.contains(where: { $0 >= topic.partitionCount }) {
                topic = try finishUnregisteredGrowth(topic, present: &present)
            }
            if topic.partitionCount > config.maxPartitionsPerTopic && present.count < Int(topic.partitionCount) {
                topic = try shrinkUnfinishedTopic(topic, present: present)
            }
            for partition in 0..<topic.partitionCount {
                _ = try logs.getOrCreateLog(TopicPartition(topic.name, partition), config: logConfig(for: topic))
            }
        }
    }

    /// A topic registered with more partitions than `max.partitions.per.topic` whose directories are not all
    /// there was left by a CreateTopics without bounds (one asking for 100,000 partitions, say, that ran out of
    /// descriptors or was killed midway). Creating the rest at startup could take minutes or fill the disk,
    /// so the topic keeps the partitions that exist; it is removed if none does.
    private func shrinkUnfinishedTopic(_ topic: TopicMetadata, present: Set<Int32>) throws -> TopicMetadata {
        var kept: Int32 = 0
        while present.contains(kept) { kept += 1 }
        logger.warning(
            "topic \(topic.name) is registered with \(topic.partitionCount) partitions, more than max.partitions.per.topic=\(config.maxPartitionsPerTopic), and only \(present.count) exist: keeping partitions 0..<\(kept)"
        )
        guard kept > 0 else {
            try topics.remove(topic.name)
            for partition in present { try logs.deleteLog(TopicPartition(topic.name, partition)) }
            return TopicMetadata(
                name: topic.name, partitionCount: 0, configs: [:], topicId: topic.topicId, createdAtMs: 0)
        }
        for partition in present where partition >= kept {
            try logs.deleteLog(TopicPartition(topic.name, partition))
        }
        return try topics.replacePartitionCount(of: topic.name, with: kept) ?? topic
    }

    /// What the broker itself keeps in the data directory, beside the partition directories.
    static let ownedEntries: Set<String> = [
        TopicRegistry.fileName, "producer-ids", "producer-state.json", ".groups", ".transactions",
        Authorizer.fileName,
        CredentialStore.fileName,
        ClientQuotaStore.fileName,
    ]

    /// Says, once at startup, whether the partitions fit in the descriptor budget; when they do not, the
    /// broker still serves them all, reopening idle segment files on demand.
    private func reportDescriptorBudget() {
        let partitions = logs.topicPartitions.count
        let budget = logs.descriptors.budget
        let limit = DescriptorCache.openFileLimit().map { $0 == Int.max ? "unlimited" : String($0) } ?? "unknown"
        // The active segment's .log, .index and .timeindex.
        let needed = partitions * 3
        if needed > budget {
            logger.warning(
                "\(partitions) partitions need ~\(needed) descriptors, log.max.open.files is \(budget) (open file limit \(limit)): idle segment files will be closed and reopened"
            )
        } else {
            logger.info(
                "\(partitions) partitions need ~\(needed) descriptors; log.max.open.files \(budget), open file limit \(limit)"
            )
        }
    }

    func logConfig(for topic: TopicMetadata) -> LogConfig {
        TopicConfig.logConfig(overrides: topic.configs, defaults: config.logDefaults)
    }

    /// The codec a topic stores batches in, or nil to keep what producers send.
    func storedCodec(for topic: TopicMetadata) -> CompressionChoice {
        CompressionChoice(configValue: topic.configs["compression.type"] ?? config.compressionType)
    }

    // MARK: Topics

    public enum TopicCreationError: Error, Equatable {
        case alreadyExists
        case invalidName(String)
        case invalidPartitions(String)
        case invalidReplicationFactor(String)
        case invalidConfig(String)
        /// A broker-wide bound (`max.partitions`, `max.partitions.per.request`) would be passed.
        case policyViolation(String)
        case storage(String)
    }

    /// Partitions the broker holds, counting topics being created. `topicLock` held.
    var partitionCountLocked: Int {
        topics.allTopics.reduce(0) { $0 + Int($1.partitionCount) } + pendingTopics.values.reduce(0) { $0 + Int($1) }
    }

    /// Partitions the broker holds, counting topics being created.
    public var partitionCount: Int { topicLock.withLock { partitionCountLocked } }

    /// Creates a topic and its partition logs. `validateOnly` checks everything and creates nothing.
    ///
    /// The partition directories are created without holding `topicLock`, so a large topic does not stall
    /// auto-creation, config changes or deletes meanwhile; the name and the partition count are reserved
    /// first. The topic is registered (and visible to Metadata) only once every partition exists; a failure
    /// removes what was created.
    @discardableResult
    public func createTopic(
        _ name: String, partitions requested: Int32, replicationFactor: Int16 = -1, configs: [String: String] = [:],
        validateOnly: Bool = false
    ) throws(TopicCreationError) -> TopicMetadata {
        guard TopicPartition.isValidTopicName(name) else {
            throw .invalidName("topic name \"\(name)\" must be 1-249 characters of [a-zA-Z0-9._-] and not . or ..")
        }
        let partitions = requested == -1 ? config.numPartitions : requested
        guard partitions > 0 else { throw .invalidPartitions("number of partitions must be positive") }
        guard partitions <= config.maxPartitionsPerTopic else {
            throw .invalidPartitions(
                "\(partitions) partitions exceed max.partitions.per.topic=\(config.maxPartitionsPerTopic)")
        }
        guard replicationFactor == -1 || replicationFactor == 1 else {
            throw .invalidReplicationFactor("replication factor \(replicationFactor) exceeds the 1 available broker")
        }
        for (key, value) in configs {
            do { try TopicConfig.validate(key, value) } catch { throw .invalidConfig(error.description) }
        }
        let metadata = TopicMetadata(
            name: name, partitionCount: partitions, configs: configs, topicId: UUID(), createdAtMs: nowMs())
        try reserve(metadata, validateOnly: validateOnly)
        if validateOnly { return metadata }
        let topicPartitions = (0..<partitions).map { TopicPartition(name, $0) }
        var created = false
        do {
            try logs.createLogs(topicPartitions, config: logConfig(for: metadata))
            created = true
            try topicLock.withLock {
                pendingTopics[name] = nil
                guard try topics.add(metadata) else { throw TopicCreationError.alreadyExists }
            }
        } catch {
            topicLock.withLock { pendingTopics[name] = nil }
            if created { for topicPartition in topicPartitions { try? logs.deleteLog(topicPartition) } }
            if let error = error as? TopicCreationError { throw error }
            logger.error("creating topic \(name) failed: \(error)")
            throw .storage("storage error: \(error)")
        }
        logger.info(
            "created topic \(name) with \(partitions) partitions\(configs.isEmpty ? "" : ", configs \(configs)")")
        return metadata
    }

    /// Checks the name is free and `max.partitions` leaves room, and unless `validateOnly` holds both for
    /// the creation that follows.
    private func reserve(_ metadata: TopicMetadata, validateOnly: Bool) throws(TopicCreationError) {
        topicLock.lock()
        defer { topicLock.unlock() }
        guard topics.topic(metadata.name) == nil, pendingTopics[metadata.name] == nil else { throw .alreadyExists }
        let held = partitionCountLocked
        guard held + Int(metadata.partitionCount) <= config.maxPartitions else {
            throw .policyViolation(
                "the broker holds \(held) partitions; \(metadata.partitionCount) more would exceed max.partitions=\(config.maxPartitions)"
            )
        }
        if !validateOnly { pendingTopics[metadata.name] = metadata.partitionCount }
    }

    /// The topic, creating it with the broker defaults when auto-creation is on and the name is valid.
    func topicCreatingIfAllowed(_ name: String, allowAutoCreate: Bool = true) -> TopicMetadata? {
        if let existing = topics.topic(name) { return existing }
        guard allowAutoCreate, config.autoCreateTopics, TopicPartition.isValidTopicName(name) else { return nil }
        do {
            return try createTopic(name, partitions: config.numPartitions, configs: autoCreatedTopicConfigs(name))
        } catch .alreadyExists {
            return topics.topic(name)
        } catch {
            logger.warning("auto-creating topic \(name) failed: \(error)")
            return nil
        }
    }

    /// The metrics topic is bounded by its own retention (and hourly segments, so retention can act) when
    /// agents create it by producing; every other topic starts with the broker defaults.
    func autoCreatedTopicConfigs(_ name: String) -> [String: String] {
        guard name == config.hostMetricsTopic else { return [:] }
        let segmentMs = config.hostMetricsRetentionMs > 0 ? min(3_600_000, config.hostMetricsRetentionMs) : 3_600_000
        return ["retention.ms": String(config.hostMetricsRetentionMs), "segment.ms": String(segmentMs)]
    }

    public func deleteTopic(_ name: String) throws {
        try topicLock.withLock {
            guard let removed = try topics.remove(name) else { return }
            for partition in 0..<removed.partitionCount {
                let topicPartition = TopicPartition(name, partition)
                try logs.deleteLog(topicPartition)
                producers.remove(topicPartition)
                purgatory.wake(topicPartition)
            }
            groups.offsets.deleteTopic(name)
            metrics.topicDeleted(name)
            logger.info("deleted topic \(name)")
        }
    }

    public enum TopicConfigChangeError: Error, Equatable {
        case unknownTopic(String)
        /// INVALID_REQUEST: the change itself is malformed (an operation a config does not support).
        case invalidRequest(String)
        /// INVALID_CONFIG: an unknown name or a bad value.
        case invalidConfig(String)
        case storage(String)
    }

    /// Changes a topic's config overrides: `change` computes the new overrides from the current ones, and
    /// the result is validated, saved in topics.json and applied to the running partition logs, so
    /// retention, rolls and size limits follow without a restart. `validateOnly` stops before saving.
    @discardableResult
    public func changeTopicConfigs(
        _ name: String, validateOnly: Bool,
        _ change: ([String: String]) throws(TopicConfigChangeError) -> [String: String]
    ) throws(TopicConfigChangeError) -> TopicMetadata {
        topicLock.lock()
        defer { topicLock.unlock() }
        guard let current = topics.topic(name) else { throw .unknownTopic("topic \(name) does not exist") }
        let overrides = try change(current.configs)
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            do { try TopicConfig.validate(key, value) } catch { throw .invalidConfig(error.description) }
        }
        if validateOnly {
            var preview = current
            preview.configs = overrides
            return preview
        }
        let updated: TopicMetadata
        do {
            guard let saved = try topics.replaceConfigs(of: name, with: overrides) else {
                throw TopicConfigChangeError.unknownTopic("topic \(name) does not exist")
            }
            updated = saved
        } catch let error as TopicConfigChangeError {
            throw error
        } catch {
            logger.error("saving configs of topic \(name) failed: \(error)")
            throw .storage("storage error: \(error)")
        }
        let logConfig = logConfig(for: updated)
        for partition in 0..<updated.partitionCount { log(name, partition)?.updateConfig(logConfig) }
        logger.info("topic \(name) configs now \(overrides.isEmpty ? "all defaults" : "\(overrides)")")
        return updated
    }

    func log(_ topic: String, _ partition: Int32) -> PartitionLog? {
        logs.log(for: TopicPartition(topic, partition))
    }

    // MARK: Consumer lag

    public struct PartitionLag: Equatable, Sendable {
        public var topicPartition: TopicPartition
        public var committedOffset: Int64
        public var logEndOffset: Int64
        /// Records the group has yet to consume: high watermark minus committed offset, never negative.
        public var lag: Int64
    }

    /// Lag of every partition `groupId` has committed offsets for (exported as kafka_consumergroup_lag).
    public func consumerLag(groupId: String) -> [PartitionLag] {
        groups.offsets.committed(groupId: groupId).compactMap { topicPartition, committed in
            guard let log = logs.log(for: topicPartition) else { return nil }
            let end = log.highWatermark
            return PartitionLag(
                topicPartition: topicPartition, committedOffset: committed.offset, logEndOffset: end,
                lag: max(0, end - max(committed.offset, log.logStartOffset)))
        }.sorted { $0.topicPartition < $1.topicPartition }
    }

    public var groupIds: [String] { groups.list().map(\.groupId) }

    // MARK: Lifecycle

    /// Flushes everything, saves producer state and marks the shutdown clean.
    public func shutdown() {
        snapshotTimer?.cancel()
        groupTimeoutTimer?.cancel()
        do {
            try transactions.shutdown()
            try groups.offsets.shutdown()
            try producers.writeSnapshot()
            try logs.shutdown()
            logger.info("storage closed cleanly")
        } catch {
            logger.error("clean shutdown failed: \(error); the next start will recover")
        }
    }

    /// Saves producer state alongside the storage checkpoint.
    func checkpointProducerState() {
        do { try producers.writeSnapshot() } catch { logger.error("producer state snapshot failed: \(error)") }
    }
}

func nowMs() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1000)
}
