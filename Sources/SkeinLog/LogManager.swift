import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Owns a data directory: one subdirectory per partition (`<topic>-<partition>`), a checkpoint of each
/// partition's recovery point and log start offset, and a clean-shutdown marker.
///
/// The marker is removed as soon as the directory is opened, so its presence at the next open proves the
/// previous process shut down cleanly; only then are segments trusted without a rescan.
public final class LogManager: @unchecked Sendable {
    public let directory: String
    public let recoveryReport: RecoveryReport
    let clock: any LogClock
    let decompressor: (any RecordDecompressor)?
    /// Bounds the segment files held open across every partition of the directory.
    public let descriptors: DescriptorCache
    private let lock = Lock()
    /// Checkpoint writers (the periodic timer, shutdown, callers) share one temporary file name and must
    /// not interleave; held across the snapshot and the write, so a later checkpoint is never overwritten by
    /// an earlier one.
    private let checkpointLock = Lock()
    private var logs: [TopicPartition: PartitionLog]
    /// Partitions whose directories `createLog` is making, outside the lock.
    private var creating: Set<TopicPartition> = []
    private var lockFileDescriptor: Int32
    private var timer: (any DispatchSourceTimer)?
    private var isShutDown = false
    let observerSlot = LogObserverSlot()

    static let cleanShutdownFileName = ".skein-clean-shutdown"
    static let checkpointFileName = "recovery-checkpoint"
    static let lockFileName = ".lock"
    /// Present once every stored batch has been walked record by record; holds the version of those checks.
    /// A directory without it (written before records were validated) gets one full rescan.
    static let recordsCheckedFileName = ".skein-records-checked"
    static let recordsCheckVersion = "1"
    static let deletedDirectorySuffix = "-delete"

    /// Opens (creating if needed) `directory`, recovering every partition in it. `config` gives each existing
    /// partition its settings; the broker keeps topic configs elsewhere. Fails if another process holds the
    /// directory for longer than `lockWaitMs`. `ownedEntries` names what others keep in the directory (the
    /// broker's metadata files), which is neither a partition nor worth a warning. Segment files are opened
    /// through `descriptors`, so any number of partitions opens within a fixed number of descriptors.
    ///
    /// With `records`, recovery also walks the records of every batch it rescans, and a directory whose batches
    /// were never walked (written by a version without the check, or `checkAll`) is rescanned whole once.
    public static func open(
        directory: String, clock: any LogClock = SystemClock(), decompressor: (any RecordDecompressor)? = nil,
        records: (any StoredRecordsValidator)? = nil, checkAll: Bool = false,
        lockWaitMs: Int = 2_000, descriptors: DescriptorCache = .shared, ownedEntries: Set<String> = [],
        config: (TopicPartition) -> LogConfig = { _ in LogConfig() }
    ) throws -> LogManager {
        try FileIO.makeDirectories(directory)
        let lockFD = try FileIO.open(directory + "/" + lockFileName, flags: O_RDWR | O_CREAT)
        // A previous owner may still be exiting (a restart), and a child forked by this process holds the
        // lock until it execs; so wait a little before concluding that another broker owns the directory.
        var waited = 0
        while flock(lockFD, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK, waited < lockWaitMs else {
                close(lockFD)
                throw LogError.io(
                    operation: "lock (is another broker using this directory?)", path: directory, errno: code)
            }
            usleep(20_000)
            waited += 20
        }
        do {
            var report = RecoveryReport()
            let markerPath = directory + "/" + cleanShutdownFileName
            report.cleanShutdown = FileIO.exists(markerPath)
            var checkpoints = readCheckpoint(directory: directory, report: &report)
            let recordsCheckedPath = directory + "/" + recordsCheckedFileName
            let fullCheck =
                records != nil
                && (checkAll
                    || (try? FileIO.readWholeFile(recordsCheckedPath)) != Array(recordsCheckVersion.utf8))
            if fullCheck {
                // Log start offsets stay; recovery points go, so every segment is rescanned.
                for key in checkpoints.keys { checkpoints[key]?.recoveryPoint = 0 }
            }
            if report.cleanShutdown {
                try FileIO.remove(markerPath)
                try FileIO.syncDirectory(directory)
            }
            var logs: [TopicPartition: PartitionLog] = [:]
            for name in try FileIO.listDirectory(directory).sorted() {
                let path = directory + "/" + name
                if name.hasPrefix(".") || name == checkpointFileName || name.hasSuffix(".tmp") { continue }
                if ownedEntries.contains(name) { continue }
                if name.hasSuffix(deletedDirectorySuffix) {
                    try FileIO.removeTree(path)
                    continue
                }
                guard FileIO.isDirectory(path), let topicPartition = TopicPartition(directoryName: name) else {
                    report.repaired("\(path): not a partition directory, ignored")
                    continue
                }
                logs[topicPartition] = try LogLoader.load(
                    directory: path, topicPartition: topicPartition, config: config(topicPartition),
                    checkpoint: checkpoints[topicPartition], cleanShutdown: report.cleanShutdown && !fullCheck,
                    clock: clock, decompressor: decompressor, records: records, descriptors: descriptors,
                    report: &report)
            }
            if fullCheck {
                report.checkedEveryRecord = true
                storageLogger.notice(
                    "checked every record of \(report.partitions) partitions (\(report.bytesRescanned) bytes)\(checkAll ? "" : ": the data directory predates record validation")"
                )
                try FileIO.writeAtomically(recordsCheckedPath, contents: recordsCheckVersion)
            }
            let manager = LogManager(
                directory: directory, logs: logs, report: report, clock: clock, decompressor: decompressor,
                descriptors: descriptors, lockFileDescriptor: lockFD)
            try manager.writeCheckpoint()
            return manager
        } catch {
            close(lockFD)
            throw error
        }
    }

