import Logging

let storageLogger = Logger(label: "skein.storage")

/// What opening a data directory found and fixed. Operators read it in the log; tests assert on it.
public struct RecoveryReport: Sendable {
    public var cleanShutdown = false
    public var partitions = 0
    public var segments = 0
    public var segmentsRescanned = 0
    public var bytesRescanned: Int64 = 0
    public var bytesTruncated: Int64 = 0
    /// Every stored batch had its records walked at this open (a directory older than the check).
    public var checkedEveryRecord = false
    /// One line per repair: a file removed, an index rebuilt, a tail truncated.
    public var repairs: [String] = []

    mutating func repaired(_ what: String) {
        repairs.append(what)
        storageLogger.warning("repair: \(what)")
    }
}

struct CheckpointEntry: Equatable {
    var recoveryPoint: Int64
    var logStartOffset: Int64
}

/// Opens one partition directory: finds the segments, cleans up leftovers, and decides how much to rescan.
/// After a clean shutdown only the active segment's tail (past its last index entry) is checked; after a
/// crash every segment from the one holding the recovery point on is rescanned, CRC and all.
enum LogLoader {
    static func load(
        directory: String, topicPartition: TopicPartition, config: LogConfig, checkpoint: CheckpointEntry?,
        cleanShutdown: Bool, clock: any LogClock, decompressor: (any RecordDecompressor)?,
        records: (any StoredRecordsValidator)? = nil, descriptors: DescriptorCache, report: inout RecoveryReport
    ) throws -> PartitionLog {
        var logSizes: [Int64: Int64] = [:]
        var indexFiles: [Int64: [String: Int64]] = [:]
        for name in try FileIO.listDirectory(directory) {
            let path = directory + "/" + name
            if name.hasSuffix(SegmentFile.deletedSuffix) || name.hasSuffix(".tmp") {
                try FileIO.remove(path)
                report.repaired("\(path): removed leftover file")
            } else if let base = Segment.baseOffset(fromFileName: name, suffix: ".log") {
                logSizes[base] = FileIO.size(ofFileAt: path) ?? 0
            } else if let base = Segment.baseOffset(fromFileName: name, suffix: ".index") {
                indexFiles[base, default: [:]][".index"] = FileIO.size(ofFileAt: path) ?? 0
            } else if let base = Segment.baseOffset(fromFileName: name, suffix: ".timeindex") {
                indexFiles[base, default: [:]][".timeindex"] = FileIO.size(ofFileAt: path) ?? 0
            } else if name == PartitionTransactions.fileName {
                continue  // read by the partition log below
            } else {
                report.repaired("\(path): not a segment file, ignored")
            }
        }
        for (base, files) in indexFiles where logSizes[base] == nil {
            for suffix in files.keys { try FileIO.remove(directory + "/" + Segment.fileName(base, suffix)) }
            report.repaired("\(directory): removed index files of missing segment \(base)")
        }
        var bases = logSizes.keys.sorted()
        // An empty segment that is not the last holds nothing and would confuse offset lookups.
        for base in bases.dropLast() where logSizes[base] == 0 {
            try removeSegmentFiles(directory: directory, base: base)
            bases.removeAll { $0 == base }
            report.repaired("\(directory): removed empty segment \(Segment.fileName(base, ".log"))")
        }

        var segments: [Segment] = bases.map {
            Segment(
                directory: directory, baseOffset: $0, size: logSizes[$0]!, config: config, indexesLoaded: false,
                descriptors: descriptors)
        }
        if segments.isEmpty {
            segments = [
                try Segment.create(
                    directory: directory, baseOffset: checkpoint?.logStartOffset ?? 0, config: config,
                    descriptors: descriptors)
            ]
        }
        for (index, segment) in segments.enumerated().dropLast() {
            segment.nextOffset = segments[index + 1].baseOffset
        }

        let trustedCheckpoint = cleanShutdown ? checkpoint : nil
        let firstToScan: Int
        if trustedCheckpoint != nil {
            firstToScan = segments.count - 1
        } else {
            let recoveryPoint = checkpoint?.recoveryPoint ?? 0
            firstToScan = segments.lastIndex { $0.baseOffset <= recoveryPoint } ?? 0
        }

        for segment in segments[..<firstToScan] {
            if let problem = indexProblem(of: segment, files: indexFiles[segment.baseOffset]) {
                try segment.rebuildIndexes(indexIntervalBytes: config.indexIntervalBytes)
                report.repaired("\(segment.logPath): \(problem), rebuilt from the log")
            }
        }

        var scanIndex = firstToScan
        while scanIndex < segments.count {
            let segment = segments[scanIndex]
            let previousEnd = scanIndex > 0 ? segments[scanIndex - 1].nextOffset : segment.baseOffset
            var startPosition: Int64 = 0
            if trustedCheckpoint != nil && segment.size > 0 {
                if let problem = indexProblem(of: segment, files: indexFiles[segment.baseOffset]) {
                    report.repaired("\(segment.logPath): \(problem), rebuilt by rescanning the segment")
                    report.segmentsRescanned += 1
                } else {
                    if let repair = try segment.loadIndexes() { report.repaired(repair) }
                    if let last = segment.offsetIndex.last {
                        startPosition = Int64(last.position)
                        segment.nextOffset = segment.baseOffset + Int64(last.relativeOffset)
                    }
                }
            } else if segment.size > 0 {
                report.segmentsRescanned += 1
            }
            let outcome = try segment.recover(
                from: startPosition, indexIntervalBytes: config.indexIntervalBytes, minimumOffset: previousEnd,
                records: records)
            report.bytesRescanned += outcome.scanned
            if outcome.truncated > 0 {
                report.bytesTruncated += outcome.truncated
                let why = outcome.reason.map { "\($0)" } ?? "unknown"
                report.repaired(
                    "\(segment.logPath): truncated \(outcome.truncated) bytes at position \(segment.size) (\(why))")
                // Nothing after a torn or corrupt batch can be trusted to follow it in offset order.
                let later = segments[(scanIndex + 1)...]
                for dropped in later {
                    try dropped.delete()
                    report.repaired("\(dropped.logPath): removed, it followed a truncated segment")
                }
                segments.removeSubrange((scanIndex + 1)...)
            }
            if scanIndex < segments.count - 1 { segment.releaseResources() }
            scanIndex += 1
        }
        // A rescan may leave empty closed segments behind; keep only the last empty one as the active segment.
        while segments.count > 1 && segments[segments.count - 1].isEmpty && segments[segments.count - 2].isEmpty {
            try segments.removeLast().delete()
        }

        let active = segments[segments.count - 1]
        try active.loadIndexes().map { report.repaired($0) }
        active.rollClockStartMs = try firstBatchTimestamp(of: active).map { min($0, clock.milliseconds()) }
        report.partitions += 1
        report.segments += segments.count

        let logEnd = active.nextOffset
        let log = PartitionLog(
            topicPartition: topicPartition, directory: directory, config: config, segments: segments,
            logStartOffset: checkpoint?.logStartOffset ?? segments[0].baseOffset,
            recoveryPoint: trustedCheckpoint != nil ? logEnd : min(checkpoint?.recoveryPoint ?? 0, logEnd),
            clock: clock, decompressor: decompressor, descriptors: descriptors)
        try log.recoverTransactions()
        return log
    }

    /// Why a closed segment's index files cannot be loaded as they are, if they cannot.
    private static func indexProblem(of segment: Segment, files: [String: Int64]?) -> String? {
        guard let offsetSize = files?[".index"], let timeSize = files?[".timeindex"] else { return "index missing" }
        if offsetSize % Int64(OffsetIndexEntry.size) != 0 || timeSize % Int64(TimeIndexEntry.size) != 0 {
            return "index truncated mid-entry"
        }
        if segment.size > 0 && timeSize == 0 { return "time index empty" }
        return nil
    }

    private static func firstBatchTimestamp(of segment: Segment) throws -> Int64? {
        guard !segment.isEmpty else { return nil }
        var scanner = BatchScanner(
            file: try segment.openFile(), from: 0, to: segment.size, mode: .headers, chunkSize: 4096)
        guard case .batch(let header, _) = try scanner.next(), header.maxTimestamp > 0 else { return nil }
        return header.maxTimestamp
    }

    static func removeSegmentFiles(directory: String, base: Int64) throws {
        for suffix in [".log", ".index", ".timeindex"] {
            try FileIO.remove(directory + "/" + Segment.fileName(base, suffix))
        }
    }
}
