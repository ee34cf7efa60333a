import Glibc
import Logging
import SkeinLogShipping
import SkeinMetrics

/// The file source: follows the files that `paths` matches and hands their lines to the delivery core.
/// Each run builds a `FileTailer` that lives on the run's task alone, so its state needs no locks.
public struct FileSource: LogSource {
    public let settings: FileSourceSettings
    public let topic: String
    public var id: String { settings.id }
    public var kind: String { "file" }
    let metrics: FileSourceMetrics
    let logger: Logger
    /// Called once per turn of the source's loop; tests count turns to prove an idle source sleeps.
    var onLoopTurn: (@Sendable () -> Void)?

    public init(settings: FileSourceSettings, defaultTopic: String, metrics: MetricsRegistry, logger: Logger) {
        self.settings = settings
        self.topic = settings.topic ?? defaultTopic
        self.metrics = FileSourceMetrics(source: settings.id, registry: metrics)
        self.logger = logger
    }

    public func run(from state: SourceState, into sink: SourceSink) async throws {
        let tailer = try FileTailer(settings: settings, state: state, sink: sink, metrics: metrics, logger: logger)
        tailer.onLoopTurn = onLoopTurn
        defer { tailer.close() }
        do {
            try await tailer.run()
        } catch is CancellationError {
            // Shutdown: what was emitted is the core's; held lines are read again at the next start.
            await tailer.retireDeletedFiles()
        }
    }
}

/// The state of one run of a file source.
final class FileTailer {
    let settings: FileSourceSettings
    let state: SourceState
    let sink: SourceSink
    let metrics: FileSourceMetrics
    let logger: Logger
    let includes: [Glob]
    let excludes: [Glob]
    let wakeup = Wakeup()
    let watcher: DirectoryWatcher
    /// One read buffer for every file: reads are sequential within a run.
    let buffer: UnsafeMutableRawBufferPointer
    static let readSize = 256 * 1024
    /// Bytes read from one file before the others get their turn.
    static let fileBudget = 4 * 1024 * 1024
    static let batchEvents = 4096
    static let batchBytes = 1024 * 1024

    var files: [FileKey: TrackedFile] = [:]
    /// Stream → offset for files not open now: the recovered positions, then positions of files released
    /// during this run (fingerprint identities only; an `ino-` name can be reused by another file).
    var knownOffsets: [String: Int64] = [:]
    /// Fingerprint stream → the position just after its last emitted entry, while a followed file carries
    /// it. Two followed files can carry one stream for a moment (copytruncate's copy opened before the
    /// truncation is seen); whichever reads second skips what the first already shipped.
    var shippedOffsets: [String: Int64] = [:]
    /// `.gz` files already considered, by inode.
    var compressedSeen: Set<FileKey> = []
    var onLoopTurn: (@Sendable () -> Void)?
    /// `.gz` files that did not decompress, with their size then (gzip may still be writing them).
    var compressedFailed: [FileKey: Int64] = [:]
    let rotateWait: Duration
    let fingerprintBytes: Int

    init(
        settings: FileSourceSettings, state: SourceState, sink: SourceSink, metrics: FileSourceMetrics,
        logger: Logger
    ) throws {
        self.settings = settings
        self.state = state
        self.sink = sink
        self.metrics = metrics
        self.logger = logger
        includes = settings.paths.map(Glob.init)
        excludes = settings.exclude.map(Glob.init)
        fingerprintBytes = max(1, settings.fingerprintBytes)
        rotateWait = .milliseconds(Int64(max(0, settings.rotateWaitSeconds) * 1000))
        if let multiline = settings.multiline { _ = try MultilineAggregator(settings: multiline) }
        for (stream, position) in state.positions {
            if let offset = Int64(position), offset >= 0 { knownOffsets[stream] = offset }
        }
        watcher = try DirectoryWatcher(wakeup: wakeup)
        buffer = .allocate(byteCount: FileTailer.readSize, alignment: 16)
    }

    func close() {
        watcher.stop()
        for file in files.values {
            Glibc.close(file.fd)
            metrics.removeLag(path: file.lagLabel)
        }
        files.removeAll()
        metrics.filesWatched.set(0)
        buffer.deallocate()
    }

    func run() async throws {
        let scanInterval = Duration.milliseconds(Int64(max(0.05, settings.scanIntervalSeconds) * 1000))
        try await scan(initial: true)
        // Streams no file on disk carries any more leave the positions (and the next checkpoint).
        for gone in adoptRotatedFiles().sorted() {
            knownOffsets[gone] = nil
            await sink.retire(stream: gone)
        }
        var nextScan = ContinuousClock.now + scanInterval
        while !Task.isCancelled {
            onLoopTurn?()
            if watcher.takeStructuralChange() || ContinuousClock.now >= nextScan {
                try await scan(initial: false)
                nextScan = ContinuousClock.now + scanInterval
            }
            let more = try await readPass()
            try await flushMultilineTimeouts()
            try await releaseFinished()
            if more {
                await Task.yield()
                continue
            }
            var deadline = nextScan
            for file in files.values {
                if let due = file.multiline?.deadline { deadline = min(deadline, due) }
                if let since = file.unmatchedSince {
                    deadline = min(deadline, max(since, file.lastGrowth) + rotateWait)
                }
            }
            let now = ContinuousClock.now
            if deadline > now { await wakeup.wait(timeout: deadline - now) }
        }
        throw CancellationError()
    }