    private init(
        directory: String, logs: [TopicPartition: PartitionLog], report: RecoveryReport, clock: any LogClock,
        decompressor: (any RecordDecompressor)?, descriptors: DescriptorCache, lockFileDescriptor: Int32
    ) {
        self.directory = directory
        self.descriptors = descriptors
        self.logs = logs
        self.recoveryReport = report
        self.clock = clock
        self.decompressor = decompressor
        self.lockFileDescriptor = lockFileDescriptor
        for log in logs.values { log.observerSlot = observerSlot }
    }

    deinit {
        timer?.cancel()
        if lockFileDescriptor >= 0 { close(lockFileDescriptor) }
    }

    // MARK: Partitions

    public func log(for topicPartition: TopicPartition) -> PartitionLog? {
        lock.withLock { logs[topicPartition] }
    }

    public var topicPartitions: [TopicPartition] {
        lock.withLock { logs.keys.sorted() }
    }

    public var allLogs: [PartitionLog] {
        lock.withLock { Array(logs.values) }
    }

    /// Creates an empty partition log; fails if it exists.
    @discardableResult
    public func createLog(_ topicPartition: TopicPartition, config: LogConfig) throws -> PartitionLog {
        try createLogs([topicPartition], config: config)[0]
    }

    /// Creates empty partition logs, all or none: on failure the directories made so far are removed. One
    /// fsync of the data directory covers them all, and none of the work holds the manager's lock, which every
    /// produce and fetch takes to find its log; a topic with thousands of partitions takes seconds to create.
    @discardableResult
    public func createLogs(_ topicPartitions: [TopicPartition], config: LogConfig) throws -> [PartitionLog] {
        try lock.withLock {
            guard !isShutDown else { throw LogError.logClosed(directory) }
            for topicPartition in topicPartitions {
                guard logs[topicPartition] == nil, !creating.contains(topicPartition) else {
                    throw LogError.logAlreadyExists(topicPartition.description)
                }
                guard TopicPartition.isValidTopicName(topicPartition.topic), topicPartition.partition >= 0 else {
                    throw LogError.invalidName(topicPartition.description)
                }
            }
            guard Set(topicPartitions).count == topicPartitions.count else {
                throw LogError.logAlreadyExists("a partition named twice")
            }
            creating.formUnion(topicPartitions)
        }
        var made: [String] = []
        do {
            var created: [PartitionLog] = []
            created.reserveCapacity(topicPartitions.count)
            for topicPartition in topicPartitions {
                let path = directory + "/" + topicPartition.directoryName
                try FileIO.makeDirectory(path)
                made.append(path)
                var report = RecoveryReport()
                let log = try LogLoader.load(
                    directory: path, topicPartition: topicPartition, config: config, checkpoint: nil,
                    cleanShutdown: false, clock: clock, decompressor: decompressor, descriptors: descriptors,
                    report: &report)
                log.observerSlot = observerSlot
                created.append(log)
            }
            try FileIO.syncDirectory(directory)
            try lock.withLock {
                creating.subtract(topicPartitions)
                guard !isShutDown else { throw LogError.logClosed(directory) }
                for log in created { logs[log.topicPartition] = log }
            }
            return created
        } catch {
            lock.withLock { creating.subtract(topicPartitions) }
            for path in made { try? FileIO.removeTree(path) }
            throw error
        }
    }

