import Dispatch
import Foundation
import Logging
import SkeinLog
import SkeinProtocol

/// Why a transactional request was refused; handlers turn it into the error code their version knows.
enum TransactionError: Error, Equatable {
    /// The producer's epoch is not the current one: a newer incarnation took over (or the broker aborted the
    /// transaction on timeout). PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for older versions.
    case fenced
    /// The transactional id is unknown or belongs to another producer id.
    case invalidProducerIdMapping
    case invalidTransactionState(String)
    case invalidTransactionTimeout
    case storage(String)

    func code(fencedCode: ErrorCode) -> ErrorCode {
        switch self {
        case .fenced: fencedCode
        case .invalidProducerIdMapping: .invalidProducerIdMapping
        case .invalidTransactionState: .invalidTxnState
        case .invalidTransactionTimeout: .invalidTransactionTimeout
        case .storage: .coordinatorNotAvailable
        }
    }
}

/// The transaction coordinator of every transactional id (KIP-98), as the broker is the group coordinator of
/// every group. Requests that change state run one at a time on a serial queue, off the event loops, and are
/// answered once the new state is durable. Markers are written under each partition's producer lock, which
/// a transactional produce also holds while it checks membership and appends: no batch of a transaction can
/// land after its marker, so no partition's last stable offset can be left behind by a late batch.
final class TransactionCoordinator: @unchecked Sendable {
    struct Dependencies {
        var logs: LogManager
        var producers: ProducerStateManager
        var offsets: OffsetStore
        /// Wakes fetches parked on a partition whose last stable offset moved.
        var wake: @Sendable (TopicPartition) -> Void
    }

    let queue = DispatchQueue(label: "skein.transactions")
    private let lock = NSLock()
    private var table: [String: TransactionMetadata] = [:]
    private var idsByProducer: [Int64: String] = [:]
    private let store: TransactionLog
    private let dependencies: Dependencies
    private let maxTimeoutMs: Int32
    private let clock: any LogClock
    private let logger: Logger
    private var timer: (any DispatchSourceTimer)?
    let counters = TransactionCounters()

    init(
        directory: String, dependencies: Dependencies, maxTimeoutMs: Int32, clock: any LogClock, logger: Logger
    ) throws {
        store = try TransactionLog(directory: directory, clock: clock)
        self.dependencies = dependencies
        self.maxTimeoutMs = maxTimeoutMs
        self.clock = clock
        self.logger = logger
        table = try store.load()
        for (id, metadata) in table { idsByProducer[metadata.producerId] = id }
    }

    // MARK: Reads (any thread)

    func metadata(_ transactionalId: String) -> TransactionMetadata? {
        lock.withLock { table[transactionalId] }
    }

    var all: [TransactionMetadata] { lock.withLock { Array(table.values) } }

    /// Whether a transactional batch may be appended to `partition`: only inside the producer's open
    /// transaction, with its current epoch, after AddPartitionsToTxn named the partition. Called with the
    /// partition's producer lock held.
    func verifyProduce(producerId: Int64, epoch: Int16, partition: TopicPartition) -> ErrorCode? {
        lock.withLock {
            guard let id = idsByProducer[producerId], let metadata = table[id], metadata.producerId == producerId else {
                return .invalidProducerIdMapping
            }
            guard epoch == metadata.producerEpoch else { return .invalidProducerEpoch }
            guard metadata.state == .ongoing, metadata.partitions.contains(.init(partition)) else {
                return .invalidTxnState
            }
            return nil
        }
    }

    /// The partitions of `group` that an unfinished transaction holds offsets for (sent with TxnOffsetCommit,
    /// the transaction not complete yet). OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for
    /// them (KIP-447): a consumer taking such a partition over waits for the outcome instead of resuming from
    /// the offset before the transaction and producing its outputs a second time. A commit stores the offsets
    /// in the group before it clears them here, so a reader sees one or the other, never the old offset as
    /// stable while the new one is on its way.
    func pendingOffsetPartitions(group: String) -> Set<TopicPartition> {
        lock.withLock {
            var found: Set<TopicPartition> = []
            for metadata in table.values
            where metadata.state == .ongoing || metadata.state == .prepareCommit || metadata.state == .prepareAbort {
                for pending in metadata.pendingOffsets where pending.group == group {
                    found.insert(pending.partition.topicPartition)
                }
            }
            return found
        }
    }

    // MARK: Requests (on `queue`)

