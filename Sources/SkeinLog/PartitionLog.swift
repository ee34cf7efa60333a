import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public struct AppendResult: Equatable, Sendable {
    public var firstOffset: Int64
    public var lastOffset: Int64
    /// The time stamped on the batches for LogAppendTime topics, or -1.
    public var logAppendTime: Int64
    public var logStartOffset: Int64
    public var batchCount: Int
}

public struct LogReadResult: Sendable {
    /// Whole batches starting with the one that holds the requested offset; nil at the end of the log.
    public var slice: FileSlice?
    public var logStartOffset: Int64
    /// On a single node every appended batch is committed, so this equals `logEndOffset`.
    public var highWatermark: Int64
    public var logEndOffset: Int64
    /// The first offset of the oldest open transaction, or the high watermark when none is open.
    public var lastStableOffset: Int64
    /// For read_committed reads: the aborted transactions overlapping the slice; nil for read_uncommitted.
    public var abortedTransactions: [AbortedTransaction]?
}

/// Which records a read may return (Kafka's `isolation.level`).
public enum IsolationLevel: Int8, Sendable {
    case readUncommitted = 0
    /// Stops at the last stable offset and lists the aborted transactions in the range.
    case readCommitted = 1
}

public struct TimestampLookup: Equatable, Sendable {
    public var offset: Int64
    public var timestamp: Int64
}

/// Turns a compressed records section back into records, so a timestamp lookup can name the exact record in a
/// compressed batch. The broker plugs its codecs in; without one, lookups answer with the batch's first offset.
public protocol RecordDecompressor: Sendable {
    func decompress(codec: Int, _ compressed: UnsafeRawBufferPointer) throws -> [UInt8]
}

/// One partition's log: an ordered list of segments, the last of which takes appends.
///
/// Thread safety: every method may be called from any thread. Bookkeeping sits under one lock; file reads
/// happen outside it, on byte ranges fixed while it was held, so readers never block the writer on I/O.
public final class PartitionLog: @unchecked Sendable {
    public let topicPartition: TopicPartition
    public let directory: String
    let clock: any LogClock
    let decompressor: (any RecordDecompressor)?
    /// Shared with every partition of the data directory; segments open their files through it.
    let descriptors: DescriptorCache
    let lock = Lock()
    private var _config: LogConfig
    var segments: [Segment]
    var _logStartOffset: Int64
    var _logEndOffset: Int64
    private var isClosed = false
    var transactions: PartitionTransactions
    /// `transactions.coveredUpTo` when the snapshot was last written; equal means nothing to write.
    var transactionsSnapshotAt: Int64 = -1

    // Group commit: callers wait on the offset they need on disk; one fsync at a time serves them all.
    private var flushedOffset: Int64
    private var flushRunning = false
    private var flushWaiters: [(offset: Int64, done: @Sendable (Result<Void, LogError>) -> Void)] = []
    /// When the oldest unflushed append happened, for `flush.ms`.
    private var firstUnflushedAppendMs: Int64?
    private var completedFlushes = 0
    /// Runs in each fsync round after the target offset is fixed, before the fsync; tests use it to hold a round open and watch waiters pile up.
    var beforeSync: (@Sendable () -> Void)?
    /// Set by the LogManager before the log is shared; receives fsync timings.
    var observerSlot: LogObserverSlot?
    private static let flushQueue = DispatchQueue(label: "skein.log.flush", attributes: .concurrent)

    init(
        topicPartition: TopicPartition, directory: String, config: LogConfig, segments: [Segment],
        logStartOffset: Int64, recoveryPoint: Int64, clock: any LogClock, decompressor: (any RecordDecompressor)?,
        descriptors: DescriptorCache
    ) {
        precondition(!segments.isEmpty)
        self.topicPartition = topicPartition
        self.directory = directory
        self._config = config
        self.segments = segments
        self.clock = clock
        self.decompressor = decompressor
        self.descriptors = descriptors
        self._logEndOffset = segments.last!.nextOffset
        self._logStartOffset = min(max(logStartOffset, segments.first!.baseOffset), _logEndOffset)
        self.flushedOffset = min(recoveryPoint, _logEndOffset)
        self.transactions = PartitionTransactions(coveredUpTo: _logStartOffset)
    }

