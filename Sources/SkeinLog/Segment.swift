#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One `.log` file with its `.index` and `.timeindex`, named by the offset of its first batch.
/// Not thread-safe: `PartitionLog` guards every segment with its lock.
final class Segment {
    let baseOffset: Int64
    let logPath: String
    let offsetIndex: IndexFile<OffsetIndexEntry>
    let timeIndex: IndexFile<TimeIndexEntry>
    /// `index.interval.bytes` when the segment was opened, for indexes rebuilt lazily.
    let indexIntervalBytes: Int
    /// Bytes of whole batches in the file: readers never see past it.
    var size: Int64
    /// Bytes known to be on disk (fdatasync'ed).
    var syncedSize: Int64
    /// The offset after the last batch. Exact for the active segment and every scanned one; for closed
    /// segments opened lazily it is the next segment's base offset.
    var nextOffset: Int64
    /// Largest batch timestamp in the segment and the last offset of the batch that carried it.
    var maxTimestamp: Int64 = -1
    var offsetOfMaxTimestamp: Int64
    var bytesSinceLastIndexEntry = 0
    /// Wall-clock time of the first append, for `segment.ms`.
    var rollClockStartMs: Int64?
    /// The `.log` file; its descriptor opens on demand and closes when idle (see `DescriptorCache`).
    let log: CachedFile
    /// Set when a segment is closed: its final index entries must reach the disk with the next flush.
    var indexesNeedSync = false
    /// Closed segments opened after a clean shutdown load their indexes on first use.
    private(set) var indexesLoaded: Bool

