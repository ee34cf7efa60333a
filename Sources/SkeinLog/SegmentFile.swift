#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A lease on a segment's `.log` file: its descriptor stays open, whatever the `DescriptorCache` does with
/// idle files, until the lease is released. Every read holds one, and a fetch's `FileSlice` carries one to
/// the sendfile. Retention never closes or unlinks a file a lease still holds: deleting a segment only
/// renames it to `.deleted`, and the file goes once its last lease is released.
public final class SegmentFile: @unchecked Sendable {
    /// Valid for as long as this lease lives. Callers that outlive it (an asynchronous sendfile) should
    /// `dup` it or keep the lease alive until they finish.
    public let descriptor: Int32
    private let file: CachedFile

    init(file: CachedFile, descriptor: Int32) {
        self.file = file
        self.descriptor = descriptor
    }

    public var path: String { file.currentPath }

    static let deletedSuffix = ".deleted"

    deinit {
        file.endLease()
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

    /// Reads the slice straight into `destination` (at least `length` bytes), for a TLS connection's
    /// buffer without an intermediate array; returns the bytes read, short only at the file's end.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        try FileIO.read(
            file.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: destination.prefix(length)), at: position,
            path: file.path)
    }
}