    // MARK: State

    public var config: LogConfig { lock.withLock { _config } }
    public var logStartOffset: Int64 { lock.withLock { _logStartOffset } }
    public var logEndOffset: Int64 { lock.withLock { _logEndOffset } }
    public var highWatermark: Int64 { logEndOffset }
    public var lastStableOffset: Int64 {
        lock.withLock { transactions.lastStableOffset(highWatermark: _logEndOffset) }
    }
    /// Producer id → first offset of its transaction that is open in this partition.
    public var openTransactions: [Int64: Int64] { lock.withLock { transactions.ongoing } }
    /// Everything below this offset is known to be on disk.
    public var recoveryPoint: Int64 { lock.withLock { flushedOffset } }
    public var segmentCount: Int { lock.withLock { segments.count } }
    public var sizeInBytes: Int64 { lock.withLock { segments.reduce(0) { $0 + $1.size } } }
    /// What a metrics scrape reads, under one short lock hold: no file access, cost linear in segments.
    public var metricsSnapshot: (logStartOffset: Int64, logEndOffset: Int64, segments: Int, sizeInBytes: Int64) {
        lock.withLock {
            (_logStartOffset, _logEndOffset, segments.count, segments.reduce(0) { $0 + $1.size })
        }
    }
    public var segmentBaseOffsets: [Int64] { lock.withLock { segments.map(\.baseOffset) } }
    /// fsync rounds completed; fewer than flush callers when group commit works.
    public var flushCount: Int { lock.withLock { completedFlushes } }
    var pendingFlushWaiters: Int { lock.withLock { flushWaiters.count } }

    public func updateConfig(_ config: LogConfig) {
        lock.withLock { _config = config }
    }

    // MARK: Append

    /// Appends one or more RecordBatch v2 batches, assigning offsets by rewriting each baseOffset in place
    /// (and, for LogAppendTime, the timestamp and CRC). Everything is validated before anything is written,
    /// so a refused call leaves the log unchanged.
    public func append(_ records: UnsafeMutableRawBufferPointer) throws -> AppendResult {
        try append(records, marker: nil)
    }

    /// Appends a transaction marker (a control batch) for `producerId`: the coordinator's half of EndTxn.
    @discardableResult
    public func appendMarker(
        _ marker: TransactionMarker, producerId: Int64, producerEpoch: Int16, coordinatorEpoch: Int32 = 0
    ) throws -> AppendResult {
        var batch = PartitionTransactions.markerBatch(
            producerId: producerId, producerEpoch: producerEpoch, marker: marker, coordinatorEpoch: coordinatorEpoch,
            timestamp: clock.milliseconds())
        return try batch.withUnsafeMutableBytes { try append($0, marker: marker) }
    }