    func newSplitter() -> LineSplitter {
        LineSplitter(maxLineBytes: settings.maxLineBytes, truncateLongLines: settings.longLines == .truncate)
    }

    func newMultiline() -> MultilineAggregator? {
        settings.multiline.flatMap { try? MultilineAggregator(settings: $0) }
    }

    func isExcluded(_ path: String) -> Bool { excludes.contains { $0.matches(path) } }

    // MARK: Finding files

    /// Expands the globs, points inotify at the directories that decide them, opens new files and marks
    /// followed files no path names any more.
    func scan(initial: Bool) async throws {
        var expansion = GlobExpansion()
        for glob in includes { glob.expand(into: &expansion) }
        watcher.watch(expansion.directories)
        var seen: [FileKey: String] = [:]
        for path in Set(expansion.files).sorted() where !isExcluded(path) {
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let key = FileKey(info)
            guard seen[key] == nil else { continue }
            seen[key] = path
            if path.hasSuffix(".gz") {
                if settings.readCompressed { try await readCompressedFile(path: path, key: key, initial: initial) }
                continue
            }
            if let file = files[key] {
                if file.path != path && !file.isCopy {
                    // Renamed to another name the globs match: the same stream goes on under the new name.
                    metrics.rotations.increment()
                    file.path = path
                    file.relabelLag(path, metrics: metrics)
                }
                file.unmatchedSince = nil
                continue
            }
            openFile(path: path, initial: initial)
        }
        for file in files.values where seen[file.key] == nil && file.unmatchedSince == nil && !file.isCopy {
            file.unmatchedSince = .now
            let deleted = (fileStat(file.fd)?.st_nlink ?? 0) == 0
            if !deleted { metrics.rotations.increment() }
            file.relabelLag(file.path + (deleted ? " (deleted)" : " (rotated)"), metrics: metrics)
        }
        metrics.filesWatched.set(files.count)
    }

    /// Opens a file the globs newly match and decides where its stream starts.
    func openFile(path: String, initial: Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        guard let info = fileStat(fd), (info.st_mode & S_IFMT) == S_IFREG else {
            Glibc.close(fd)
            return
        }
        let key = FileKey(info)
        guard files[key] == nil else {
            // Replaced between stat and open by a file that is already followed.
            Glibc.close(fd)
            return
        }
        let size = Int64(info.st_size)
        let prefix = readPrefix(fd, fingerprintBytes)
        let inodeIdentity = Fingerprint.inodeStream(device: key.device, inode: key.inode)
        let identity = prefix.count >= fingerprintBytes ? Fingerprint.stream(Fingerprint.hash(prefix)) : inodeIdentity
        if identity.hasPrefix("fp-") && files.values.contains(where: { $0.identity == identity }) {
            // A copy of a followed file (copytruncate's, or `cp`): its lines are that file's lines.
            Glibc.close(fd)
            return
        }
        var offset: Int64
        var stale: [String] = []
        if let known = knownOffsets[identity], plausibleOffset(fd, known, size: size) {
            offset = known
        } else if identity.hasPrefix("fp-"), let known = knownOffsets[identity], known > size {
            // A copy made before its stream went further (copytruncate's, found after the truncation):
            // every line it holds was shipped.
            offset = size
        } else if identity != inodeIdentity, let known = knownOffsets[inodeIdentity],
            plausibleOffset(fd, known, size: size)
        {
            // Reached fingerprint_bytes while the agent was away: same file, same offset.
            offset = known
            stale = [inodeIdentity]
        } else if initial && !state.found {
            offset = settings.startAt == .beginning ? 0 : lastLineBoundary(fd, size: size)
        } else {
            offset = 0
        }
        if offset > size {
            // Truncated while the agent was away; what was beyond `size` in the old content is unknowable.
            metrics.truncations.increment()
            offset = 0
        }
        // `size: offset`: the bytes beyond the offset were not looked at by a read yet, so a truncation before
        // the first read proves no loss (they may be in a copy that is followed under another name).
        let file = TrackedFile(
            fd: fd, key: key, path: path, identity: identity, offset: offset, size: offset,
            splitter: newSplitter(), multiline: newMultiline(), metrics: metrics)
        file.prefixLength = prefix.count
        file.prefixHash = Fingerprint.hash(prefix)
        file.staleIdentities = stale
        file.lag.set(Int(size - offset))
        files[key] = file
        logger.debug("following file", metadata: ["path": "\(path)", "stream": "\(identity)", "offset": "\(offset)"])
    }

