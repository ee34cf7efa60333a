#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An entry of a sparse, append-only index file with fixed-size, big-endian entries.
protocol IndexEntry: Sendable {
    static var size: Int { get }
    init(reading bytes: UnsafeRawBufferPointer)
    func write(into bytes: UnsafeMutableRawBufferPointer)
    var relativeOffset: UInt32 { get }
}

/// `.index`: relative offset of a batch's base offset → byte position of that batch in the `.log`.
struct OffsetIndexEntry: IndexEntry, Equatable {
    static let size = 8
    var relativeOffset: UInt32
    var position: UInt32

    init(relativeOffset: UInt32, position: UInt32) {
        self.relativeOffset = relativeOffset
        self.position = position
    }

    init(reading bytes: UnsafeRawBufferPointer) {
        relativeOffset = bytes.bigEndian(at: 0)
        position = bytes.bigEndian(at: 4)
    }

    func write(into bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBigEndian(relativeOffset, at: 0)
        bytes.storeBigEndian(position, at: 4)
    }
}

/// `.timeindex`: the largest timestamp seen so far in the segment → the offset of the record that carried it.
struct TimeIndexEntry: IndexEntry, Equatable {
    static let size = 12
    var timestamp: Int64
    var relativeOffset: UInt32

    init(timestamp: Int64, relativeOffset: UInt32) {
        self.timestamp = timestamp
        self.relativeOffset = relativeOffset
    }

    init(reading bytes: UnsafeRawBufferPointer) {
        timestamp = bytes.bigEndian(at: 0)
        relativeOffset = bytes.bigEndian(at: 8)
    }

    func write(into bytes: UnsafeMutableRawBufferPointer) {
        bytes.storeBigEndian(timestamp, at: 0)
        bytes.storeBigEndian(relativeOffset, at: 8)
    }
}

/// An index file mirrored in memory. Entries are appended to the file as they are added (one small pwrite per
/// `index.interval.bytes` of log), and the file is only ever read whole when a segment is opened. Its
/// descriptor comes from the `DescriptorCache`, so an idle partition's indexes hold none.
final class IndexFile<Entry: IndexEntry> {
    let path: String
    private(set) var entries: [Entry] = []
    private let handle: CachedFile
    let maxEntries: Int

    init(path: String, maxBytes: Int, descriptors: DescriptorCache) {
        self.path = path
        self.maxEntries = max(1, maxBytes / Entry.size)
        self.handle = CachedFile(path: path, writable: true, cache: descriptors)
    }

    deinit { handle.retire() }

    var isFull: Bool { entries.count >= maxEntries }
    var last: Entry? { entries.last }

    /// Creates an empty index file, replacing any stale one.
    func create() throws {
        handle.closeIfIdle()
        entries = []
        Glibc.close(try FileIO.open(path, flags: O_RDWR | O_CREAT | O_TRUNC))
    }

    /// Loads the file and returns the number of bytes that had to be dropped because they were a partial
    /// trailing entry or entries failing `isValid` (which also stops at the first bad entry: an index is never
    /// trusted past a point it contradicts).
    func load(isValid: (Entry, Entry?) -> Bool) throws -> Int {
        let bytes = try FileIO.readWholeFile(path)
        var loaded: [Entry] = []
        loaded.reserveCapacity(bytes.count / Entry.size)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + Entry.size <= raw.count {
                let entry = Entry(reading: UnsafeRawBufferPointer(rebasing: raw[offset..<offset + Entry.size]))
                guard isValid(entry, loaded.last) else { break }
                loaded.append(entry)
                offset += Entry.size
            }
        }
        entries = loaded
        let dropped = bytes.count - loaded.count * Entry.size
        if dropped > 0 {
            try rewrite()
        }
        return dropped
    }

    func append(_ entry: Entry) throws {
        var buffer = [UInt8](repeating: 0, count: Entry.size)
        buffer.withUnsafeMutableBytes { entry.write(into: $0) }
        try handle.withDescriptor { fd in
            try buffer.withUnsafeBytes { try FileIO.write(fd, $0, at: Int64(entries.count * Entry.size), path: path) }
        }
        entries.append(entry)
    }

    /// Keeps only the entries for which `keep` holds, in order, and rewrites the file to match.
    func truncate(keepingWhile keep: (Entry) -> Bool) throws {
        let kept = entries.prefix(while: keep).count
        guard kept < entries.count else { return }
        entries.removeLast(entries.count - kept)
        try handle.withDescriptor { try FileIO.truncate($0, to: Int64(kept * Entry.size), path: path) }
    }

    /// Replaces the file's content with the in-memory entries.
    func rewrite() throws {
        handle.closeIfIdle()
        var buffer = [UInt8](repeating: 0, count: entries.count * Entry.size)
        buffer.withUnsafeMutableBytes { raw in
            for (i, entry) in entries.enumerated() {
                entry.write(into: UnsafeMutableRawBufferPointer(rebasing: raw[i * Entry.size..<(i + 1) * Entry.size]))
            }
        }
        let fd = try FileIO.open(path, flags: O_RDWR | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try buffer.withUnsafeBytes { try FileIO.write(fd, $0, at: 0, path: path) }
    }

    func replace(with newEntries: [Entry]) throws {
        entries = newEntries
        try rewrite()
    }

    func sync() throws {
        try handle.withDescriptor { try FileIO.syncData($0, path: path) }
    }

    /// Syncs the file through a descriptor of its own, so it can run without the partition lock while other
    /// threads use this object. A file deleted meanwhile (by retention) needs no sync.
    static func syncFile(at path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw LogError.io(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        try FileIO.syncData(fd, path: path)
    }

    /// Gives the descriptor back; the next use reopens the file.
    func closeFile() {
        handle.closeIfIdle()
    }

    /// No more use through this object (the segment is being deleted).
    func retire() {
        handle.retire()
    }

    /// The last entry whose key is ≤ `target` (or < `target` when `strictly`), by binary search over entries
    /// sorted by that key.
    func lastEntry<Key: Comparable>(atMost target: Key, strictly: Bool = false, by key: (Entry) -> Key) -> Entry? {
        var low = 0
        var high = entries.count - 1
        var found: Entry?
        while low <= high {
            let middle = (low + high) / 2
            let candidate = key(entries[middle])
            if candidate < target || (!strictly && candidate == target) {
                found = entries[middle]
                low = middle + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }
}
