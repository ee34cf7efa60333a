#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open `.log` file shared by the writer and every in-flight read. Retention never closes or unlinks a file
/// a reader still holds: deleting a segment only renames it to `.deleted`, and the last reference to go
/// (a fetch response finishing its sendfile, say) closes the descriptor and removes the file.
public final class SegmentFile: @unchecked Sendable {
    /// Valid for as long as this object lives. Callers that outlive it (an asynchronous sendfile) should
    /// `dup` it or keep this object alive until they finish.
    public let descriptor: Int32
    private let lock = Lock()
    private var currentPath: String
    private var deleted = false

    init(path: String, writable: Bool) throws {
        descriptor = try FileIO.open(path, flags: writable ? (O_RDWR | O_CREAT) : O_RDONLY)
        currentPath = path
    }

    public var path: String { lock.withLock { currentPath } }

    /// Renames the file out of the way now and removes it once no reader holds it.
    func markDeleted() throws {
        try lock.withLock {
            guard !deleted else { return }
            let target = currentPath + SegmentFile.deletedSuffix
            try FileIO.rename(currentPath, target)
            currentPath = target
            deleted = true
        }
    }

    static let deletedSuffix = ".deleted"

    deinit {
        close(descriptor)
        if deleted { unlink(currentPath) }
    }
}

/// A byte range of one segment file: what a fetch sends, by sendfile or by reading it.
public struct FileSlice: Sendable {
    public let file: SegmentFile
    public let position: Int64
    public let length: Int
    /// Base offset of the first batch in the slice; it may be below the offset asked for, as in Kafka.
    public let firstOffset: Int64
    /// The offset after the slice's last batch, so a consumer of the slice knows how many records it
    /// carries (`nextOffset - firstOffset`, no compaction) without reading it.
    public let nextOffset: Int64

    /// Reads the slice into memory, for paths that cannot use sendfile (TLS) and for tests.
    public func readBytes() throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        let count = try bytes.withUnsafeMutableBytes {
            try FileIO.read(file.descriptor, into: $0, at: position, path: file.path)
        }
        return count == length ? bytes : Array(bytes.prefix(count))
    }
}