    /// `marker` is set only for the one control batch the coordinator appends; clients' batches may not be
    /// control batches.
    private func append(_ records: UnsafeMutableRawBufferPointer, marker: TransactionMarker?) throws -> AppendResult {
        let maxBatchBytes = lock.withLock { _config.maxMessageBytes }
        var headers: [StoredBatchHeader] = []
        var position = 0
        while position < records.count {
            do {
                let header = try StoredBatchHeader.validate(
                    UnsafeRawBufferPointer(rebasing: records[position...]),
                    marker == nil ? .fromClient(maxBatchBytes: maxBatchBytes) : .stored)
                headers.append(header)
                position += header.totalSize
            } catch {
                throw LogError.invalidBatch(error)
            }
        }
        guard !headers.isEmpty else { throw LogError.invalidBatch(.empty) }
        let totalBytes = position

        return try lock.withLock {
            guard !isClosed else { throw LogError.logClosed(topicPartition.description) }
            let now = clock.milliseconds()
            let lastOffset = _logEndOffset + headers.reduce(0) { $0 + Int64($1.lastOffsetDelta) + 1 } - 1
            if shouldRoll(incomingBytes: totalBytes, lastOffset: lastOffset, now: now) {
                try roll()
            }
            let appendTime = _config.timestampType == .logAppendTime ? now : -1
            var nextOffset = _logEndOffset
            var batchStart = 0
            for index in headers.indices {
                let batch = UnsafeMutableRawBufferPointer(
                    rebasing: records[batchStart..<batchStart + headers[index].totalSize])
                batch.storeBigEndian(nextOffset, at: 0)
                headers[index].baseOffset = nextOffset
                if appendTime >= 0 { stampLogAppendTime(batch, &headers[index], now: appendTime) }
                nextOffset = headers[index].nextOffset
                batchStart += headers[index].totalSize
            }
            let active = segments[segments.count - 1]
            let writeAt = active.size
            try active.log.withDescriptor { fd in
                do {
                    try FileIO.write(fd, UnsafeRawBufferPointer(records), at: writeAt, path: active.logPath)
                } catch {
                    // A partial write (ENOSPC, EIO) must not leave half a batch for readers or recovery to trip on.
                    try? FileIO.truncate(fd, to: writeAt, path: active.logPath)
                    throw error
                }
            }
            if active.rollClockStartMs == nil { active.rollClockStartMs = now }
            var batchPosition = writeAt
            for header in headers {
                try active.didAppend(header, at: batchPosition, indexIntervalBytes: _config.indexIntervalBytes)
                batchPosition += Int64(header.totalSize)
            }
            active.size = batchPosition
            for header in headers { transactions.apply(header, marker: marker) }
            let firstOffset = _logEndOffset
            _logEndOffset = nextOffset
            if firstUnflushedAppendMs == nil { firstUnflushedAppendMs = now }
            return AppendResult(
                firstOffset: firstOffset, lastOffset: nextOffset - 1, logAppendTime: appendTime,
                logStartOffset: _logStartOffset, batchCount: headers.count)
        }
    }

    public func append(_ records: inout [UInt8]) throws -> AppendResult {
        try records.withUnsafeMutableBytes { try append($0) }
    }

    private func stampLogAppendTime(
        _ batch: UnsafeMutableRawBufferPointer, _ header: inout StoredBatchHeader, now: Int64
    ) {
        header.attributes |= 0x08
        header.maxTimestamp = now
        batch.storeBigEndian(header.attributes, at: 21)
        batch.storeBigEndian(now, at: 35)
        header.crc = crc32c(UnsafeRawBufferPointer(rebasing: batch[StoredBatchHeader.crcStart...]))
        batch.storeBigEndian(header.crc, at: 17)
    }

    /// Must be called with the lock held.
    private func shouldRoll(incomingBytes: Int, lastOffset: Int64, now: Int64) -> Bool {
        let active = segments[segments.count - 1]
        guard !active.isEmpty else { return false }
        if active.size + Int64(incomingBytes) > Int64(_config.segmentBytes) { return true }
        if let started = active.rollClockStartMs, now - started >= _config.segmentMs { return true }
        if active.offsetIndex.isFull || active.timeIndex.isFull { return true }
        // Index entries hold positions and relative offsets in 4 bytes.
        if !active.canHold(offset: lastOffset) || active.size + Int64(incomingBytes) > Int64(UInt32.max) { return true }
        return false
    }

    /// Starts a new active segment at the log end offset. Must be called with the lock held.
    private func roll() throws {
        let previous = segments[segments.count - 1]
        try previous.close()
        previous.indexesNeedSync = true
        previous.releaseResources()
        let segment = try Segment.create(
            directory: directory, baseOffset: _logEndOffset, config: _config, descriptors: descriptors)
        segment.nextOffset = _logEndOffset
        segments.append(segment)
    }