    /// InitProducerId with a transactional id: the same producer id every time, the epoch bumped, and an open
    /// transaction of the previous incarnation aborted first, so nothing it still sends can commit.
    func initProducerId(transactionalId: String, timeoutMs: Int32, producerId: Int64, producerEpoch: Int16)
        -> Result<(producerId: Int64, epoch: Int16), TransactionError>
    {
        dispatchPrecondition(condition: .onQueue(queue))
        guard timeoutMs > 0, timeoutMs <= maxTimeoutMs else { return .failure(.invalidTransactionTimeout) }
        let now = clock.milliseconds()
        do {
            guard var metadata = metadata(transactionalId) else {
                let id = try dependencies.producers.allocateProducerId()
                let created = TransactionMetadata(
                    transactionalId: transactionalId, producerId: id, producerEpoch: 0, timeoutMs: timeoutMs,
                    updatedMs: now)
                try save([created])
                return .success((id, 0))
            }
            if producerId >= 0 {
                // KIP-360: a producer resuming after an abortable error names its id and epoch; only the
                // current incarnation (or the one the broker itself bumped past) may.
                guard producerId == metadata.producerId,
                    producerEpoch == metadata.producerEpoch || producerEpoch == metadata.lastProducerEpoch
                else { return .failure(.fenced) }
            }
            try completeIfPrepared(&metadata)
            let wasOpen = metadata.state == .ongoing
            bumpEpoch(&metadata)
            if wasOpen {
                try writeMarkers(.abort, for: metadata)
                counters.count(.fenced)
            }
            metadata.finish(.empty, nowMs: now)
            metadata.timeoutMs = timeoutMs
            metadata.lastProducerEpoch = -1
            try save([metadata])
            return .success((metadata.producerId, metadata.producerEpoch))
        } catch {
            return .failure(.storage("\(error)"))
        }
    }

    /// AddPartitionsToTxn: the partitions join the open transaction (which this opens if none is). Returns
    /// per-partition errors when some partition does not exist; then nothing is added.
    func addPartitions(transactionalId: String, producerId: Int64, epoch: Int16, partitions: [TopicPartition])
        -> Result<[TopicPartition: ErrorCode], TransactionError>
    {
        dispatchPrecondition(condition: .onQueue(queue))
        switch current(transactionalId, producerId: producerId, epoch: epoch) {
        case .failure(let error): return .failure(error)
        case .success(var metadata):
            let missing = Set(partitions.filter { dependencies.logs.log(for: $0) == nil })
            if !missing.isEmpty {
                return .success(
                    Dictionary(
                        partitions.map {
                            ($0, missing.contains($0) ? .unknownTopicOrPartition : .operationNotAttempted)
                        },
                        uniquingKeysWith: { first, _ in first }))
            }
            let before = metadata
            metadata.beginIfIdle(nowMs: clock.milliseconds())
            metadata.partitions.formUnion(partitions.map(TransactionMetadata.Partition.init))
            if metadata != before {
                do { try save([metadata]) } catch { return .failure(.storage("\(error)")) }
            }
            return .success(Dictionary(partitions.map { ($0, .noError) }, uniquingKeysWith: { first, _ in first }))
        }
    }

    /// AddOffsetsToTxn: the group's offsets will be committed with the transaction.
    func addOffsets(transactionalId: String, producerId: Int64, epoch: Int16, groupId: String)
        -> Result<Void, TransactionError>
    {
        dispatchPrecondition(condition: .onQueue(queue))
        switch current(transactionalId, producerId: producerId, epoch: epoch) {
        case .failure(let error): return .failure(error)
        case .success(var metadata):
            let before = metadata
            metadata.beginIfIdle(nowMs: clock.milliseconds())
            metadata.groups.insert(groupId)
            if metadata != before {
                do { try save([metadata]) } catch { return .failure(.storage("\(error)")) }
            }
            return .success(())
        }
    }

    /// TxnOffsetCommit: offsets held back until the transaction commits; an abort drops them.
    func commitOffsets(
        transactionalId: String, producerId: Int64, epoch: Int16, groupId: String,
        offsets: [TransactionMetadata.PendingOffset]
    ) -> Result<Void, TransactionError> {
        dispatchPrecondition(condition: .onQueue(queue))
        switch current(transactionalId, producerId: producerId, epoch: epoch) {
        case .failure(let error): return .failure(error)
        case .success(var metadata):
            guard metadata.state == .ongoing, metadata.groups.contains(groupId) else {
                return .failure(.invalidTransactionState("group \(groupId) was not added with AddOffsetsToTxn"))
            }
            let replaced = Set(offsets.map(\.partition))
            metadata.pendingOffsets.removeAll { $0.group == groupId && replaced.contains($0.partition) }
            metadata.pendingOffsets += offsets
            do { try save([metadata]) } catch { return .failure(.storage("\(error)")) }
            return .success(())
        }
    }

