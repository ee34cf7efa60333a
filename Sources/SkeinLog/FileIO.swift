#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func errnoDescription(_ code: Int32) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

/// Thin, throwing wrappers over the POSIX calls the storage engine needs. Positional I/O (pread/pwrite)
/// everywhere, so readers on other threads never share a file offset with the writer.
enum FileIO {
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
        if fd < 0 { throw LogError.io(operation: "open", path: path, errno: errno) }
        return fd
    }

    /// Reads until the buffer is full or the file ends; returns the count read.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws
        -> Int
    {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw LogError.io(operation: "pread", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw LogError.io(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    static func size(_ fd: Int32, path: String) throws -> Int64 {
        var info = stat()
        if fstat(fd, &info) != 0 { throw LogError.io(operation: "fstat", path: path, errno: errno) }
        return Int64(info.st_size)
    }

    static func size(ofFileAt path: String) -> Int64? {
        var info = stat()
        if stat(path, &info) != 0 { return nil }
        return Int64(info.st_size)
    }

    static func truncate(_ fd: Int32, to size: Int64, path: String) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw LogError.io(operation: "ftruncate", path: path, errno: errno) }
    }

    static func syncData(_ fd: Int32, path: String) throws {
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw LogError.io(operation: "fdatasync", path: path, errno: errno)
        }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw LogError.io(operation: "fsync", path: path, errno: errno)
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw LogError.io(operation: "mkdir", path: path, errno: errno)
        }
    }

    /// Creates every missing directory along `path`.
    static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            try makeDirectory(prefix)
        }
    }

    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw LogError.io(operation: "unlink", path: path, errno: errno) }
    }

    static func rename(_ from: String, _ to: String) throws {
        if Glibc.rename(from, to) != 0 { throw LogError.io(operation: "rename", path: from, errno: errno) }
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw LogError.io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a directory tree; used for deleted partitions, whose open readers keep their inodes alive.
    static func removeTree(_ path: String) throws {
        if isDirectory(path) {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            if rmdir(path) != 0 && errno != ENOENT { throw LogError.io(operation: "rmdir", path: path, errno: errno) }
        } else {
            try remove(path)
        }
    }

    /// Writes a small file so that a crash leaves either the old or the new content, never a torn one.
    static func writeAtomically(_ path: String, contents: String) throws {
        try writeAtomically(path, contents: Array(contents.utf8))
    }

    static func writeAtomically(_ path: String, contents bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try bytes.withUnsafeBytes { try write(fd, $0, at: 0, path: temporary) }
            try syncData(fd, path: temporary)
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        try rename(temporary, path)
        try syncDirectory(parent(of: path))
    }

    /// Write-then-rename without fsync, for files whose loss or staleness after a power cut is harmless
    /// (snapshots that a replay of the log completes).
    static func replaceFile(_ path: String, contents bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try bytes.withUnsafeBytes { try write(fd, $0, at: 0, path: temporary) }
            close(fd)
        } catch {
            close(fd)
            throw error
        }
        try rename(temporary, path)
    }

    static func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = try open(path, flags: O_RDONLY)
        defer { close(fd) }
        let length = Int(try size(fd, path: path))
        var bytes = [UInt8](repeating: 0, count: length)
        let count = try bytes.withUnsafeMutableBytes { try read(fd, into: $0, at: 0, path: path) }
        return Array(bytes.prefix(count))
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Small metadata files that must never be seen half-written: topic metadata, producer state.
public enum DurableFile {
    public static func write(_ path: String, _ bytes: [UInt8]) throws {
        try FileIO.writeAtomically(path, contents: bytes)
    }

    public static func read(_ path: String) throws -> [UInt8]? {
        guard FileIO.exists(path) else { return nil }
        return try FileIO.readWholeFile(path)
    }
}