    /// Rolls the active segment if it holds data; used by tests and by retention for idle partitions.
    public func forceRoll() throws {
        try lock.withLock {
            if !segments[segments.count - 1].isEmpty { try roll() }
        }
    }

    // MARK: Read

    /// Returns whole batches starting with the one that contains `offset`, up to `maxBytes` in total. With
    /// `minOneBatch`, the first batch is returned even when it alone is larger than `maxBytes`, so a consumer
    /// can always make progress (Kafka's KIP-74 rule). read_committed reads stop at the last stable offset,
    /// which is always a batch boundary, so the answer stays a plain byte range of the segment.
    public func read(
        from offset: Int64, maxBytes: Int, minOneBatch: Bool = true, isolation: IsolationLevel = .readUncommitted
    ) throws -> LogReadResult {
        // Fix the byte ranges under the lock; do the reads outside it.
        typealias Plan = (
            candidates: [(Segment, SegmentFile, Int64, Int64, Int64)], start: Int64, end: Int64, lso: Int64
        )
        let (plan, bounds): (Plan?, (start: Int64, end: Int64, lso: Int64)) = try lock.withLock {
            guard offset >= _logStartOffset && offset <= _logEndOffset else {
                throw LogError.offsetOutOfRange(
                    requested: offset, logStartOffset: _logStartOffset, logEndOffset: _logEndOffset)
            }
            let lso = transactions.lastStableOffset(highWatermark: _logEndOffset)
            let bounds = (_logStartOffset, _logEndOffset, lso)
            let readLimit = isolation == .readCommitted ? lso : _logEndOffset
            guard offset < readLimit else { return (nil, bounds) }
            var index = segmentIndex(containing: offset)
            var candidates: [(Segment, SegmentFile, Int64, Int64, Int64)] = []
            while index < segments.count {
                let segment = segments[index]
                try loadIndexesReportingRepairs(segment)
                let hint = segment.offsetIndex.lastEntry(atMost: segment.relative(offset), by: \.relativeOffset)
                let startHint = candidates.isEmpty ? Int64(hint?.position ?? 0) : 0
                candidates.append((segment, try segment.openFile(), startHint, segment.size, segment.nextOffset))
                // A later segment is only needed if this one ends before the offset.
                if segment.nextOffset > offset { break }
                index += 1
            }
            return ((candidates, _logStartOffset, _logEndOffset, lso), bounds)
        }
        var result = LogReadResult(
            slice: nil, logStartOffset: bounds.start, highWatermark: bounds.end, logEndOffset: bounds.end,
            lastStableOffset: bounds.lso, abortedTransactions: isolation == .readCommitted ? [] : nil)
        guard let plan else { return result }
        let offsetLimit = isolation == .readCommitted ? plan.lso : Int64.max
        scan: for (segment, file, startHint, limit, limitOffset) in plan.candidates {
            var scanner = BatchScanner(file: file, from: startHint, to: limit, mode: .headers, chunkSize: 4096)
            while true {
                let step = try scanner.next()
                guard case .batch(let header, let position) = step else {
                    if case .invalid(let why, let at) = step {
                        // Damage that arrived after the segment was last checked (the disk, or an edit): an error
                        // the client can report, never an empty answer below the high watermark that it would
                        // fetch again forever. The next start's recovery cuts the log there.
                        throw LogError.unreadableStoredBatch(path: file.path, position: at, why)
                    }
                    break
                }
                guard header.lastOffset >= offset else { continue }
                guard header.baseOffset < offsetLimit else { break scan }
                if !minOneBatch && header.totalSize > maxBytes { break scan }
                let (end, endOffset) = try batchBoundary(
                    in: segment, file: file, from: position + Int64(header.totalSize), limit: limit,
                    limitOffset: limitOffset, offsetLimit: offsetLimit, firstBatchNextOffset: header.lastOffset + 1,
                    budgetEnd: position + Int64(maxBytes))
                let length = minOneBatch ? max(end - position, Int64(header.totalSize)) : end - position
                if length > 0 {
                    let slice = FileSlice(
                        file: file, position: position, length: Int(length), firstOffset: header.baseOffset,
                        nextOffset: max(endOffset, header.lastOffset + 1))
                    result.slice = slice
                    if isolation == .readCommitted {
                        result.abortedTransactions = lock.withLock {
                            transactions.aborted(from: offset, upTo: slice.nextOffset)
                        }
                    }
                }
                return result
            }
        }
        return result
    }

