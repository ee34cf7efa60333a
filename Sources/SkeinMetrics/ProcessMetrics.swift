#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The standard `process_*` metrics, read from /proc/self at scrape time (Linux). Elsewhere only the file
/// descriptor limit is known and the rest is left out rather than reported as zero.
public struct ProcessMetricsCollector: MetricsCollector {
    let procRoot: String

    public init(procRoot: String = "/proc") {
        self.procRoot = procRoot
    }

    public struct Sample: Equatable, Sendable {
        public var residentBytes: Double
        public var virtualBytes: Double
        public var cpuSeconds: Double
        public var startTimeSeconds: Double
    }

    /// Parses /proc/self/stat. The command name (field 2) may hold spaces and parentheses, so fields are
    /// counted from the last `)`.
    public static func parseStat(
        _ stat: String, bootTimeSeconds: Double, ticksPerSecond: Double, pageSize: Double
    ) -> Sample? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // After ")" come fields 3 (state) onwards.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? {
            let index = number - 3
            return index < fields.count ? Double(fields[index]) : nil
        }
        guard let userTicks = field(14), let systemTicks = field(15), let startTicks = field(22),
            let virtualBytes = field(23), let residentPages = field(24)
        else { return nil }
        return Sample(
            residentBytes: residentPages * pageSize, virtualBytes: virtualBytes,
            cpuSeconds: (userTicks + systemTicks) / ticksPerSecond,
            startTimeSeconds: bootTimeSeconds + startTicks / ticksPerSecond)
    }

    /// `btime` from /proc/stat: boot time in seconds since the epoch.
    public static func parseBootTime(_ text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingPrefix(" "))
        }
        return nil
    }

    public func collect(into writer: inout PrometheusTextWriter) {
        if let stat = readSmallFile(procRoot + "/self/stat"),
            let bootTime = readSmallFile(procRoot + "/stat").flatMap(Self.parseBootTime),
            let sample = Self.parseStat(
                stat, bootTimeSeconds: bootTime, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
        {
            writer.family(
                "process_cpu_seconds_total", type: .counter, help: "Total user and system CPU time spent in seconds.")
            writer.sample("process_cpu_seconds_total", [], sample.cpuSeconds)
            writer.family("process_resident_memory_bytes", type: .gauge, help: "Resident memory size in bytes.")
            writer.sample("process_resident_memory_bytes", [], sample.residentBytes)
            writer.family("process_virtual_memory_bytes", type: .gauge, help: "Virtual memory size in bytes.")
            writer.sample("process_virtual_memory_bytes", [], sample.virtualBytes)
            writer.family(
                "process_start_time_seconds", type: .gauge,
                help: "Start time of the process since unix epoch in seconds.")
            writer.sample("process_start_time_seconds", [], sample.startTimeSeconds)
        }
        if let open = countDirectoryEntries(procRoot + "/self/fd") {
            writer.family("process_open_fds", type: .gauge, help: "Number of open file descriptors.")
            writer.sample("process_open_fds", [], open)
        }
        var limit = rlimit()
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        if getrlimit(resource, &limit) == 0 {
            writer.family("process_max_fds", type: .gauge, help: "Maximum number of open file descriptors.")
            writer.sample(
                "process_max_fds", [], limit.rlim_cur == rlim_t.max ? Double.infinity : Double(limit.rlim_cur))
        }
    }

    /// Files in /proc report size 0, so read until EOF into a fixed buffer (they are small).
    private func readSmallFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Counts /proc/self/fd entries; the descriptor opendir itself uses is one of them, so one is taken off.
    private func countDirectoryEntries(_ path: String) -> Int? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        return max(0, count - 1)
    }
}
