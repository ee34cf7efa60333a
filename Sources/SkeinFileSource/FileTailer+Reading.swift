import Glibc
import SkeinLogShipping

/// Reading, truncation and release. Every entry leaves through `emit`, which is where the core's memory
/// cap suspends the source: while it waits nothing else is read.
extension FileTailer {
    /// Reads every followed file up to its end (or its budget). Returns whether some file has more.
    func readPass() async throws -> Bool {
        var more = false
        for file in files.values.sorted(by: { $0.path < $1.path }) where files[file.key] === file {
            if try await read(file) { more = true }
        }
        return more
    }

    /// Reads `file` from its read offset with large preads; no system call per line.
    func read(_ file: TrackedFile) async throws -> Bool {
        guard let info = fileStat(file.fd) else { return false }
        var size = Int64(info.st_size)
        // A write shows in the size or, when the file was truncated and rewritten to the very same length
        // between two looks, only in the modification time; either way the first bytes are compared.
        let modified = ModificationTime(info)
        let changed = size != file.lastSize || modified != file.lastModified
        if !file.isCopy && (size < file.readOffset || (changed && !prefixUnchanged(file))) {
            try await truncated(file, size: size)
            guard files[file.key] === file else { return false }
        }
        if size > file.lastSize { file.lastGrowth = .now }
        if isCopyInProgress(file, size: size) {
            // Not read yet; once it has fingerprint_bytes it is recognised as a copy when opened again.
            if size >= Int64(fingerprintBytes) { forget(file) }
            return false
        }
        upgradeIdentity(file, size: size)
        if file.readOffset == 0 && file.emitted == 0 && file.identity.hasPrefix("fp-") {
            if files.values.contains(where: { $0 !== file && $0.identity == file.identity }) {
                // Opened while short, now fingerprinted as a copy of a followed file: its lines are that
                // file's lines.
                forget(file)
                return false
            }
            if let known = knownOffsets[file.identity] {
                // Opened while short, now fingerprinted as a stream this run already read (the copy of a
                // file truncated meanwhile): it goes on from that stream's position, not from 0. A copy
                // shorter than that holds nothing the stream has not shipped.
                file.readOffset = min(known, size)
                file.emitted = file.readOffset
            }
        }
        skipShipped(file, size: size)
        var events: [LogEvent] = []
        var batchBytes = 0
        // Nothing new: no read. Bytes appended since the fstat come with the next wakeup.
        var budget = size > file.readOffset ? FileTailer.fileBudget : 0
        var lines: [Line] = []
        var entries: [MultilineAggregator.Entry] = []
        while budget > 0 {
            let n = preadFully(file.fd, buffer.baseAddress!, FileTailer.readSize, file.readOffset)
            if n <= 0 { break }
            lines.removeAll(keepingCapacity: true)
            file.splitter.feed(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), start: file.readOffset, into: &lines)
            file.readOffset += Int64(n)
            budget -= n
            metrics.bytesRead.increment(by: n)
            metrics.linesRead.increment(by: lines.count)
            let now = FileTailer.nowMilliseconds()
            if file.multiline != nil {
                let instant = ContinuousClock.now
                entries.removeAll(keepingCapacity: true)
                for line in lines { file.multiline!.add(line, now: instant, into: &entries) }
                for entry in entries {
                    events.append(event(file, entry.bytes, end: entry.end, flags: entry.flags, time: now))
                    batchBytes += entry.bytes.count
                }
            } else {
                for line in lines {
                    events.append(event(file, line.bytes, end: line.end, flags: line.flags, time: now))
                    batchBytes += line.bytes.count
                }
            }
            if events.count >= FileTailer.batchEvents || batchBytes >= FileTailer.batchBytes {
                try await emit(file, &events)
                batchBytes = 0
            }
            if n < FileTailer.readSize { break }
        }
        try await emit(file, &events)
        size = max(size, file.readOffset)
        file.lastSize = size
        file.lastModified = modified
        file.lag.set(Int(size - file.emitted))
        return budget <= 0 && size > file.readOffset
    }

    /// When another followed file carrying the same stream already shipped beyond this file's position, goes
    /// on from there: a stream's positions are shared by every file that starts with its bytes, so shipping
    /// them again would repeat lines under one stream name.
    func skipShipped(_ file: TrackedFile, size: Int64) {
        guard file.identity.hasPrefix("fp-"), let shipped = shippedOffsets[file.identity], shipped > file.emitted
        else { return }
        if shipped >= size {
            // A copy that holds less than the other file shipped (it was read past the copy's end before
            // the truncation): nothing here is new until it grows past that point.
            file.readOffset = size
            file.emitted = size
            file.splitter = newSplitter()
            file.multiline = newMultiline()
            return
        }
        guard plausibleOffset(file.fd, shipped, size: size) else { return }
        logger.debug(
            "another file of the same stream shipped further: skipping ahead",
            metadata: [
                "path": "\(file.path)", "stream": "\(file.identity)", "from": "\(file.emitted)", "to": "\(shipped)",
            ])
        file.readOffset = shipped
        file.emitted = shipped
        file.splitter = newSplitter()
        file.multiline = newMultiline()
    }

    /// Whether another followed file carries `stream`: its position must not leave the checkpoints yet.
    func otherCarrier(of stream: String, besides file: TrackedFile, or other: TrackedFile? = nil) -> TrackedFile? {
        files.values.first { $0 !== file && $0 !== other && $0.identity == stream }
    }

    func event(_ file: TrackedFile, _ bytes: [UInt8], end: Int64, flags: LogEventFlags, time: Int64) -> LogEvent {
        LogEvent(
            timestampMilliseconds: time, message: bytes, unit: file.path,
            fields: [("path", .string(file.path)), ("file_id", .string(file.identity))],
            stream: file.identity, position: String(end), flags: flags)
    }

    /// Hands a batch to the core and moves the stream's position past it.
    func emit(_ file: TrackedFile, _ events: inout [LogEvent]) async throws {
        guard let last = events.last else { return }
        try await sink.emit(events)
        file.emitted = Int64(last.position) ?? file.emitted
        if last.stream.hasPrefix("fp-") && file.emitted > shippedOffsets[last.stream, default: 0] {
            shippedOffsets[last.stream] = file.emitted
        }
        events.removeAll(keepingCapacity: true)
        if !file.staleIdentities.isEmpty && last.stream == file.identity {
            for stale in file.staleIdentities where stale != file.identity { await sink.retire(stream: stale) }
            file.staleIdentities.removeAll()
        }
    }

    /// Whether the first bytes are still the ones first read; also extends the remembered prefix of a
    /// file that was shorter than `fingerprint_bytes`. One small pread per pass that saw growth.
    func prefixUnchanged(_ file: TrackedFile) -> Bool {
        let prefix = readPrefix(file.fd, fingerprintBytes)
        if file.prefixLength > 0 {
            guard prefix.count >= file.prefixLength,
                prefix.withUnsafeBytes({ Fingerprint.hash(UnsafeRawBufferPointer(rebasing: $0[0..<file.prefixLength])) }
                )
                    == file.prefixHash
            else { return false }
        }
        file.prefixLength = prefix.count
        file.prefixHash = Fingerprint.hash(prefix)
        return true
    }

    /// A file shorter than `fingerprint_bytes` that reached it goes on under its fingerprint from the
    /// same offset; the `ino-` stream is retired once a record carries the new name.
    func upgradeIdentity(_ file: TrackedFile, size: Int64) {
        guard file.identity.hasPrefix("ino-"), size >= Int64(fingerprintBytes) else { return }
        let prefix = readPrefix(file.fd, fingerprintBytes)
        guard prefix.count >= fingerprintBytes else { return }
        file.staleIdentities.append(file.identity)
        file.identity = Fingerprint.stream(Fingerprint.hash(prefix))
        file.prefixLength = prefix.count
        file.prefixHash = Fingerprint.hash(prefix)
    }

    /// The file is shorter than what was read, or its first bytes changed: copytruncate or a plain
    /// truncation. If a file next to it starts with the same bytes and reaches our position, it is the
    /// copy: it takes over the stream and is read from our position to its end, which recovers the lines
    /// written between our last read and the copy. The file itself starts over as a new stream at 0.
    func truncated(_ file: TrackedFile, size: Int64) async throws {
        metrics.truncations.increment()
        var oldIdentity: String? = file.identity
        if let (copyFD, copyInfo, copyPath) = findCopy(of: file) {
            let copy = TrackedFile(
                fd: copyFD, key: FileKey(copyInfo), path: copyPath, identity: file.identity, offset: file.emitted,
                size: Int64(copyInfo.st_size), splitter: file.splitter, multiline: file.multiline, metrics: metrics)
            copy.readOffset = file.readOffset
            copy.prefixLength = file.prefixLength
            copy.prefixHash = file.prefixHash
            copy.staleIdentities = file.staleIdentities
            copy.isCopy = true
            copy.lostBeyondCopy = file.lastSize > max(Int64(copyInfo.st_size), file.readOffset)
            if copy.lostBeyondCopy {
                logger.debug(
                    "copytruncate: the file was seen longer than its copy",
                    metadata: [
                        "path": "\(file.path)", "seen": "\(file.lastSize)", "copy_size": "\(copyInfo.st_size)",
                        "read": "\(file.readOffset)", "now": "\(size)",
                    ])
            }
            copy.relabelLag(copyPath + " (copy)", metrics: metrics)
            logger.info(
                "copytruncate: reading the rest from the copy",
                metadata: ["path": "\(file.path)", "copy": "\(copyPath)", "offset": "\(file.emitted)"])
            // Read it all now, so the stream's positions end before the file starts over (a short file
            // keeps its `ino-` name across the truncation). Bounded: nobody writes to the copy.
            var rounds = 0
            while try await read(copy), rounds < 100_000 { rounds += 1 }
            try await release(copy, truncated: file)
            oldIdentity = nil  // retired by the copy's release
        } else {
            var events: [LogEvent] = []
            var lost = 0
            if let carrier = otherCarrier(of: file.identity, besides: file) {
                // The copy is already followed under this stream: it carries the bytes beyond our position,
                // and skipShipped lets it go on from where we stopped. Lost only what it does not hold.
                let carried = fileStat(carrier.fd).map { Int64($0.st_size) } ?? 0
                if file.lastSize > max(carried, file.readOffset) { lost = 1 }
            } else if file.splitter.hasPartialLine {
                // The rest of this line was written after our read and cut away: a line provably lost.
                lost = 1
            } else if file.lastSize > file.readOffset {
                lost = 1
            }
            if lost > 0 {
                logger.debug(
                    "truncated with no copy: counting a lost line",
                    metadata: [
                        "path": "\(file.path)", "seen": "\(file.lastSize)", "read": "\(file.readOffset)",
                        "partial": "\(file.splitter.hasPartialLine)", "now": "\(size)",
                    ])
            }
            if let entry = file.multiline?.flush(now: .now, force: true) {
                events.append(
                    event(file, entry.bytes, end: entry.end, flags: entry.flags, time: FileTailer.nowMilliseconds()))
            }
            try await emit(file, &events)
            countLost(lost)
            // Its copy may still appear under a name the globs match: it must go on from here.
            if file.identity.hasPrefix("fp-") { knownOffsets[file.identity] = file.emitted }
        }
        // Start over as a new file at 0.
        file.splitter = newSplitter()
        file.multiline = newMultiline()
        file.emitted = 0
        file.readOffset = 0
        file.lastSize = 0
        file.staleIdentities = []
        let prefix = readPrefix(file.fd, fingerprintBytes)
        file.prefixLength = prefix.count
        file.prefixHash = Fingerprint.hash(prefix)
        file.identity =
            prefix.count >= fingerprintBytes
            ? Fingerprint.stream(Fingerprint.hash(prefix))
            : Fingerprint.inodeStream(device: file.key.device, inode: file.key.inode)
        if let oldIdentity, oldIdentity != file.identity, otherCarrier(of: oldIdentity, besides: file) == nil {
            shippedOffsets[oldIdentity] = nil
            await sink.retire(stream: oldIdentity)
        }
    }

    /// Whether a file nothing has been read from starts with the same bytes as a followed file: the copy
    /// copytruncate (or `cp`) is writing. Opened when it was created, it would otherwise be read from 0 as a
    /// new short file, and when it passed fingerprint_bytes it would carry the original's stream name:
    /// every line of the original twice. It is left unread while it matches.
    func isCopyInProgress(_ file: TrackedFile, size: Int64) -> Bool {
        guard file.readOffset == 0, file.emitted == 0, size > 0, !file.isCopy else { return false }
        let count = Int(min(size, Int64(fingerprintBytes)))
        let head = readPrefix(file.fd, count)
        guard head.count == count else { return false }
        for other in files.values where other !== file && !other.isCopy && other.readOffset >= Int64(count) {
            if readPrefix(other.fd, count) == head { return true }
        }
        return false
    }

    /// Stops following a file without retiring anything: nothing of it was emitted.
    func forget(_ file: TrackedFile) {
        guard files[file.key] === file else { return }
        files[file.key] = nil
        Glibc.close(file.fd)
        metrics.removeLag(path: file.lagLabel)
    }

    func countLost(_ lost: Int) {
        guard lost > 0 else { return }
        metrics.linesLost.increment(by: lost)
        sink.dropped(lost, reason: "copytruncate")
    }

    /// A regular file in the same directory, not followed, at least as long as our position, whose first
    /// `prefixLength` bytes hash like the truncated file's did.
    func findCopy(of file: TrackedFile) -> (Int32, stat, String)? {
        guard file.prefixLength > 0 else { return nil }
        let directory: String
        if let slash = file.path.lastIndex(of: "/") {
            directory = file.path[..<slash].isEmpty ? "/" : String(file.path[..<slash])
        } else {
            directory = "."
        }
        var examined = 0
        for (name, type) in listDirectory(directory) where type == .other {
            examined += 1
            if examined > 10_000 { break }
            let path = directory == "/" ? "/" + name : (directory == "." ? name : directory + "/" + name)
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            // A copy still being written when it was found is followed but has been left unread.
            if let info = fileStat(fd), (info.st_mode & S_IFMT) == S_IFREG,
                files[FileKey(info)].map({ $0.readOffset == 0 && $0.emitted == 0 && $0 !== file }) ?? true,
                Int64(info.st_size) >= file.emitted
            {
                let prefix = readPrefix(fd, file.prefixLength)
                if prefix.count == file.prefixLength && Fingerprint.hash(prefix) == file.prefixHash {
                    if let tracked = files[FileKey(info)] { forget(tracked) }
                    return (fd, info, path)
                }
            }
            Glibc.close(fd)
        }
        return nil
    }

    /// Emits multiline entries whose timeout passed.
    func flushMultilineTimeouts() async throws {
        let now = ContinuousClock.now
        for file in files.values where file.multiline?.deadline.map({ $0 <= now }) == true {
            guard let entry = file.multiline?.flush(now: now) else { continue }
            var events = [
                event(file, entry.bytes, end: entry.end, flags: entry.flags, time: FileTailer.nowMilliseconds())
            ]
            try await emit(file, &events)
            file.lag.set(Int(file.lastSize - file.emitted))
        }
    }

    /// Releases files that no path names any more once read to their end and quiet for
    /// `rotate_wait_seconds`.
    func releaseFinished() async throws {
        let now = ContinuousClock.now
        for file in Array(files.values) {
            guard let since = file.unmatchedSince else { continue }
            guard let info = fileStat(file.fd), Int64(info.st_size) <= file.readOffset else { continue }
            guard now >= max(since, file.lastGrowth) + rotateWait else { continue }
            try await release(file)
        }
        metrics.filesWatched.set(files.count)
    }

    /// Emits what is held and closes the file. A partial last line is emitted (its writer is gone), except
    /// in a copytruncate copy, where it is a line cut by the truncation and counted as lost. `original` is
    /// the truncated file a copy was read for: it still carries the stream's name until it starts over.
    func release(_ file: TrackedFile, truncated original: TrackedFile? = nil) async throws {
        let now = ContinuousClock.now
        var events: [LogEvent] = []
        let time = FileTailer.nowMilliseconds()
        var lost = file.isCopy && file.lostBeyondCopy ? 1 : 0
        var partial = file.splitter.flushPartial(end: file.readOffset)
        if file.isCopy, let cut = partial {
            logger.debug(
                "copytruncate: the copy ends inside a line",
                metadata: ["path": "\(file.path)", "end": "\(file.readOffset)", "bytes": "\(cut.bytes.count)"])
            lost = 1
            partial = nil
        }
        if var multiline = file.multiline {
            var entries: [MultilineAggregator.Entry] = []
            if let partial { multiline.add(partial, now: now, into: &entries) }
            if let last = multiline.flush(now: now, force: true) { entries.append(last) }
            file.multiline = nil
            for entry in entries {
                events.append(event(file, entry.bytes, end: entry.end, flags: entry.flags, time: time))
            }
        } else if let partial {
            events.append(event(file, partial.bytes, end: partial.end, flags: partial.flags, time: time))
        }
        try await emit(file, &events)
        countLost(lost)
        if files[file.key] === file { files[file.key] = nil }
        Glibc.close(file.fd)
        metrics.removeLag(path: file.lagLabel)
        if file.identity.hasPrefix("fp-") { knownOffsets[file.identity] = file.emitted }
        if file.isCopy {
            // A copy the globs match is opened again by the next scan under its own inode name: it was read.
            knownOffsets[Fingerprint.inodeStream(device: file.key.device, inode: file.key.inode)] = file.readOffset
        }
        for stale in file.staleIdentities where stale != file.identity { await sink.retire(stream: stale) }
        if otherCarrier(of: file.identity, besides: file, or: original) == nil {
            shippedOffsets[file.identity] = nil
            await sink.retire(stream: file.identity)
        }
        logger.debug("released file", metadata: ["path": "\(file.path)", "stream": "\(file.identity)"])
    }
}