    /// The end of the last whole batch at or before `budgetEnd` and below `offsetLimit`, scanning forward from
    /// `position`. The offset index lets the scan skip to within one index interval of the budget.
    private func batchBoundary(
        in segment: Segment, file: SegmentFile, from position: Int64, limit: Int64, limitOffset: Int64,
        offsetLimit: Int64, firstBatchNextOffset: Int64, budgetEnd: Int64
    ) throws -> (position: Int64, nextOffset: Int64) {
        if budgetEnd >= limit && limitOffset <= offsetLimit { return (limit, limitOffset) }
        let skipTo = lock.withLock { () -> Int64? in
            let byPosition = segment.offsetIndex.lastEntry(atMost: UInt32(clamping: budgetEnd), by: \.position)
            guard offsetLimit < limitOffset else { return byPosition.map { Int64($0.position) } }
            // The batch holding an indexed offset below the limit may still end past it; step back one entry.
            let byOffset = segment.offsetIndex.lastEntry(
                atMost: segment.relative(max(segment.baseOffset, offsetLimit - 1)), by: \.relativeOffset)
            guard let byPosition, let byOffset else { return nil }
            return Int64(min(byPosition.position, byOffset.position))
        }
        var boundary = max(position, skipTo ?? 0)
        // The index skip lands on a batch start without its offsets; the first batch after it tells them.
        var nextOffset = firstBatchNextOffset
        var scanner = BatchScanner(file: file, from: boundary, to: limit, mode: .headers, chunkSize: 4096)
        while case .batch(let header, let start) = try scanner.next() {
            let end = start + Int64(header.totalSize)
            if end > budgetEnd || header.baseOffset >= offsetLimit {
                if start >= position { nextOffset = max(nextOffset, header.baseOffset) }
                break
            }
            boundary = end
            nextOffset = max(nextOffset, header.lastOffset + 1)
        }
        return (boundary, nextOffset)
    }

