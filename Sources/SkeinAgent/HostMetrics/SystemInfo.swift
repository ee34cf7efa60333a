#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `node_uname_info` from /proc/sys/kernel (so fixture trees can supply it), with the machine
/// architecture from uname(2), which /proc does not carry.
public enum SystemInfo {
    public static func unameFamily(files: SystemFiles, machine: String) -> MetricFamily? {
        func kernel(_ name: String) -> String? {
            (try? files.proc("sys/kernel/\(name)")).map { String($0.trimmingWhitespace()) }
        }
        guard let sysname = kernel("ostype"), let release = kernel("osrelease") else { return nil }
        let labels = [
            ("domainname", kernel("domainname") ?? ""), ("machine", machine), ("nodename", kernel("hostname") ?? ""),
            ("release", release), ("sysname", sysname), ("version", kernel("version") ?? ""),
        ]
        return MetricFamily(
            name: "node_uname_info", type: .gauge, help: "Labelled system information as provided by uname.",
            samples: [MetricSample(labels: labels, value: 1)])
    }

    /// The hardware name uname(2) reports ("x86_64", "aarch64").
    public static func machineName() -> String {
        var names = utsname()
        guard uname(&names) == 0 else { return "" }
        return withUnsafeBytes(of: names.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The host name gethostname(2) reports, the default record key.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// USER_HZ, the unit of /proc/stat's and /proc/<pid>/stat's time columns.
    public static func ticksPerSecond() -> Double {
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? Double(ticks) : 100
    }

    public static func pageSize() -> Double {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? Double(size) : 4096
    }
}

/// The agent's own CPU time and memory from `/proc/self/stat`, so its overhead shows up next to
/// the host it watches.
public enum AgentProcessStats {
    public static func families(fromSelfStat text: String, ticksPerSecond: Double, pageSize: Double)
        throws(CollectorError) -> [MetricFamily]
    {
        // The command name in parentheses may contain spaces; fields are counted after its ')'.
        guard let close = text.lastIndex(of: ")") else { throw CollectorError("unexpected /proc/self/stat") }
        let after = fields(text[text.index(after: close)...])
        // after[0] is field 3 (state); utime is field 14, stime 15, vsize 23, rss 24.
        guard after.count > 21, let userTicks = Double(after[11]), let systemTicks = Double(after[12]),
            let virtualBytes = Double(after[20]), let residentPages = Double(after[21])
        else { throw CollectorError("short /proc/self/stat") }
        return [
            MetricFamily(
                name: "skein_agent_cpu_seconds_total", type: .counter, help: "CPU time used by skein-agent itself.",
                value: (userTicks + systemTicks) / ticksPerSecond),
            MetricFamily(
                name: "skein_agent_resident_memory_bytes", type: .gauge, help: "Resident memory of skein-agent.",
                value: residentPages * pageSize),
            MetricFamily(
                name: "skein_agent_virtual_memory_bytes", type: .gauge, help: "Virtual memory size of skein-agent.",
                value: virtualBytes),
        ]
    }
}
