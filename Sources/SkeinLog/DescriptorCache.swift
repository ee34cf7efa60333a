#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bounds the descriptors a data directory holds open. Every segment file (`.log`, `.index`, `.timeindex`)
/// is a `CachedFile` that opens on demand; once more than `budget` are open, an idle one is closed, the
/// least recently used as near as a second-chance sweep tells. A broker with more partitions than its descriptor limit allows therefore
/// still opens and serves them all, paying an `open` when an idle partition wakes up.
///
/// A file in use is pinned and never closed under its user: appends and scans pin for their duration, and a
/// `SegmentFile` lease (what a fetch's `FileSlice` carries to sendfile) pins until it is released. Pinned
/// files may push the count over the budget; that overshoot is bounded by the reads in flight.
public final class DescriptorCache: @unchecked Sendable {
    /// Open descriptors the cache aims to stay under.
    public let budget: Int
    private let lock = Lock()
    private var openFiles = 0
    private var evictions = 0
    // Every open file, in the order eviction considers them.
    private var newest: CachedFile?
    private var oldest: CachedFile?

    public init(budget: Int) {
        self.budget = max(1, budget)
    }

    /// Descriptors held open by segment files right now, pinned or not.
    public var openCount: Int { lock.withLock { openFiles } }
    /// Descriptors closed to make room since the cache was created: how often idle files are reopened.
    public var evictionCount: Int { lock.withLock { evictions } }

    /// The current soft limit on open files (RLIMIT_NOFILE), or nil if it cannot be read.
    public static func openFileLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return Int(clamping: limit.rlim_cur)
    }

    /// Half of the open file limit, the other half left to sockets, the descriptors each sendfile duplicates,
    /// and small files opened in passing; never below 16, so a tiny limit still makes progress.
    public static func defaultBudget(openFileLimit: Int? = openFileLimit()) -> Int {
        guard let limit = openFileLimit else { return 4096 }
        return max(16, min(limit / 2, 1 << 20))
    }

    /// A process-wide cache for logs opened without one of their own.
    public static let shared = DescriptorCache(budget: defaultBudget())

    // MARK: Pinning (called by CachedFile)

    /// Pins `file`, opening it if needed, and returns its descriptor. Balanced by `unpin`. Using an open file
    /// only counts and marks it, so the append path costs two uncontended lock holds and no list surgery.
    fileprivate func pin(_ file: CachedFile) throws -> Int32 {
        try lock.withLock {
            if file.descriptor >= 0 {
                file.pins += 1
                file.referenced = true
                return file.descriptor
            }
            if openFiles >= budget { evict(openFiles - budget + 1) }
            var fd = Glibc.open(file.path, file.flags | O_CLOEXEC, 0o644)
            if fd < 0 && (errno == EMFILE || errno == ENFILE) && evict(max(8, budget / 16)) > 0 {
                // Sockets or sendfile duplicates took the room: make more and try once more.
                fd = Glibc.open(file.path, file.flags | O_CLOEXEC, 0o644)
            }
            guard fd >= 0 else { throw LogError.io(operation: "open", path: file.path, errno: errno) }
            file.descriptor = fd
            file.pins = 1
            openFiles += 1
            linkAsNewest(file)
            return fd
        }
    }

    fileprivate func unpin(_ file: CachedFile) {
        lock.withLock {
            file.pins -= 1
            guard file.pins == 0, file.descriptor >= 0, file.retired || openFiles > budget else { return }
            closeDescriptor(of: file)
        }
    }

    /// Closes `file`'s descriptor now unless it is pinned, in which case the last unpin closes it.
    fileprivate func release(_ file: CachedFile, retire: Bool) {
        lock.withLock {
            if retire { file.retired = true }
            guard file.descriptor >= 0, file.pins == 0 else { return }
            closeDescriptor(of: file)
        }
    }

    /// Renames the file with the cache's lock held, so that a reopen never races the rename.
    fileprivate func rename(_ file: CachedFile, to target: String) throws {
        try lock.withLock {
            try FileIO.rename(file.path, target)
            file.path = target
        }
    }

    fileprivate func path(of file: CachedFile) -> String { lock.withLock { file.path } }

    // MARK: Open files, oldest first (lock held)

    /// Closes up to `count` idle files, oldest first. A file used since it last came round gets a second
    /// chance (it moves to the newest end), which approximates least-recently-used without reordering the
    /// list on every use; pinned files are passed over the same way.
    @discardableResult
    private func evict(_ count: Int) -> Int {
        var closed = 0
        var visits = 2 * openFiles + count
        while closed < count, visits > 0, let candidate = oldest {
            visits -= 1
            if candidate.pins > 0 || candidate.referenced {
                candidate.referenced = false
                unlink(candidate)
                linkAsNewest(candidate)
                continue
            }
            closeDescriptor(of: candidate)
            evictions += 1
            closed += 1
        }
        return closed
    }

    private func closeDescriptor(of file: CachedFile) {
        unlink(file)
        Glibc.close(file.descriptor)
        file.descriptor = -1
        file.referenced = false
        openFiles -= 1
    }

    private func linkAsNewest(_ file: CachedFile) {
        file.older = newest
        file.newer = nil
        newest?.newer = file
        newest = file
        if oldest == nil { oldest = file }
        file.linked = true
    }

    private func unlink(_ file: CachedFile) {
        guard file.linked else { return }
        if let newer = file.newer { newer.older = file.older } else { newest = file.older }
        if let older = file.older { older.newer = file.newer } else { oldest = file.newer }
        file.newer = nil
        file.older = nil
        file.linked = false
    }
}