    /// EndTxn: PrepareCommit (or PrepareAbort) is made durable first, so a crash at any later point finishes
    /// the same way at the next start; then the markers, the offsets, and the final state.
    func endTransaction(transactionalId: String, producerId: Int64, epoch: Int16, commit: Bool)
        -> Result<Void, TransactionError>
    {
        dispatchPrecondition(condition: .onQueue(queue))
        switch current(transactionalId, producerId: producerId, epoch: epoch) {
        case .failure(let error): return .failure(error)
        case .success(var metadata):
            switch (metadata.state, commit) {
            case (.ongoing, _): break
            // A retry of an EndTxn that already completed.
            case (.completeCommit, true), (.completeAbort, false): return .success(())
            default:
                return .failure(
                    .invalidTransactionState(
                        "cannot \(commit ? "commit" : "abort") in state \(metadata.state.kafkaName)"))
            }
            metadata.state = commit ? .prepareCommit : .prepareAbort
            metadata.updatedMs = clock.milliseconds()
            do {
                try save([metadata])
                try complete(&metadata)
                counters.count(commit ? .committed : .aborted)
                return .success(())
            } catch {
                return .failure(.storage("\(error)"))
            }
        }
    }

    // MARK: Timeouts and recovery

    /// Aborts every transaction open longer than its timeout, bumping the epoch so the producer that let it
    /// lapse is fenced rather than allowed to commit half of it later.
    func abortTimedOut() {
        dispatchPrecondition(condition: .onQueue(queue))
        let now = clock.milliseconds()
        for var metadata in all
        where metadata.state == .ongoing && now - metadata.startedMs > Int64(metadata.timeoutMs) {
            logger.info(
                "aborting transaction of \(metadata.transactionalId.quotedForLog): open longer than its timeout of \(metadata.timeoutMs) ms"
            )
            do {
                try abortWithBump(&metadata)
                counters.count(.timedOut)
            } catch {
                logger.error("aborting timed-out transaction \(metadata.transactionalId.quotedForLog) failed: \(error)")
            }
        }
    }

    /// After a restart: a transaction that was preparing completes, an open one is aborted, and a partition
    /// still holding an open transaction the coordinator does not know about (its state was lost) gets an
    /// ABORT marker, so every last stable offset can advance.
    func recover() throws {
        dispatchPrecondition(condition: .onQueue(queue))
        for var metadata in all {
            switch metadata.state {
            case .prepareCommit, .prepareAbort:
                logger.info("completing transaction of \(metadata.transactionalId.quotedForLog) after a restart")
                try complete(&metadata)
            case .ongoing:
                logger.info("aborting open transaction of \(metadata.transactionalId.quotedForLog) after a restart")
                try abortWithBump(&metadata)
            default: break
            }
        }
        for log in dependencies.logs.allLogs {
            for (producerId, firstOffset) in log.openTransactions {
                let open = lock.withLock { idsByProducer[producerId].flatMap { table[$0] } }
                if let open, open.state == .ongoing, open.partitions.contains(.init(log.topicPartition)) { continue }
                logger.warning(
                    "\(log.topicPartition): aborting a transaction of producer \(producerId) open since offset \(firstOffset) that no coordinator state covers"
                )
                let state = dependencies.producers.state(for: log.topicPartition)
                let epoch = open?.producerEpoch ?? (state.lock.withLock { state.producers[producerId]?.epoch } ?? 0)
                try waitUntilDurable([(log, try appendMarker(.abort, producerId: producerId, epoch: epoch, to: log))])
            }
        }
    }