    public func getOrCreateLog(_ topicPartition: TopicPartition, config: LogConfig) throws -> PartitionLog {
        if let existing = log(for: topicPartition) { return existing }
        do {
            return try createLog(topicPartition, config: config)
        } catch LogError.logAlreadyExists(let name) {
            // Another caller may still be creating it; it is theirs to finish.
            guard let existing = log(for: topicPartition) else { throw LogError.logAlreadyExists(name) }
            return existing
        }
    }

    /// Removes a partition. Its directory is renamed at once (so a restart never resurrects it) and deleted in
    /// the background; readers that still hold its files finish undisturbed.
    public func deleteLog(_ topicPartition: TopicPartition) throws {
        let removed: PartitionLog? = lock.withLock { logs.removeValue(forKey: topicPartition) }
        guard let removed else { return }
        removed.markClosed()
        let doomed = removed.directory + "." + String(clock.milliseconds()) + LogManager.deletedDirectorySuffix
        try FileIO.rename(removed.directory, doomed)
        try FileIO.syncDirectory(directory)
        DispatchQueue.global(qos: .utility).async {
            do { try FileIO.removeTree(doomed) } catch { storageLogger.error("deleting \(doomed): \(error)") }
        }
    }

    // MARK: Checkpoint

    /// Records each partition's recovery point (everything below it is on disk) and log start offset.
    public func writeCheckpoint() throws {
        try checkpointLock.withLock {
            let snapshot = lock.withLock { logs.sorted { $0.key < $1.key } }
            for (topicPartition, log) in snapshot {
                do { try log.writeTransactionSnapshot() } catch {
                    storageLogger.error("\(topicPartition): writing the transaction snapshot failed: \(error)")
                }
            }
            var text = "skein-checkpoint 1\n\(snapshot.count)\n"
            for (topicPartition, log) in snapshot {
                text +=
                    "\(topicPartition.topic) \(topicPartition.partition) \(log.recoveryPoint) \(log.logStartOffset)\n"
            }
            try FileIO.writeAtomically(directory + "/" + LogManager.checkpointFileName, contents: text)
        }
    }