/// One segment file whose descriptor the `DescriptorCache` may close while it is idle and reopen on demand.
/// Reopening never creates the file: it was created with the segment, and a file that vanished since
/// (a deleted partition) must fail loudly rather than come back empty.
final class CachedFile: @unchecked Sendable {
    let cache: DescriptorCache
    fileprivate let flags: Int32
    // Guarded by the cache's lock.
    fileprivate var path: String
    fileprivate var descriptor: Int32 = -1
    fileprivate var pins = 0
    fileprivate var retired = false
    private var deleted = false
    fileprivate var linked = false
    /// Used since eviction last looked at it.
    fileprivate var referenced = false
    fileprivate var newer: CachedFile?
    fileprivate var older: CachedFile?

    init(path: String, writable: Bool, cache: DescriptorCache) {
        self.path = path
        self.flags = writable ? O_RDWR : O_RDONLY
        self.cache = cache
    }

    var currentPath: String { cache.path(of: self) }

    /// Runs `body` with the descriptor open and pinned.
    @inline(__always)
    func withDescriptor<T>(_ body: (Int32) throws -> T) throws -> T {
        let fd = try cache.pin(self)
        defer { cache.unpin(self) }
        return try body(fd)
    }

    /// A lease that keeps the descriptor open until the lease is released.
    func lease() throws -> SegmentFile {
        SegmentFile(file: self, descriptor: try cache.pin(self))
    }

    /// Ends a lease taken with `lease()`.
    func endLease() { cache.unpin(self) }

    /// Closes the descriptor if nobody uses it; the file reopens on the next use.
    func closeIfIdle() { cache.release(self, retire: false) }

    /// The file will not be used again through this object: close it now, or when its last lease ends.
    func retire() { cache.release(self, retire: true) }

    /// Renames the file out of the way (retention); it is removed once the last lease and the segment let
    /// go of it, so a reader mid-sendfile finishes undisturbed.
    func markDeleted() throws {
        guard !deleted else { return }
        do {
            try cache.rename(self, to: path + SegmentFile.deletedSuffix)
            deleted = true
        } catch LogError.io(_, _, let code) where code == ENOENT {
            // Already gone; nothing to remove later either.
        }
        retire()
    }

    deinit {
        if deleted { Glibc.unlink(path) }
    }
}
