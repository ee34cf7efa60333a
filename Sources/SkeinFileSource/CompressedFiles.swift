import Glibc
import SkeinCompression
import SkeinLogShipping

/// Rotated `.gz` files (`read_compressed = true`). A compressed file never grows, so it is read once,
/// whole, from the position its decompressed fingerprint is known at; a fingerprint that is followed
/// or already released in this run was read as the plain file it was before compression.
extension FileTailer {
    /// The largest decompressed size read; a larger file is skipped with a warning, because it would be
    /// held in memory beside the core's buffer.
    static let maxDecompressedBytes = 256 * 1024 * 1024

    func readCompressedFile(path: String, key: FileKey, initial: Bool) async throws {
        guard !compressedSeen.contains(key) else { return }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        // gzip may still be writing it: an incomplete file is tried again when its size has changed.
        guard let info = fileStat(fd), info.st_size > 0, compressedFailed[key] != Int64(info.st_size) else { return }
        var compressed = [UInt8](repeating: 0, count: Int(info.st_size))
        let n = compressed.withUnsafeMutableBytes { preadFully(fd, $0.baseAddress!, $0.count, 0) }
        compressed.removeLast(compressed.count - n)
        let content: [UInt8]
        do {
            content = try decompress(compressed, codec: .gzip, maxOutputBytes: FileTailer.maxDecompressedBytes)
        } catch {
            compressedFailed[key] = Int64(info.st_size)
            logger.debug("cannot read a compressed file yet", metadata: ["path": "\(path)", "error": "\(error)"])
            return
        }
        compressedSeen.insert(key)
        compressedFailed[key] = nil
        let identity =
            content.count >= fingerprintBytes
            ? Fingerprint.stream(Fingerprint.hash(Array(content[0..<fingerprintBytes])))
            : Fingerprint.inodeStream(device: key.device, inode: key.inode)
        if files.values.contains(where: { $0.identity == identity }) { return }
        let offset: Int64
        if let known = knownOffsets[identity] {
            offset = known
        } else if initial {
            // Present at start with an unknown fingerprint: taken as read before (it was most likely
            // read as the plain file, whose stream was retired), so a restart never repeats it.
            offset = settings.startAt == .beginning && !state.found ? 0 : Int64(content.count)
        } else {
            offset = 0
        }
        guard offset < Int64(content.count) else { return }
        var splitter = newSplitter()
        var multiline = newMultiline()
        var lines: [Line] = []
        content.withUnsafeBytes { bytes in
            splitter.feed(UnsafeRawBufferPointer(rebasing: bytes[Int(offset)...]), start: offset, into: &lines)
        }
        if let last = splitter.flushPartial(end: Int64(content.count)) { lines.append(last) }
        metrics.bytesRead.increment(by: content.count - Int(offset))
        metrics.linesRead.increment(by: lines.count)
        let time = FileTailer.nowMilliseconds()
        let fields: [(String, LogFieldValue)] = [("path", .string(path)), ("file_id", .string(identity))]
        var events: [LogEvent] = []
        func add(_ bytes: [UInt8], _ end: Int64, _ flags: LogEventFlags) {
            events.append(
                LogEvent(
                    timestampMilliseconds: time, message: bytes, unit: path, fields: fields, stream: identity,
                    position: String(end), flags: flags))
        }
        if multiline != nil {
            var entries: [MultilineAggregator.Entry] = []
            for line in lines { multiline!.add(line, now: .now, into: &entries) }
            if let last = multiline!.flush(now: .now, force: true) { entries.append(last) }
            for entry in entries { add(entry.bytes, entry.end, entry.flags) }
        } else {
            for line in lines { add(line.bytes, line.end, line.flags) }
        }
        var start = 0
        while start < events.count {
            let end = min(events.count, start + FileTailer.batchEvents)
            try await sink.emit(Array(events[start..<end]))
            start = end
        }
        if identity.hasPrefix("fp-") { knownOffsets[identity] = Int64(content.count) }
        await sink.retire(stream: identity)
    }
}
