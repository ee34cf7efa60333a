#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a collector could not produce its families.
public struct CollectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Reads the small text files of /proc and /sys.
///
/// Plain open/read rather than Foundation: /proc files report a size of 0, so they must be read
/// until end of file, and the agent reads a dozen of them every interval for the host's lifetime.
public struct SystemFiles: Sendable {
    /// Where /proc is mounted (a fixture tree in tests).
    public var procRoot: String
    /// Where /sys is mounted (a fixture tree in tests).
    public var sysRoot: String

    /// No /proc or /sys file the agent reads comes near this; it only bounds a runaway read.
    static let maximumFileSize = 4 << 20

    public init(procRoot: String = "/proc", sysRoot: String = "/sys") {
        self.procRoot = procRoot
        self.sysRoot = sysRoot
    }

    public func proc(_ relativePath: String) throws(CollectorError) -> String {
        try Self.read(procRoot + "/" + relativePath)
    }

    public func sys(_ relativePath: String) throws(CollectorError) -> String {
        try Self.read(sysRoot + "/" + relativePath)
    }

    public static func read(_ path: String) throws(CollectorError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw CollectorError("open \(path): \(errnoDescription())") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunkSize = 4096
        while bytes.count < maximumFileSize {
            let oldCount = bytes.count
            bytes.append(contentsOf: repeatElement(0, count: chunkSize))
            let count = bytes.withUnsafeMutableBytes { buffer in
                readFromDescriptor(descriptor, buffer.baseAddress! + oldCount, chunkSize)
            }
            if count < 0 {
                if errno == EINTR {
                    bytes.removeLast(chunkSize)
                    continue
                }
                throw CollectorError("read \(path): \(errnoDescription())")
            }
            bytes.removeLast(chunkSize - count)
            if count == 0 { break }
            chunkSize = min(chunkSize * 2, 256 << 10)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names in a directory, without `.` and `..`; empty when it cannot be read.
    public static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { buffer in
                String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func errnoDescription() -> String {
        String(cString: strerror(errno))
    }
}

/// The C `read`, under a name that `SystemFiles.read` does not shadow.
private func readFromDescriptor(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// Whitespace-separated fields of a line, the layout of most /proc files.
@inline(__always)
func fields(_ line: Substring) -> [Substring] {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" })
}

extension SystemFiles {
    /// Writes all of `bytes` to a descriptor (standard output for `--once`), retrying short writes.
    public static func writeAll(_ bytes: [UInt8], to descriptor: Int32 = 1) throws(CollectorError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw CollectorError("write: \(errnoDescription())")
            }
            offset += written
        }
    }
}
