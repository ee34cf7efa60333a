/// Walks the batches of a segment file in order, reading in large chunks so that a scan costs one pread per
/// chunk rather than one per batch.
struct BatchScanner {
    enum Step {
        case batch(StoredBatchHeader, position: Int64)
        /// The bytes at `position` are not a valid batch: a torn write, garbage, or corruption.
        case invalid(InvalidBatch, position: Int64)
        case end
    }

    enum Mode {
        /// Reads only headers: for lookups and index rebuilds of segments that are trusted.
        case headers
        /// Checks length, magic and CRC of every batch, and its records when a validator is given: for recovery.
        case verify(records: (any StoredRecordsValidator)?)
    }

    private let fd: Int32
    private let path: String
    private let end: Int64
    private let mode: Mode
    private let chunkSize: Int
    private(set) var position: Int64
    private let buffer = ScanBuffer()
    private var bufferStart: Int64 = 0
    private var bufferCount = 0
    private(set) var bytesRead: Int64 = 0

    init(file: SegmentFile, from position: Int64, to end: Int64, mode: Mode, chunkSize: Int = 1 << 20) {
        self.init(
            descriptor: file.descriptor, path: file.path, from: position, to: end, mode: mode, chunkSize: chunkSize)
    }

    init(descriptor: Int32, path: String, from position: Int64, to end: Int64, mode: Mode, chunkSize: Int = 1 << 20) {
        self.fd = descriptor
        self.path = path
        self.position = position
        self.end = end
        self.mode = mode
        self.chunkSize = chunkSize
    }

    mutating func next() throws -> Step {
        guard position < end else { return .end }
        let start = position
        let remaining = Int(end - start)
        guard remaining >= StoredBatchHeader.logOverhead else {
            return .invalid(.truncated(available: remaining, needed: StoredBatchHeader.logOverhead), position: start)
        }
        try fill(from: start, count: StoredBatchHeader.logOverhead)
        let length: Int32 = window(start, StoredBatchHeader.logOverhead).bigEndian(at: 8)
        guard length >= Int32(StoredBatchHeader.size - StoredBatchHeader.logOverhead) else {
            return .invalid(.invalidLength(length), position: start)
        }
        let total = StoredBatchHeader.logOverhead + Int(length)
        guard total <= remaining else {
            return .invalid(.truncated(available: remaining, needed: total), position: start)
        }
        let header: StoredBatchHeader
        switch mode {
        case .headers:
            try fill(from: start, count: StoredBatchHeader.size)
            header = StoredBatchHeader(parsing: window(start, StoredBatchHeader.size))
            guard header.magic == StoredBatchHeader.currentMagic else {
                return .invalid(.invalidMagic(header.magic), position: start)
            }
        case .verify(let records):
            try fill(from: start, count: total)
            do {
                header = try StoredBatchHeader.validate(window(start, total), .stored)
            } catch {
                return .invalid(error, position: start)
            }
            if let records, let problem = records.problem(inRecordsOf: window(start, total)) {
                return .invalid(.unreadableRecords(problem), position: start)
            }
        }
        position = start + Int64(total)
        return .batch(header, position: start)
    }

    /// The buffered bytes for [position, position + count); `fill` must have made them available.
    private func window(_ position: Int64, _ count: Int) -> UnsafeRawBufferPointer {
        let offset = Int(position - bufferStart)
        return UnsafeRawBufferPointer(rebasing: buffer.storage[offset..<offset + count])
    }

    private mutating func fill(from position: Int64, count: Int) throws {
        if position >= bufferStart && position + Int64(count) <= bufferStart + Int64(bufferCount) { return }
        let wanted = min(max(count, chunkSize), Int(end - position))
        buffer.reserve(wanted)
        let got = try FileIO.read(
            fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer.storage[0..<wanted]), at: position, path: path)
        bufferStart = position
        bufferCount = got
        bytesRead += Int64(got)
        guard got >= count else {
            throw LogError.io(operation: "short read", path: path, errno: 5 /* EIO: the file shrank under us */)
        }
    }
}

/// Manually managed so that views into it stay valid between reads without copying.
private final class ScanBuffer {
    private(set) var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    func reserve(_ count: Int) {
        guard storage.count < count else { return }
        storage.deallocate()
        storage = .allocate(byteCount: count, alignment: 16)
    }

    deinit { storage.deallocate() }
}
