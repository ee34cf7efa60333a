#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One line of `/proc/mounts`.
public struct MountEntry: Sendable, Equatable {
    public var device: String
    public var mountPoint: String
    public var fileSystemType: String
    public var options: [String]

    public var isReadOnly: Bool { options.contains("ro") }
}

/// What `statvfs` says about one mounted filesystem, in bytes and inodes.
public struct FilesystemUsage: Sendable, Equatable {
    public var sizeBytes: Double
    public var freeBytes: Double
    public var availableBytes: Double
    public var files: Double
    public var filesFree: Double

    public init(sizeBytes: Double, freeBytes: Double, availableBytes: Double, files: Double, filesFree: Double) {
        self.sizeBytes = sizeBytes
        self.freeBytes = freeBytes
        self.availableBytes = availableBytes
        self.files = files
        self.filesFree = filesFree
    }

    /// nil when the mount point cannot be examined (gone, permission denied).
    ///
    /// statvfs can block on a network filesystem whose server is gone; network filesystem types are
    /// not excluded, so a hung NFS mount stalls sampling (node_exporter runs it with a timeout).
    @Sendable public static func ofMountPoint(_ path: String) -> FilesystemUsage? {
        var result = statvfs()
        guard statvfs(path, &result) == 0 else { return nil }
        let fragment = Double(result.f_frsize)
        return FilesystemUsage(
            sizeBytes: Double(result.f_blocks) * fragment, freeBytes: Double(result.f_bfree) * fragment,
            availableBytes: Double(result.f_bavail) * fragment, files: Double(result.f_files),
            filesFree: Double(result.f_ffree))
    }
}

/// Filesystem sizes and free space for every real mount in `/proc/mounts`.
public enum Filesystems {
    /// node_exporter's default exclusions: kernel and container pseudo filesystems, whose sizes say
    /// nothing about disk space and some of which block or fail on statvfs.
    static let excludedTypes: Set<String> = [
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs", "fusectl",
        "hugetlbfs", "iso9660", "mqueue", "nsfs", "overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs",
        "selinuxfs", "squashfs", "erofs", "sysfs", "tracefs",
    ]

    /// Mount points under /dev, /proc and /sys, and container runtimes' private layers.
    static func isExcludedMountPoint(_ path: String) -> Bool {
        for root in ["/dev", "/proc", "/sys"] where path == root || path.hasPrefix(root + "/") {
            return true
        }
        for prefix in ["/run/credentials/", "/var/lib/docker/", "/var/lib/containers/storage/"]
        where path.hasPrefix(prefix) {
            return true
        }
        return false
    }

    public static func mounts(fromProcMounts text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { line in
            let columns = fields(line)
            guard columns.count >= 4 else { return nil }
            return MountEntry(
                device: unescape(columns[0]), mountPoint: unescape(columns[1]), fileSystemType: String(columns[2]),
                options: columns[3].split(separator: ",").map(String.init))
        }
    }

    /// The mounts worth reporting: real filesystems, each (device, mount point) once.
    public static func reportable(_ mounts: [MountEntry]) -> [MountEntry] {
        var seen: Set<String> = []
        return mounts.filter { mount in
            guard !excludedTypes.contains(mount.fileSystemType), !isExcludedMountPoint(mount.mountPoint) else {
                return false
            }
            return seen.insert(mount.device + "\u{0}" + mount.mountPoint).inserted
        }
    }

    public static func families(
        fromProcMounts text: String, usage: (String) -> FilesystemUsage?
    ) -> [MetricFamily] {
        let help = " (statvfs of the mount point)."
        var size = MetricFamily(
            name: "node_filesystem_size_bytes", type: .gauge, help: "Filesystem size in bytes" + help)
        var free = MetricFamily(
            name: "node_filesystem_free_bytes", type: .gauge, help: "Filesystem free space in bytes" + help)
        var available = MetricFamily(
            name: "node_filesystem_avail_bytes", type: .gauge,
            help: "Filesystem space available to non-root users in bytes" + help)
        var files = MetricFamily(name: "node_filesystem_files", type: .gauge, help: "Filesystem inodes" + help)
        var filesFree = MetricFamily(
            name: "node_filesystem_files_free", type: .gauge, help: "Filesystem free inodes" + help)
        var readOnly = MetricFamily(
            name: "node_filesystem_readonly", type: .gauge, help: "1 when the filesystem is mounted read-only.")
        for mount in reportable(mounts(fromProcMounts: text)) {
            guard let stats = usage(mount.mountPoint) else { continue }
            let labels = [("device", mount.device), ("fstype", mount.fileSystemType), ("mountpoint", mount.mountPoint)]
            size.samples.append(MetricSample(labels: labels, value: stats.sizeBytes))
            free.samples.append(MetricSample(labels: labels, value: stats.freeBytes))
            available.samples.append(MetricSample(labels: labels, value: stats.availableBytes))
            files.samples.append(MetricSample(labels: labels, value: stats.files))
            filesFree.samples.append(MetricSample(labels: labels, value: stats.filesFree))
            readOnly.samples.append(MetricSample(labels: labels, value: mount.isReadOnly ? 1 : 0))
        }
        return [size, free, available, files, filesFree, readOnly].filter { !$0.samples.isEmpty }
    }

    /// `/proc/mounts` writes space, tab, newline and backslash as three octal digits (`\040`).
    static func unescape(_ text: Substring) -> String {
        guard text.contains("\\") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
