import Glibc

import struct SkeinLogShipping.LogEventFlags

/// FNV-1a, 64 bits. The hash names a file in record headers and in the recovered state, so it must never
/// change between versions or machines; FNV-1a is fixed by its definition, and a file's first kilobyte is
/// not adversarial input.
enum Fingerprint {
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { hash($0) } }

    /// `fp-` and 16 lowercase hex digits, the stream name of a file at least `fingerprint_bytes` long.
    static func stream(_ hash: UInt64) -> String {
        let hex = String(hash, radix: 16)
        return "fp-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The stream name of a file shorter than `fingerprint_bytes`.
    static func inodeStream(device: UInt64, inode: UInt64) -> String { "ino-\(device)-\(inode)" }
}

/// One line cut out of a file: its bytes without the terminator and the file offset just after it.
struct Line: Equatable {
    var bytes: [UInt8]
    var end: Int64
    var flags: LogEventFlags = []
}

/// Cuts the bytes of a file into lines, across reads of any size. A line without its `\n` yet is kept
/// until the rest arrives, so positions always fall just after a line (or after a `split` piece).
struct LineSplitter {
    let maxLineBytes: Int
    let truncateLongLines: Bool
    /// The current line's bytes so far (at most `maxLineBytes`).
    private(set) var pending: [UInt8] = []
    /// Truncating: the kept head is full and the rest of the line is skipped up to its `\n`.
    private var skipping = false

    init(maxLineBytes: Int, truncateLongLines: Bool) {
        self.maxLineBytes = max(1, maxLineBytes)
        self.truncateLongLines = truncateLongLines
    }

    /// Whether part of a line is held.
    var hasPartialLine: Bool { !pending.isEmpty || skipping }

    /// Cuts `chunk`, which starts at file offset `start`, appending complete lines to `lines`. memchr finds
    /// the terminators, so the cost per line is one copy of its bytes.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, start: Int64, into lines: inout [Line]) {
        guard let base = chunk.baseAddress, !chunk.isEmpty else { return }
        var index = 0
        while index < chunk.count {
            let remaining = chunk.count - index
            let found = memchr(base + index, 0x0A, remaining)
            let newline = found.map { base.distance(to: UnsafeRawPointer($0)) }
            let segmentEnd = newline ?? chunk.count
            append(
                UnsafeRawBufferPointer(rebasing: chunk[index..<segmentEnd]), start: start + Int64(index),
                into: &lines)
            guard let newline else { return }
            finishLine(end: start + Int64(newline + 1), into: &lines)
            index = newline + 1
        }
    }

    /// Adds bytes of the current line; in split mode emits full pieces as soon as the line is known to be longer.
    private mutating func append(_ bytes: UnsafeRawBufferPointer, start: Int64, into lines: inout [Line]) {
        var offset = 0
        while offset < bytes.count {
            if skipping { return }
            let room = maxLineBytes - pending.count
            if room == 0 {
                if truncateLongLines {
                    skipping = true
                    return
                }
                // A byte beyond the limit that is not the terminator: the piece so far is complete.
                lines.append(Line(bytes: pending, end: start + Int64(offset), flags: .split))
                pending.removeAll(keepingCapacity: true)
                continue
            }
            let take = min(room, bytes.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
        }
    }

    private mutating func finishLine(end: Int64, into lines: inout [Line]) {
        var flags: LogEventFlags = []
        if skipping {
            flags = .truncated
        } else if pending.last == 0x0D {
            pending.removeLast()
        }
        lines.append(Line(bytes: pending, end: end, flags: flags))
        pending.removeAll(keepingCapacity: true)
        skipping = false
    }

    /// The held partial line as a line ending at `end` (the file's end), for a file that is released after
    /// rotation or deletion; nil when nothing is held.
    mutating func flushPartial(end: Int64) -> Line? {
        guard hasPartialLine else { return nil }
        let line = Line(bytes: pending, end: end, flags: skipping ? .truncated : [])
        reset()
        return line
    }

    mutating func reset() {
        pending.removeAll(keepingCapacity: true)
        skipping = false
    }
}