    /// Starts the timeout checks.
    func start(cleanupIntervalMs: Int64) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = Int(max(10, cleanupIntervalMs))
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval))
        timer.setEventHandler { [weak self] in self?.abortTimedOut() }
        timer.resume()
        lock.withLock { self.timer = timer }
    }

    func shutdown() throws {
        let timer = lock.withLock { self.timer }
        timer?.cancel()
        try queue.sync {
            try store.snapshot(all)
            try store.shutdown()
        }
    }

    // MARK: Internals

    /// The id's metadata if the producer id and epoch are its current ones.
    private func current(_ transactionalId: String, producerId: Int64, epoch: Int16)
        -> Result<TransactionMetadata, TransactionError>
    {
        guard let metadata = metadata(transactionalId), metadata.producerId == producerId else {
            return .failure(.invalidProducerIdMapping)
        }
        guard metadata.producerEpoch == epoch else { return .failure(.fenced) }
        return .success(metadata)
    }

    private func bumpEpoch(_ metadata: inout TransactionMetadata) {
        if metadata.producerEpoch >= Int16.max - 1, let fresh = try? dependencies.producers.allocateProducerId() {
            // An exhausted epoch moves the id to a new producer id, as in Kafka.
            metadata.producerId = fresh
            metadata.producerEpoch = 0
        } else {
            metadata.producerEpoch += 1
        }
    }

    private func abortWithBump(_ metadata: inout TransactionMetadata) throws {
        let previousEpoch = metadata.producerEpoch
        bumpEpoch(&metadata)
        metadata.state = .prepareAbort
        metadata.lastProducerEpoch = previousEpoch
        try save([metadata])
        try complete(&metadata)
    }

    private func completeIfPrepared(_ metadata: inout TransactionMetadata) throws {
        if metadata.state == .prepareCommit || metadata.state == .prepareAbort { try complete(&metadata) }
    }

    /// Writes the markers, applies the offsets of a commit, and stores the final state.
    private func complete(_ metadata: inout TransactionMetadata) throws {
        let commit = metadata.state == .prepareCommit
        try writeMarkers(commit ? .commit : .abort, for: metadata)
        if commit { try commitPendingOffsets(metadata.pendingOffsets) }
        metadata.finish(commit ? .completeCommit : .completeAbort, nowMs: clock.milliseconds())
        try save([metadata])
    }

    /// Appends the markers and waits until they are on disk, one group-commit fsync per partition, all at
    /// once. The final state may only be stored after that: were it durable and a COMMIT marker not (a power
    /// cut), the restart would find the partition's transaction open with no coordinator state and abort it.
    private func writeMarkers(_ marker: TransactionMarker, for metadata: TransactionMetadata) throws {
        var written: [(PartitionLog, Int64)] = []
        for partition in metadata.partitions.sorted() {
            // A partition deleted since it joined the transaction has nothing left to mark.
            guard let log = dependencies.logs.log(for: partition.topicPartition) else { continue }
            let end = try appendMarker(marker, producerId: metadata.producerId, epoch: metadata.producerEpoch, to: log)
            written.append((log, end))
        }
        try waitUntilDurable(written)
    }

    /// Appends one marker; returns the offset after it.
    private func appendMarker(_ marker: TransactionMarker, producerId: Int64, epoch: Int16, to log: PartitionLog)
        throws -> Int64
    {
        let state = dependencies.producers.state(for: log.topicPartition)
        let appended = try state.lock.withLock {
            let result = try log.appendMarker(marker, producerId: producerId, producerEpoch: epoch)
            state.markerWritten(producerId: producerId, epoch: epoch)
            return result
        }
        dependencies.wake(log.topicPartition)
        return appended.lastOffset + 1
    }

    private func waitUntilDurable(_ written: [(PartitionLog, Int64)]) throws {
        guard !written.isEmpty else { return }
        let group = DispatchGroup()
        let failure = LockedBox<LogError?>(nil)
        for (log, end) in written {
            group.enter()
            log.flush(upTo: end) { result in
                if case .failure(let error) = result { failure.value = error }
                group.leave()
            }
        }
        group.wait()
        if let error = failure.value { throw error }
    }

    /// Commits the transaction's offsets and waits until they are durable: the final state must not be
    /// stored before them, or a crash between the two would lose offsets of a committed transaction.
    private func commitPendingOffsets(_ pending: [TransactionMetadata.PendingOffset]) throws {
        let now = clock.milliseconds()
        for (group, offsets) in Dictionary(grouping: pending, by: \.group) {
            let committed = Dictionary(
                offsets.map {
                    (
                        $0.partition.topicPartition,
                        OffsetStore.Committed(
                            offset: $0.offset, leaderEpoch: $0.leaderEpoch, metadata: $0.metadata,
                            commitTimestampMs: now)
                    )
                }, uniquingKeysWith: { _, last in last })
            let done = DispatchSemaphore(value: 0)
            let outcome = LockedBox<Result<Void, LogError>>(.success(()))
            dependencies.offsets.commit(groupId: group, offsets: committed) { result in
                outcome.value = result
                done.signal()
            }
            done.wait()
            if case .failure(let error) = outcome.value { throw error }
        }
    }

    /// Stores metadata durably, then publishes it to readers.
    private func save(_ changed: [TransactionMetadata]) throws {
        try store.write(changed) { self.all }
        lock.withLock {
            for metadata in changed {
                if let previous = table[metadata.transactionalId], previous.producerId != metadata.producerId {
                    idsByProducer[previous.producerId] = nil
                }
                table[metadata.transactionalId] = metadata
                idsByProducer[metadata.producerId] = metadata.transactionalId
            }
        }
    }
}

/// A value shared with a completion callback that runs on another thread.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Transaction outcomes for `/metrics` (skein_transactions_total).
final class TransactionCounters: @unchecked Sendable {
    enum Outcome: String, CaseIterable {
        case committed, aborted
        case timedOut = "timed_out"
        case fenced
    }
    private let lock = NSLock()
    private var counts: [Outcome: Int64] = [:]

    func count(_ outcome: Outcome) { lock.withLock { counts[outcome, default: 0] += 1 } }
    var snapshot: [Outcome: Int64] { lock.withLock { counts } }
}