    /// At start, recovered streams that no glob path names may be files rotated away while the agent was
    /// down (renamed, or copytruncate's copy). Looks for them in the watched directories and reads them
    /// from the recovered position to their end, so the lines written before the rotation are not lost.
    /// Returns the recovered streams that no file in the watched directories carries.
    func adoptRotatedFiles() -> Set<String> {
        let claimed = Set(files.values.flatMap { [$0.identity] + $0.staleIdentities })
        var wanted = Set(knownOffsets.keys).subtracting(claimed)
        guard !wanted.isEmpty else { return [] }
        defer { metrics.filesWatched.set(files.count) }
        var examined = 0
        for directory in watcher.watchedDirectories.sorted() {
            for (name, type) in listDirectory(directory) where type == .other && !name.hasSuffix(".gz") {
                examined += 1
                // Past the bound nothing is known to be gone.
                guard examined <= 10_000 else { return [] }
                guard !wanted.isEmpty else { return [] }
                let path = directory == "/" ? "/" + name : directory + "/" + name
                guard !isExcluded(path) else { continue }
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                guard let info = fileStat(fd), (info.st_mode & S_IFMT) == S_IFREG, files[FileKey(info)] == nil else {
                    Glibc.close(fd)
                    continue
                }
                let key = FileKey(info)
                let prefix = readPrefix(fd, fingerprintBytes)
                let inodeIdentity = Fingerprint.inodeStream(device: key.device, inode: key.inode)
                let identity =
                    prefix.count >= fingerprintBytes ? Fingerprint.stream(Fingerprint.hash(prefix)) : inodeIdentity
                let match =
                    wanted.contains(identity) ? identity : (wanted.contains(inodeIdentity) ? inodeIdentity : nil)
                guard let match, let offset = knownOffsets[match], offset <= Int64(info.st_size),
                    plausibleOffset(fd, offset, size: Int64(info.st_size))
                else {
                    Glibc.close(fd)
                    continue
                }
                wanted.remove(match)
                let file = TrackedFile(
                    fd: fd, key: key, path: path, identity: identity, offset: offset, size: offset,
                    splitter: newSplitter(), multiline: newMultiline(), metrics: metrics)
                file.prefixLength = prefix.count
                file.prefixHash = Fingerprint.hash(prefix)
                if match != identity { file.staleIdentities = [match] }
                file.unmatchedSince = .now
                file.relabelLag(path + " (rotated)", metrics: metrics)
                files[key] = file
                logger.info("reading a rotated file to its end", metadata: ["path": "\(path)", "stream": "\(match)"])
            }
        }
        return wanted
    }

    /// A recovered position can belong to another file: an `ino-` one when a deleted file's inode was
    /// reused, an `fp-` one when two files start with the same `fingerprint_bytes`. Positions fall after a
    /// `\n` (or at the end of a released file), so one that does not is not this file's and the file is
    /// read from 0 instead: a duplicate rather than a loss.
    func plausibleOffset(_ fd: Int32, _ offset: Int64, size: Int64) -> Bool {
        guard offset > 0, offset < size else { return offset == 0 || offset == size }
        var byte: UInt8 = 0
        guard pread(fd, &byte, 1, off_t(offset - 1)) == 1 else { return false }
        if byte == 0x0A { return true }
        guard settings.longLines == .split else { return false }
        // After a `split` piece: pieces end every max_line_bytes from their line's start.
        let pieceBytes = Int64(max(1, settings.maxLineBytes))
        let window = min(offset, 4 * pieceBytes)
        var bytes = [UInt8](repeating: 0, count: Int(window))
        let n = bytes.withUnsafeMutableBytes { preadFully(fd, $0.baseAddress!, $0.count, offset - window) }
        guard n == Int(window) else { return false }
        let lineStart = bytes.lastIndex(of: 0x0A).map { offset - window + Int64($0) + 1 } ?? (offset - window)
        if bytes.lastIndex(of: 0x0A) == nil && offset > window { return true }  // a very long line: cannot tell
        return (offset - lineStart) % pieceBytes == 0
    }

    /// At shutdown, files deleted and read to their end are retired now rather than after their wait:
    /// an `ino-` position left behind could be taken for a new file that reuses the inode.
    func retireDeletedFiles() async {
        for file in files.values where file.unmatchedSince != nil && !file.splitter.hasPartialLine {
            guard let info = fileStat(file.fd), info.st_nlink == 0, Int64(info.st_size) <= file.readOffset,
                file.emitted == file.readOffset, file.multiline?.current == nil
            else { continue }
            for stale in file.staleIdentities where stale != file.identity { await sink.retire(stream: stale) }
            await sink.retire(stream: file.identity)
        }
    }

    /// Milliseconds since the epoch: the time read, which is the record's timestamp.
    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