    static func fileName(_ baseOffset: Int64, _ suffix: String) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// Parses `00000000000000000042.log` into 42.
    static func baseOffset(fromFileName name: String, suffix: String) -> Int64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == 20, stem.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int64(stem)
    }

    init(
        directory: String, baseOffset: Int64, size: Int64, config: LogConfig, indexesLoaded: Bool,
        descriptors: DescriptorCache
    ) {
        self.baseOffset = baseOffset
        self.logPath = directory + "/" + Segment.fileName(baseOffset, ".log")
        self.log = CachedFile(path: logPath, writable: true, cache: descriptors)
        self.offsetIndex = IndexFile(
            path: directory + "/" + Segment.fileName(baseOffset, ".index"), maxBytes: config.segmentIndexBytes,
            descriptors: descriptors)
        self.timeIndex = IndexFile(
            path: directory + "/" + Segment.fileName(baseOffset, ".timeindex"), maxBytes: config.segmentIndexBytes,
            descriptors: descriptors)
        self.indexIntervalBytes = config.indexIntervalBytes
        self.size = size
        self.syncedSize = size
        self.nextOffset = baseOffset
        self.offsetOfMaxTimestamp = baseOffset
        self.indexesLoaded = indexesLoaded
    }

    /// Creates the files of a new, empty segment.
    static func create(
        directory: String, baseOffset: Int64, config: LogConfig, descriptors: DescriptorCache
    ) throws -> Segment {
        let segment = Segment(
            directory: directory, baseOffset: baseOffset, size: 0, config: config, indexesLoaded: true,
            descriptors: descriptors)
        let fd = try FileIO.open(segment.logPath, flags: O_RDWR | O_CREAT | O_TRUNC)
        Glibc.close(fd)
        try segment.offsetIndex.create()
        try segment.timeIndex.create()
        return segment
    }

    /// A lease on the `.log` file: its descriptor stays valid until the lease is released.
    func openFile() throws -> SegmentFile {
        try log.lease()
    }

    deinit {
        log.retire()
    }

    var isEmpty: Bool { size == 0 }

    func relative(_ offset: Int64) -> UInt32 { UInt32(truncatingIfNeeded: offset - baseOffset) }

    /// Whether `offset` can still be stored relative to this segment's base in a 4-byte index entry.
    func canHold(offset: Int64) -> Bool { offset - baseOffset <= Int64(UInt32.max) }

    // MARK: Appending

    /// Records a batch just written at `position` in the indexes and timestamps.
    func didAppend(_ header: StoredBatchHeader, at position: Int64, indexIntervalBytes: Int) throws {
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            offsetOfMaxTimestamp = header.lastOffset
        }
        if bytesSinceLastIndexEntry >= indexIntervalBytes && position > 0 {
            try offsetIndex.append(
                OffsetIndexEntry(relativeOffset: relative(header.baseOffset), position: UInt32(position)))
            try appendTimeIndexEntryIfAdvanced()
            bytesSinceLastIndexEntry = 0
        }
        bytesSinceLastIndexEntry += header.totalSize
        nextOffset = header.nextOffset
    }

    func appendTimeIndexEntryIfAdvanced() throws {
        guard maxTimestamp >= 0, maxTimestamp > (timeIndex.last?.timestamp ?? -1) else { return }
        try timeIndex.append(TimeIndexEntry(timestamp: maxTimestamp, relativeOffset: relative(offsetOfMaxTimestamp)))
    }

    /// Called when the segment stops being the active one: its time index must end with its largest
    /// timestamp, since that is what retention by time and timestamp lookups read.
    func close() throws {
        try appendTimeIndexEntryIfAdvanced()
    }

    /// Drops the descriptors a closed segment no longer needs, so thousands of segments do not hold
    /// thousands of files open. Readers that hold the log file keep it until they finish.
    func releaseResources() {
        log.closeIfIdle()
        offsetIndex.closeFile()
        timeIndex.closeFile()
    }

    // MARK: Loading and recovery

    /// Loads the indexes of a segment that was closed cleanly, dropping any entry that points past the log or
    /// breaks ordering. Returns a description of what had to be repaired, if anything.
    func loadIndexes() throws -> String? {
        guard !indexesLoaded else { return nil }
        indexesLoaded = true
        guard FileIO.exists(offsetIndex.path), FileIO.exists(timeIndex.path) else {
            try rebuildIndexes(indexIntervalBytes: indexIntervalBytes)
            return "\(logPath): index missing, rebuilt from the log"
        }
        let size = self.size
        let droppedOffsets = try offsetIndex.load { entry, previous in
            Int64(entry.position) < size
                && (previous.map { entry.relativeOffset > $0.relativeOffset && entry.position > $0.position } ?? true)
        }
        let droppedTimes = try timeIndex.load { entry, previous in
            previous.map { entry.timestamp >= $0.timestamp && entry.relativeOffset >= $0.relativeOffset } ?? true
        }
        if let last = timeIndex.last {
            maxTimestamp = last.timestamp
            offsetOfMaxTimestamp = baseOffset + Int64(last.relativeOffset)
        } else if size > 0 {
            try rebuildIndexes(indexIntervalBytes: indexIntervalBytes)
            return "\(logPath): time index empty for a non-empty segment, rebuilt"
        }
        if droppedOffsets + droppedTimes > 0 {
            return "\(logPath): dropped \(droppedOffsets + droppedTimes) index bytes that did not match the log"
        }
        return nil
    }

    /// Rebuilds both indexes from the batch headers of a trusted segment.
    func rebuildIndexes(indexIntervalBytes: Int) throws {
        let file = try openFile()
        try offsetIndex.create()
        try timeIndex.create()
        maxTimestamp = -1
        bytesSinceLastIndexEntry = 0
        var scanner = BatchScanner(file: file, from: 0, to: size, mode: .headers)
        while case .batch(let header, let position) = try scanner.next() {
            try didAppend(header, at: position, indexIntervalBytes: indexIntervalBytes)
        }
        try appendTimeIndexEntryIfAdvanced()
        offsetIndex.closeFile()
        timeIndex.closeFile()
        indexesLoaded = true
    }

    /// Re-reads the segment from `startPosition` checking every batch, rebuilds index entries from there on,
    /// and truncates at the first invalid byte. Returns the bytes scanned and the bytes cut off.
    func recover(
        from startPosition: Int64, indexIntervalBytes: Int, minimumOffset: Int64,
        records: (any StoredRecordsValidator)? = nil
    ) throws
        -> (scanned: Int64, truncated: Int64, reason: InvalidBatch?)
    {
        let file = try openFile()
        let fileSize = try FileIO.size(file.descriptor, path: logPath)
        if startPosition == 0 {
            try offsetIndex.create()
            try timeIndex.create()
            maxTimestamp = -1
            nextOffset = baseOffset
        } else {
            try offsetIndex.truncate { Int64($0.position) < startPosition }
            try timeIndex.truncate { baseOffset + Int64($0.relativeOffset) < nextOffset }
            maxTimestamp = timeIndex.last?.timestamp ?? -1
            offsetOfMaxTimestamp = timeIndex.last.map { baseOffset + Int64($0.relativeOffset) } ?? baseOffset
        }
        indexesLoaded = true
        bytesSinceLastIndexEntry = Int.max / 2
        var scanner = BatchScanner(file: file, from: startPosition, to: fileSize, mode: .verify(records: records))
        var validEnd = startPosition
        var reason: InvalidBatch?
        scanning: while true {
            switch try scanner.next() {
            case .batch(let header, let position):
                // Offsets only grow; a batch that goes backwards is garbage that happens to have a valid CRC.
                guard header.baseOffset >= max(nextOffset, minimumOffset), canHold(offset: header.lastOffset) else {
                    reason = .offsetsNotIncreasing(baseOffset: header.baseOffset, expectedAtLeast: nextOffset)
                    break scanning
                }
                if position == 0 { bytesSinceLastIndexEntry = 0 }
                try didAppend(header, at: position, indexIntervalBytes: indexIntervalBytes)
                validEnd = position + Int64(header.totalSize)
            case .invalid(let why, _):
                reason = why
                break scanning
            case .end:
                break scanning
            }
        }
        if validEnd < fileSize {
            try FileIO.truncate(file.descriptor, to: validEnd, path: logPath)
        }
        try offsetIndex.truncate { Int64($0.position) < validEnd }
        try appendTimeIndexEntryIfAdvanced()
        size = validEnd
        syncedSize = min(syncedSize, validEnd)
        return (scanner.bytesRead, fileSize - validEnd, reason)
    }

    /// Marks the files deleted: indexes go now, the log once its last reader lets go.
    func delete() throws {
        offsetIndex.retire()
        timeIndex.retire()
        try FileIO.remove(offsetIndex.path)
        try FileIO.remove(timeIndex.path)
        try log.markDeleted()
    }
}
