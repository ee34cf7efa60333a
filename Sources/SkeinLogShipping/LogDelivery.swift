import CMalloc
import Logging
import SkeinClient
import SkeinMetrics
import SkeinProtocol

/// Delivers every source's records in transactions, each batch all-or-nothing, with a checkpoint
/// record now and then; recovers the committed positions at start and after any failure.
///
/// The one rule that makes delivery exactly once: after anything goes wrong, nothing local is trusted.
/// The agent re-initialises its transactional producer (which fences whatever the failed one still had
/// in flight and resolves its open transaction), reads back what is committed, drops the queued records
/// that made it, and sends the rest again under the same sequence numbers. A restart does the same.
public actor LogDelivery {
    struct Book {
        var id: String
        var kind: String
        var topic: String
        var partition: Int32
        var sequence: UInt64 = 0
        var positions: [String: String] = [:]
        var committed: Counter
        var sequenceGauge: Gauge
        var buffered: Gauge
    }

    public enum Mode: Sendable, Equatable {
        case exactlyOnce, atLeastOnce
    }

    let settings: DeliverySettings
    let budget: MemoryBudget
    let metrics: DeliveryMetrics
    let logger: Logger
    private let cache: CheckpointCache
    private var books: [Book] = []
    private var queue = ItemQueue()
    private nonisolated let inbox = Inbox()
    private var queuedCost = 0
    private var producer: Producer?
    private var metadata: ClusterMetadata?
    public private(set) var mode: Mode = .exactlyOnce
    private var readCommitted = true
    private var warnedFallback = false
    private var lastCheckpoint: [String: ContinuousClock.Instant] = [:]
    private var dirtyTopics: Set<String> = []
    private var checkpointOffsets: [String: Int64] = [:]
    private var finishDeadline: ContinuousClock.Instant?
    private var consecutiveFailures = 0
    private var committedSinceTrim = false
    private var parked: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
    /// When the delivery attempt under way began; nil between attempts.
    private var attemptBegan: ContinuousClock.Instant?
    private var nextParkId: UInt64 = 0

    public init(settings: DeliverySettings, budget: MemoryBudget, registry: MetricsRegistry, logger: Logger) {
        self.settings = settings
        self.budget = budget
        self.metrics = DeliveryMetrics(registry: registry, budget: budget)
        self.logger = logger
        self.cache = CheckpointCache(
            path: settings.stateDirectory.map { $0 + "/checkpoints.json" }, agentId: settings.transactionalId,
            logger: logger)
    }

    // MARK: Start

    /// Connects (retrying until the broker answers or the task is cancelled), fences the previous
    /// incarnation, and recovers every source's committed state. Returns one channel per source.
    public func start(sources: [(id: String, kind: String, topic: String)]) async throws -> [(
        SourceChannel, SourceState
    )] {
        checkpointOffsets = cache.load()
        var attempt = 0
        while true {
            try Task.checkCancellation()
            do {
                try await establish()
                var partitions: [String: Int32] = [:]
                for topic in Set(sources.map(\.topic)) {
                    let count = try await metadata!.partitionCount(of: topic)
                    partitions[topic] = Murmur2Partitioner.partition(
                        forKey: Array(settings.hostName.utf8), partitionCount: count)
                }
                books = sources.map { source in
                    Book(
                        id: source.id, kind: source.kind, topic: source.topic, partition: partitions[source.topic]!,
                        committed: metrics.recordsCommitted.labels(source.id),
                        sequenceGauge: metrics.sequence.labels(source.id),
                        buffered: metrics.bufferedBytes.labels(source.id))
                }
                let states = try await recoverAll()
                var result: [(SourceChannel, SourceState)] = []
                for (index, book) in books.enumerated() {
                    let state = states[book.id] ?? SourceState()
                    books[index].sequence = state.sequence
                    books[index].positions = state.positions
                    books[index].sequenceGauge.set(Int(clamping: state.sequence))
                    let channel = SourceChannel(
                        index: index, sourceId: book.id, kind: book.kind, topic: book.topic, partition: book.partition,
                        sequence: state.sequence, settings: settings, delivery: self, budget: budget,
                        metrics: metrics)
                    result.append((channel, state))
                    logger.info(
                        "source \(book.id): resuming",
                        metadata: [
                            "topic": "\(book.topic)", "partition": "\(book.partition)",
                            "sequence": "\(state.sequence)", "streams": "\(state.positions.count)",
                            "found": "\(state.found)",
                        ])
                }
                consecutiveFailures = 0
                return result
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                attempt += 1
                if attempt == 1 || attempt % 20 == 0 {
                    logger.warning(
                        "cannot reach the broker to recover source positions; retrying",
                        metadata: ["error": "\(error)", "attempts": "\(attempt)"])
                }
                discardProducer()
                try await Task.sleep(for: backoff(attempt))
            }
        }
    }

    /// Reads each topic's partition back, in the mode that matches how it was written.
    private func recoverAll() async throws -> [String: SourceState] {
        guard let metadata else { throw KafkaClientError.closed }
        let recovery = TailRecovery(
            metadata: metadata, agentId: settings.transactionalId, hostKey: Array(settings.hostName.utf8),
            isolation: mode == .exactlyOnce || readCommitted ? .readCommitted : .readUncommitted, logger: logger)
        var states: [String: SourceState] = [:]
        var seen: Set<String> = []
        for book in books where seen.insert(book.topic).inserted {
            let key = CheckpointCache.key(topic: book.topic, partition: book.partition)
            let outcome = try await recovery.recover(
                topic: book.topic, partition: book.partition, hint: checkpointOffsets[key])
            metrics.recoveryScanned.increment(by: outcome.scanned)
            if let offset = outcome.checkpointOffset { checkpointOffsets[key] = offset }
            logger.info(
                "recovered positions from the partition tail",
                metadata: [
                    "topic": "\(book.topic)", "partition": "\(book.partition)", "records_scanned": "\(outcome.scanned)",
                    "checkpoint_offset": "\(outcome.checkpointOffset.map(String.init) ?? "none")",
                    "end_offset": "\(outcome.endOffset)",
                ])
            for (id, state) in outcome.states where books.contains(where: { $0.id == id && $0.topic == book.topic }) {
                states[id] = state
            }
        }
        return states
    }

    /// A fresh connection and producer; with transactions, InitProducerId fences the previous producer
    /// of this transactional id and aborts (or completes) the transaction it left open.
    private func establish() async throws {
        discardProducer()
        let metadata = try ClusterMetadata(
            bootstrapServers: settings.bootstrapServers, clientId: settings.clientId, logger: logger,
            security: settings.security)
        self.metadata = metadata
        let connection = try await metadata.anyConnection()
        // Recovery reads read_committed wherever the broker has transactions, whatever the mode: records
        // of an aborted transaction (an earlier exactly-once run's) were never delivered.
        readCommitted = [ApiKey.initProducerId, .addPartitionsToTxn, .endTxn].allSatisfy {
            (try? connection.versions.version(of: $0)) != nil
        }
        var transactional = settings.exactlyOnce != .off
        if transactional {
            do {
                for api in [ApiKey.initProducerId, .addPartitionsToTxn, .endTxn] {
                    _ = try connection.versions.version(of: api)
                }
                _ = try connection.versions.version(of: .findCoordinator, minimum: 1)
            } catch {
                guard settings.exactlyOnce == .auto else {
                    logger.error(
                        "the broker has no transactions and [delivery] exactly_once = \"required\"; not delivering",
                        metadata: ["error": "\(error)"])
                    throw error
                }
                transactional = false
                if !warnedFallback {
                    warnedFallback = true
                    logger.warning(
                        "the broker does not support transactions: delivering at-least-once (a crash can duplicate the last batch)",
                        metadata: ["error": "\(error)"])
                }
            }
        }
        var configuration = ProducerConfiguration()
        configuration.acks = .all
        // A broker from before Kafka 0.11 has no producer ids at all: one request in flight keeps order.
        configuration.enableIdempotence = (try? connection.versions.version(of: .initProducerId)) != nil
        if !configuration.enableIdempotence { configuration.maxInFlightPerPartition = 1 }
        configuration.clientId = settings.clientId
        configuration.compression = settings.compression
        configuration.linger = .zero
        configuration.batchSize = 1 << 20
        configuration.bufferMemory = max(64 << 20, settings.batchMaxBytes * 4)
        configuration.transactionTimeoutMs = settings.transactionTimeoutMilliseconds
        configuration.transactionalId = transactional ? settings.transactionalId : nil
        let producer = try Producer(metadata: metadata, configuration: configuration, logger: logger)
        self.producer = producer
        if transactional {
            try await Self.within(settings.attemptTimeout, "InitProducerId") { try await producer.initTransactions() }
        }
        mode = transactional ? .exactlyOnce : .atLeastOnce
        metrics.exactlyOnce.set(transactional ? 1 : 0)
    }

    private func discardProducer() {
        let oldProducer = producer
        let oldMetadata = metadata
        producer = nil
        metadata = nil
        guard oldProducer != nil || oldMetadata != nil else { return }
        // Closing waits for what the old producer had in flight; that must not hold up delivery.
        Task {
            await oldProducer?.close()
            await oldMetadata?.close()
        }
    }

    // MARK: Queue

    /// How a source of `kind` writes its records (what its channel will use).
    public nonisolated func eventEncoding(kind: String) -> LogEventEncoding {
        LogEventEncoding(host: settings.hostName, sourceKind: kind, maxValueBytes: settings.maxRecordBytes)
    }

    /// Counts entries a source lost for good, by reason (`SourceSink.dropped`).
    nonisolated func countDropped(_ count: Int, source: String, reason: String) {
        metrics.dropped.labels(source, reason).increment(by: count)
    }

    /// Takes a channel's numbered runs, synchronously so that the channel can number and submit under one
    /// lock; the actor moves them into its queue (`absorbInbox`) before it next looks at the queue.
    nonisolated func submit(_ items: [Item]) {
        inbox.push(items)
        Task { await self.absorbInbox() }
    }

    private func absorbInbox() {
        let chunks = inbox.takeAll()
        guard !chunks.isEmpty else { return }
        for chunk in chunks {
            for index in chunk.indices { queuedCost += chunk[index].cost }
            queue.append(chunk)
        }
        wake()
    }

    /// Asks `run` to deliver what is queued until `deadline`, write a last checkpoint, and return.
    public func finish(deadline: ContinuousClock.Instant) {
        finishDeadline = deadline
        wake()
    }

    // MARK: Delivery loop

    public func run() async {
        while !Task.isCancelled {
            absorbInbox()
            let now = ContinuousClock.now
            if let finishDeadline, now >= finishDeadline { break }
            if producer == nil {
                do {
                    try await establish()
                    try await resynchronize()
                    consecutiveFailures = 0
                } catch {
                    await recoverFromFailure(error)
                }
                continue
            }
            let available = queue.count
            let due = dueCheckpoints(now: now)
            if available == 0 && due.isEmpty {
                if finishDeadline != nil { break }
                returnFreedMemory()
                await park(until: nextCheckpointTime())
                continue
            }
            if available > 0, finishDeadline == nil, queuedCost < settings.batchMaxBytes, due.isEmpty {
                let lingerEnd = queue.first!.readAt + settings.batchLinger
                if now < lingerEnd {
                    await park(until: lingerEnd)
                    continue
                }
            }
            attemptBegan = now
            do {
                try await deliver(checkpointTopics: due)
                attemptBegan = nil
                consecutiveFailures = 0
            } catch {
                attemptBegan = nil
                await recoverFromFailure(error)
            }
        }
        if let producer {
            self.producer = nil
            let metadata = self.metadata
            _ = try? await Self.within(.seconds(5), "closing the producer") {
                await producer.close()
                await metadata?.close()
            }
        }
    }

    /// Whether delivery is making progress, for the service watchdog: the actor answers (a wedged one does
    /// not), and no attempt has run past three times `attemptTimeout` (each step of an attempt is bounded by
    /// it, so one that is still not over is stuck). Waiting for the broker between attempts is progress.
    public func isProgressing() -> Bool {
        guard let attemptBegan else { return true }
        return ContinuousClock.now - attemptBegan <= settings.attemptTimeout * 3
    }

    /// Hands memory freed since the last burst back to the system once the queue is empty. glibc's malloc
    /// keeps it otherwise: after shipping a million lines an idle agent held 328 MiB of RSS with 38 MB in
    /// use, and malloc_trim brought it to 68 MiB.
    private func returnFreedMemory() {
        guard committedSinceTrim else { return }
        committedSinceTrim = false
        _ = malloc_trim(0)
    }

    private func dueCheckpoints(now: ContinuousClock.Instant) -> Set<String> {
        var due: Set<String> = []
        for book in books {
            guard let last = lastCheckpoint[book.topic] else {
                due.insert(book.topic)
                continue
            }
            let dirty = dirtyTopics.contains(book.topic)
            if dirty && (now - last >= settings.checkpointInterval || finishDeadline != nil)
                || now - last >= settings.checkpointMaxAge
            {
                due.insert(book.topic)
            }
        }
        return due
    }

    private func nextCheckpointTime() -> ContinuousClock.Instant? {
        var next: ContinuousClock.Instant?
        for book in books {
            guard let last = lastCheckpoint[book.topic] else { return .now }
            let at = last + (dirtyTopics.contains(book.topic) ? settings.checkpointInterval : settings.checkpointMaxAge)
            next = min(next ?? at, at)
        }
        return next
    }

    /// One transaction: `count` queued records, plus a checkpoint for each topic in `checkpointTopics`
    /// that describes the state once this transaction has committed.
    private func deliver(checkpointTopics: Set<String>) async throws {
        guard let producer else { throw KafkaClientError.closed }
        let (slices, count) = queue.batch(maxCost: settings.batchMaxBytes)
        var after = books
        // Consecutive runs for one partition go to the producer together.
        var runs: [(TopicPartition, [EncodedRecords])] = []
        var recordCount = 0
        for slice in slices {
            for index in slice.indices {
                let source = slice[index].source
                guard let records = slice[index].records else {
                    for retired in slice[index].positions { after[source].positions[retired.stream] = nil }
                    continue
                }
                let target = TopicPartition(topic: books[source].topic, partition: books[source].partition)
                if runs.last?.0 == target {
                    runs[runs.count - 1].1.append(records)
                } else {
                    runs.append((target, [records]))
                }
                recordCount += records.count
                after[source].sequence = max(after[source].sequence, slice[index].sequence)
                for moved in slice[index].positions { after[source].positions[moved.stream] = moved.position }
            }
        }
        var checkpoints: [(key: String, record: ProducerRecord)] = []
        let nowMs = Int64((HostClock.wallSeconds() * 1000).rounded())
        for topic in checkpointTopics.sorted() {
            guard let partition = after.first(where: { $0.topic == topic })?.partition else { continue }
            var sources: [String: CheckpointRecord.Source] = [:]
            for book in after where book.topic == topic {
                sources[book.id] = .init(seq: book.sequence, positions: book.positions)
            }
            let value = CheckpointRecord(agent: settings.transactionalId, writtenMs: nowMs, sources: sources).encoded()
            let record = ProducerRecord(
                topic: topic, partition: partition, key: Array(settings.hostName.utf8), value: value,
                headers: [
                    RecordHeader(key: PositionHeaders.agent, value: Array(settings.transactionalId.utf8)),
                    RecordHeader(key: PositionHeaders.checkpoint, value: Array("1".utf8)),
                ], timestamp: nowMs)
            checkpoints.append((CheckpointCache.key(topic: topic, partition: partition), record))
        }
        let checkpointRecords = checkpoints
        // The queue keeps the runs (sharing their bytes) until the commit, for a retry.
        let partitionRuns = runs
        let totalRecords = recordCount
        let transactional = mode == .exactlyOnce
        let logger = self.logger
        let started = ContinuousClock.now
        let offsets = try await Self.within(settings.attemptTimeout, "delivering \(recordCount) records") {
            if transactional { try await producer.beginTransaction() }
            for (target, runs) in partitionRuns { try await producer.enqueue(encoded: runs, to: target) }
            let enqueued = ContinuousClock.now
            var offsets: [String: Int64] = [:]
            for checkpoint in checkpointRecords {
                offsets[checkpoint.key] = try await producer.send(checkpoint.record).offset
            }
            let flushing = ContinuousClock.now
            if transactional {
                await producer.flush()
                let flushed = ContinuousClock.now
                try await producer.commitTransaction()
                logger.debug(
                    "transaction committed",
                    metadata: [
                        "records": "\(totalRecords)", "enqueue_ms": "\((enqueued - started).milliseconds)",
                        "checkpoint_ms": "\((flushing - enqueued).milliseconds)",
                        "flush_ms": "\((flushed - flushing).milliseconds)",
                        "end_txn_ms": "\((ContinuousClock.now - flushed).milliseconds)",
                    ])
            } else {
                await producer.flush()
                if let error = await producer.firstEnqueueError { throw error }
            }
            return offsets
        }

        // Committed.
        var released = 0
        let now = ContinuousClock.now
        // Counted per source and added once: per-record atomics and set inserts were measurable.
        var committedRecords = [Int](repeating: 0, count: books.count)
        var committedCost = [Int](repeating: 0, count: books.count)
        // Records of one emit share their read time: one histogram observation per run, not per record.
        var latencyRun: (readAt: ContinuousClock.Instant, count: Int)?
        for slice in slices {
            for index in slice.indices {
                released += slice[index].cost
                let records = slice[index].count
                if records > 0 {
                    committedRecords[slice[index].source] += records
                    committedCost[slice[index].source] += slice[index].cost
                    if latencyRun?.readAt == slice[index].readAt {
                        latencyRun!.count += records
                    } else {
                        if let run = latencyRun {
                            metrics.latency.observe((now - run.readAt).seconds, times: run.count)
                        }
                        latencyRun = (slice[index].readAt, records)
                    }
                }
            }
        }
        if let run = latencyRun { metrics.latency.observe((now - run.readAt).seconds, times: run.count) }
        for source in books.indices where committedRecords[source] > 0 {
            books[source].committed.increment(by: committedRecords[source])
            books[source].buffered.decrement(by: committedCost[source])
            dirtyTopics.insert(books[source].topic)
        }
        queue.removeFirst(count)
        committedSinceTrim = true
        books = after.enumerated().map { index, book in
            var merged = books[index]
            merged.sequence = book.sequence
            merged.positions = book.positions
            return merged
        }
        for book in books { book.sequenceGauge.set(Int(clamping: book.sequence)) }
        queuedCost -= released
        budget.release(released)
        metrics.transactions.labels("committed").increment()
        if !checkpoints.isEmpty {
            for topic in checkpointTopics {
                lastCheckpoint[topic] = now
                dirtyTopics.remove(topic)
            }
            metrics.checkpoints.increment(by: checkpoints.count)
            for (key, offset) in offsets { checkpointOffsets[key] = offset }
            cache.store(checkpointOffsets)
        }
    }

    /// After any failure: back off, reconnect (fencing the failed producer), and re-read what is committed.
    private func recoverFromFailure(_ error: any Error) async {
        consecutiveFailures += 1
        metrics.failures.increment()
        metrics.transactions.labels("aborted").increment()
        if consecutiveFailures == 1 || consecutiveFailures % 20 == 0 {
            logger.warning(
                "delivery failed; re-reading the committed position and retrying",
                metadata: [
                    "error": "\(error)", "queued_records": "\(queue.count)",
                    "failures": "\(consecutiveFailures)",
                ])
        }
        discardProducer()
        var pause = backoff(consecutiveFailures)
        if let finishDeadline { pause = min(pause, max(finishDeadline - .now, .zero)) }
        try? await Task.sleep(for: pause)
    }

    /// Drops queued records that the broker already holds (a commit whose answer was lost), using the
    /// committed state read back from each partition.
    private func resynchronize() async throws {
        let states = try await recoverAll()
        absorbInbox()
        var dropped = 0
        var kept: [Item] = []
        kept.reserveCapacity(queue.count)
        var committedPerSource: [UInt64] = books.map { _ in 0 }
        for (index, book) in books.enumerated() {
            let state = states[book.id] ?? SourceState()
            committedPerSource[index] = state.sequence
            if state.sequence > books[index].sequence {
                books[index].positions = state.positions
                books[index].sequence = state.sequence
            }
        }
        for item in queue.all {
            if item.records != nil, item.sequence <= committedPerSource[item.source] {
                // A run is committed whole or not at all: a transaction takes whole items.
                dropped += item.cost
                books[item.source].committed.increment(by: item.count)
                books[item.source].buffered.decrement(by: item.cost)
            } else if item.records == nil, item.sequence < committedPerSource[item.source] {
                // A retire queued before a record that is committed was committed with it (transactions
                // take the queue in order). Kept, it would be applied after that record and drop a stream
                // the record re-added (a short file's `ino-` name across copytruncate, a reused inode).
                continue
            } else {
                kept.append(item)
            }
        }
        queue.replaceAll(with: kept)
        queuedCost -= dropped
        budget.release(dropped)
        if dropped > 0 {
            logger.notice(
                "records of the failed attempt were committed after all; not sending them again",
                metadata: ["bytes": "\(dropped)"])
        }
    }

    private func backoff(_ failures: Int) -> Duration {
        var pause = settings.initialBackoff
        for _ in 1..<min(max(failures, 1), 16) where pause < settings.maximumBackoff { pause *= 2 }
        return min(pause, settings.maximumBackoff)
    }

    // MARK: Waiting

    private func park(until deadline: ContinuousClock.Instant?) async {
        nextParkId &+= 1
        let id = nextParkId
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                parked = (id, continuation)
                if let deadline {
                    Task {
                        try? await Task.sleep(until: deadline, clock: .continuous)
                        self.wake(id)
                    }
                }
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }

    private func wake(_ id: UInt64? = nil) {
        guard let parked, id == nil || parked.id == id else { return }
        self.parked = nil
        parked.continuation.resume()
    }
}