    static func readCheckpoint(directory: String, report: inout RecoveryReport) -> [TopicPartition: CheckpointEntry] {
        let path = directory + "/" + checkpointFileName
        guard FileIO.exists(path) else { return [:] }
        guard let bytes = try? FileIO.readWholeFile(path) else {
            report.repaired("\(path): unreadable, every partition will be rescanned")
            return [:]
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        guard lines.first == "skein-checkpoint 1", lines.count >= 2, let count = Int(lines[1]), lines.count == count + 2
        else {
            report.repaired("\(path): malformed, every partition will be rescanned")
            return [:]
        }
        var entries: [TopicPartition: CheckpointEntry] = [:]
        for line in lines.dropFirst(2) {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let partition = Int32(fields[1]), let recoveryPoint = Int64(fields[2]),
                let logStart = Int64(fields[3])
            else {
                report.repaired("\(path): malformed, every partition will be rescanned")
                return [:]
            }
            entries[TopicPartition(String(fields[0]), partition)] = CheckpointEntry(
                recoveryPoint: recoveryPoint, logStartOffset: logStart)
        }
        return entries
    }

    // MARK: Background work

    /// Deletes expired segments in every partition; returns what each deleted.
    @discardableResult
    public func runRetention() -> [TopicPartition: PartitionLog.RetentionOutcome] {
        var outcomes: [TopicPartition: PartitionLog.RetentionOutcome] = [:]
        for log in allLogs {
            do {
                let outcome = try log.applyRetention()
                if outcome.deletedSegments > 0 {
                    outcomes[log.topicPartition] = outcome
                    observerSlot.observer?.logDidDeleteSegments(
                        log.topicPartition, segments: outcome.deletedSegments, bytes: outcome.deletedBytes)
                    storageLogger.info(
                        "retention deleted \(outcome.deletedSegments) segments (\(outcome.deletedBytes) bytes) of \(log.topicPartition); log start offset now \(log.logStartOffset)"
                    )
                }
            } catch {
                storageLogger.error("retention of \(log.topicPartition) failed: \(error)")
            }
        }
        return outcomes
    }

    /// Flushes every partition whose unflushed data is older than its `flush.ms`.
    public func flushExpiredPartitions() {
        let now = clock.milliseconds()
        for log in allLogs where log.needsTimedFlush(now: now) {
            log.flush(upTo: log.logEndOffset) { result in
                if case .failure(let error) = result {
                    storageLogger.error("flush of \(log.topicPartition) failed: \(error)")
                }
            }
        }
    }

    /// Runs retention, timed flushes and checkpoints on a timer until `shutdown`.
    public func startBackgroundTasks(
        retentionCheckIntervalMs: Int64 = 300_000, flushCheckIntervalMs: Int64 = 1_000,
        checkpointIntervalMs: Int64 = 60_000
    ) {
        let queue = DispatchQueue(label: "skein.log.background")
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let tick = max(1, min(retentionCheckIntervalMs, flushCheckIntervalMs, checkpointIntervalMs))
        let start = clock.milliseconds()
        let lastRun = LastRun(retention: start, checkpoint: start)
        timer.schedule(deadline: .now() + .milliseconds(Int(tick)), repeating: .milliseconds(Int(tick)))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            let now = self.clock.milliseconds()
            self.flushExpiredPartitions()
            if now - lastRun.retention >= retentionCheckIntervalMs {
                lastRun.retention = now
                self.runRetention()
            }
            if now - lastRun.checkpoint >= checkpointIntervalMs {
                lastRun.checkpoint = now
                do { try self.writeCheckpoint() } catch { storageLogger.error("checkpoint failed: \(error)") }
            }
        }
        lock.withLock { self.timer = timer }
        timer.resume()
    }

    /// Flushes every partition, writes the checkpoint, then the clean-shutdown marker, so the next open skips
    /// the rescan.
    public func shutdown() throws {
        let (timer, logs): ((any DispatchSourceTimer)?, [PartitionLog]) = lock.withLock {
            guard !isShutDown else { return (nil, []) }
            isShutDown = true
            return (self.timer, Array(self.logs.values))
        }
        timer?.cancel()
        for log in logs { try log.close() }
        try writeCheckpoint()
        try FileIO.writeAtomically(directory + "/" + LogManager.cleanShutdownFileName, contents: "")
        if lockFileDescriptor >= 0 {
            close(lockFileDescriptor)
            lockFileDescriptor = -1
        }
    }
}

/// Timer bookkeeping, touched only on the timer's serial queue.
private final class LastRun: @unchecked Sendable {
    var retention: Int64
    var checkpoint: Int64
    init(retention: Int64, checkpoint: Int64) {
        self.retention = retention
        self.checkpoint = checkpoint
    }
}
