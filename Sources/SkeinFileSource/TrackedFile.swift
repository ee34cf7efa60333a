import Glibc
import SkeinMetrics

/// A file as the kernel names it. Held descriptors keep the inode allocated, so while a file is tracked no
/// other file can reuse its key.
struct FileKey: Hashable {
    let device: UInt64
    let inode: UInt64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// st_mtim, compared to notice a rewrite that left the size unchanged.
struct ModificationTime: Equatable {
    let seconds: Int
    let nanoseconds: Int

    init(_ info: stat) {
        seconds = Int(info.st_mtim.tv_sec)
        nanoseconds = Int(info.st_mtim.tv_nsec)
    }
}

/// One open file and where its stream stands. The descriptor, not the path, is what is read: a renamed or
/// deleted file is still read to its end through it.
final class TrackedFile {
    let fd: Int32
    let key: FileKey
    /// The name it was last found under (informational once it no longer matches).
    var path: String
    /// The stream: `fp-…` or, while shorter than `fingerprint_bytes`, `ino-…`.
    var identity: String
    /// Hash of the first `prefixLength` bytes as first read: a mismatch means the file was truncated and
    /// rewritten between two looks even though it is now longer than the read position.
    var prefixLength = 0
    var prefixHash: UInt64 = 0
    /// The offset just after the last emitted entry: the stream's position.
    var emitted: Int64
    /// Where the next read starts; beyond `emitted` by the held partial line and multiline entry.
    var readOffset: Int64
    var splitter: LineSplitter
    var multiline: MultilineAggregator?
    /// The size at the last look, and when it last grew.
    var lastSize: Int64
    var lastModified: ModificationTime?
    var lastGrowth: ContinuousClock.Instant
    /// Set when no glob path names the file any more (renamed away or deleted): it is read to its end
    /// and released once it stops growing for `rotate_wait_seconds`.
    var unmatchedSince: ContinuousClock.Instant?
    /// A copytruncate copy adopted to read the lines between our position and the truncation: nobody
    /// writes to it, so it is released at its end, and a partial last line there is a cut line.
    var isCopy = false
    /// Bytes of the truncated original that were seen but not in the copy: at least one line was lost.
    var lostBeyondCopy = false
    /// Former identities (a short file that reached `fingerprint_bytes`), retired once a record carries
    /// the new one, so the recovered state always has one of the two.
    var staleIdentities: [String] = []
    /// The `path` label of this file's lag gauge.
    var lagLabel: String
    var lag: Gauge

    init(
        fd: Int32, key: FileKey, path: String, identity: String, offset: Int64, size: Int64,
        splitter: LineSplitter, multiline: MultilineAggregator?, metrics: FileSourceMetrics
    ) {
        self.fd = fd
        self.key = key
        self.path = path
        self.identity = identity
        self.emitted = offset
        self.readOffset = offset
        self.splitter = splitter
        self.multiline = multiline
        self.lastSize = size
        self.lastGrowth = .now
        self.lagLabel = path
        self.lag = metrics.lag(path: path)
    }

    func relabelLag(_ label: String, metrics: FileSourceMetrics) {
        guard label != lagLabel else { return }
        metrics.removeLag(path: lagLabel)
        lagLabel = label
        lag = metrics.lag(path: label)
    }
}

/// Reads up to `count` bytes at `offset`, retrying interrupted calls; fewer bytes only at the file's end.
func preadFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int64) -> Int {
    var done = 0
    while done < count {
        let n = pread(fd, buffer + done, count - done, off_t(offset) + off_t(done))
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        done += n
    }
    return done
}

/// The first `count` bytes of a file (fewer if it is shorter).
func readPrefix(_ fd: Int32, _ count: Int) -> [UInt8] {
    guard count > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: count)
    let n = bytes.withUnsafeMutableBytes { preadFully(fd, $0.baseAddress!, count, 0) }
    bytes.removeLast(count - n)
    return bytes
}

func fileStat(_ fd: Int32) -> stat? {
    var info = stat()
    return fstat(fd, &info) == 0 ? info : nil
}

/// The offset just after the last `\n` before `size`, so reading "from the end" starts on a line boundary
/// and a line being written at the moment of the first start is read whole.
func lastLineBoundary(_ fd: Int32, size: Int64) -> Int64 {
    let window = Int64(64 * 1024)
    var end = size
    while end > 0 {
        let start = max(0, end - window)
        var bytes = [UInt8](repeating: 0, count: Int(end - start))
        let n = bytes.withUnsafeMutableBytes { preadFully(fd, $0.baseAddress!, $0.count, start) }
        if let last = bytes[0..<n].lastIndex(of: 0x0A) { return start + Int64(last) + 1 }
        end = start
        // A last line longer than a few windows starts a fresh line at the end rather than reading it all.
        if size - end >= 4 * window { return size }
    }
    return 0
}