    /// Index of the last segment whose base offset is ≤ `offset`. Lock held.
    func segmentIndex(containing offset: Int64) -> Int {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].baseOffset <= offset { low = middle } else { high = middle - 1 }
        }
        return low
    }

    func loadIndexesReportingRepairs(_ segment: Segment) throws {
        if let repair = try segment.loadIndexes() {
            storageLogger.warning("\(topicPartition): \(repair)")
        }
    }

    // MARK: Header scans

    public var activeSegmentBaseOffset: Int64 { lock.withLock { segments[segments.count - 1].baseOffset } }

    /// Calls `body` with the header of every batch from the one holding `offset` to the end, in order;
    /// the broker replays producer state this way after a restart.
    public func forEachBatchHeader(from offset: Int64, _ body: (StoredBatchHeader) throws -> Void) throws {
        // Files are leased one at a time below: a replay over many segments must not pin them all at once.
        let plan: [(Segment, Int64, Int64)] = try lock.withLock {
            guard offset < _logEndOffset else { return [] }
            let first = segmentIndex(containing: max(offset, _logStartOffset))
            return try segments[first...].map { segment in
                try loadIndexesReportingRepairs(segment)
                let hint = segment.offsetIndex.lastEntry(
                    atMost: segment.relative(max(offset, segment.baseOffset)), by: \.relativeOffset)
                return (segment, Int64(hint?.position ?? 0), segment.size)
            }
        }
        for (segment, start, limit) in plan {
            let file = try segment.openFile()
            var scanner = BatchScanner(file: file, from: start, to: limit, mode: .headers)
            while case .batch(let header, _) = try scanner.next() {
                if header.lastOffset >= offset { try body(header) }
            }
        }
    }

    // MARK: Durability

    /// Calls `done` once every offset below `offset` is on disk. Concurrent callers share fsyncs: while one
    /// runs, new waiters queue, and the next fsync covers all of them. The fsync runs on a background queue,
    /// never on the caller's thread.
    public func flush(upTo offset: Int64, done: @escaping @Sendable (Result<Void, LogError>) -> Void) {
        enum Action { case alreadyDurable, queued, startFlusher }
        let action: Action = lock.withLock {
            if offset <= flushedOffset { return .alreadyDurable }
            flushWaiters.append((offset, done))
            if flushRunning { return .queued }
            flushRunning = true
            return .startFlusher
        }
        switch action {
        case .alreadyDurable: done(.success(()))
        case .queued: break
        case .startFlusher: PartitionLog.flushQueue.async { self.runFlushes() }
        }
    }

    public func flush(upTo offset: Int64) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            flush(upTo: offset) { result in continuation.resume(with: result.mapError { $0 as any Error }) }
        }
    }

    /// Flushes everything appended so far, on the caller's thread; for shutdown and tests.
    public func flushNow() throws {
        try syncOnce()
    }

    /// Runs fsync rounds until no caller is waiting. A waiter that arrives during a round is served by the next.
    private func runFlushes() {
        var keepGoing = true
        while keepGoing {
            let result: Result<Void, LogError>
            do {
                try syncOnce()
                result = .success(())
            } catch let error as LogError {
                result = .failure(error)
            } catch {
                result = .failure(.io(operation: "fsync", path: directory, errno: EIO))
            }
            let ready: [(offset: Int64, done: @Sendable (Result<Void, LogError>) -> Void)]
            (ready, keepGoing) = lock.withLock {
                let durable = flushedOffset
                let failed = if case .failure = result { true } else { false }
                let finished = flushWaiters.filter { failed || $0.offset <= durable }
                flushWaiters.removeAll { failed || $0.offset <= durable }
                if flushWaiters.isEmpty { flushRunning = false }
                return (finished, flushRunning)
            }
            for waiter in ready { waiter.done(result) }
        }
    }

    /// One group-commit round: fsync every segment with unsynced bytes, then advance the flushed offset to the
    /// log end captured before the fsync started.
    private func syncOnce() throws {
        let (target, dirty): (Int64, [(segment: Segment, size: Int64, closed: Bool)]) =
            lock.withLock {
                let active = segments[segments.count - 1]
                let dirty = segments.filter { $0.syncedSize < $0.size || $0.indexesNeedSync }
                    .map { (segment: $0, size: $0.size, closed: $0 !== active) }
                firstUnflushedAppendMs = nil
                return (_logEndOffset, dirty)
            }
        beforeSync?()
        let syncStart = dirty.isEmpty ? nil : DispatchTime.now().uptimeNanoseconds
        for entry in dirty {
            // Any descriptor of the file will do: fdatasync writes back the file's pages, whoever dirtied them.
            try entry.segment.log.withDescriptor { try FileIO.syncData($0, path: entry.segment.logPath) }
            if entry.closed {
                // Closed segments take no more index appends, so their index files can be synced unlocked.
                try IndexFile<OffsetIndexEntry>.syncFile(at: entry.segment.offsetIndex.path)
                try IndexFile<TimeIndexEntry>.syncFile(at: entry.segment.timeIndex.path)
            }
        }
        if let syncStart, let observer = observerSlot?.observer {
            observer.logDidSync(
                topicPartition, seconds: Double(DispatchTime.now().uptimeNanoseconds - syncStart) / 1_000_000_000)
        }
        lock.withLock {
            for entry in dirty {
                entry.segment.syncedSize = max(entry.segment.syncedSize, entry.size)
                if entry.closed {
                    entry.segment.indexesNeedSync = false
                    entry.segment.releaseResources()
                }
            }
            flushedOffset = max(flushedOffset, target)
            completedFlushes += 1
        }
    }

    /// Whether the oldest unflushed append is older than `flush.ms`.
    func needsTimedFlush(now: Int64) -> Bool {
        lock.withLock {
            guard let first = firstUnflushedAppendMs, _config.flushMs != .max else { return false }
            return now - first >= _config.flushMs
        }
    }

    // MARK: Retention

    public struct RetentionOutcome: Equatable, Sendable {
        public var deletedSegments = 0
        public var deletedBytes: Int64 = 0
        public var rolledIdleSegment = false
    }

    /// Deletes whole closed segments, oldest first, that are past `retention.ms` (by their largest timestamp)
    /// or beyond `retention.bytes`. The active segment is never deleted; an idle one older than `segment.ms`
    /// is rolled first so that a partition nobody writes to still expires.
    public func applyRetention() throws -> RetentionOutcome {
        try lock.withLock {
            var outcome = RetentionOutcome()
            let now = clock.milliseconds()
            let active = segments[segments.count - 1]
            if !active.isEmpty, let started = active.rollClockStartMs, now - started >= _config.segmentMs {
                try roll()
                outcome.rolledIdleSegment = true
            }
            var total = segments.reduce(0) { $0 + $1.size }
            while segments.count > 1 {
                let oldest = segments[0]
                try loadIndexesReportingRepairs(oldest)
                let expiredByTime = _config.retentionMs >= 0 && largestTimestamp(of: oldest) < now - _config.retentionMs
                let expiredBySize = _config.retentionBytes >= 0 && total - oldest.size >= _config.retentionBytes
                guard expiredByTime || expiredBySize else { break }
                segments.removeFirst()
                try oldest.delete()
                total -= oldest.size
                outcome.deletedSegments += 1
                outcome.deletedBytes += oldest.size
                _logStartOffset = max(_logStartOffset, segments[0].baseOffset)
            }
            return outcome
        }
    }

    /// Kafka falls back to the file's modification time for segments without timestamps.
    private func largestTimestamp(of segment: Segment) -> Int64 {
        if segment.maxTimestamp >= 0 { return segment.maxTimestamp }
        var info = stat()
        guard stat(segment.logPath, &info) == 0 else { return .max }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Moves the log start offset forward (DeleteRecords); whole segments below it go at the next retention.
    public func advanceLogStartOffset(to offset: Int64) throws {
        try lock.withLock {
            guard offset <= _logEndOffset else {
                throw LogError.offsetOutOfRange(
                    requested: offset, logStartOffset: _logStartOffset, logEndOffset: _logEndOffset)
            }
            _logStartOffset = max(_logStartOffset, offset)
            while segments.count > 1 && segments[1].baseOffset <= _logStartOffset {
                try segments.removeFirst().delete()
            }
        }
    }

    // MARK: Shutdown

    /// Flushes and closes the files; further appends fail.
    func close() throws {
        try flushNow()
        try writeTransactionSnapshot()
        try lock.withLock {
            isClosed = true
            try segments.last?.close()
            try segments.last?.timeIndex.sync()
            for segment in segments { segment.releaseResources() }
        }
    }

    /// Refuses further appends; the manager is about to remove the directory. Idle descriptors are given back
    /// now, so the removed files' space is freed without waiting for this object to go.
    func markClosed() {
        lock.withLock {
            isClosed = true
            for segment in segments { segment.releaseResources() }
        }
    }
}
