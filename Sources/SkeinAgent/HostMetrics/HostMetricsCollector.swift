/// Samples every host-metrics source once.
///
/// Each source fails on its own: an unreadable /proc/diskstats (a hardened container, say) costs
/// the disk families, not the sample set, and shows as `skein_agent_collector_success{collector="disk"} 0`,
/// the way node_exporter reports `node_scrape_collector_success`.
public struct HostMetricsCollector: Sendable {
    public var files: SystemFiles
    public var ticksPerSecond: Double
    public var pageSize: Double
    /// uname(2)'s machine field for node_uname_info.
    public var machine: String
    /// Whether to add the agent's own CPU and memory (`skein_agent_*` families).
    public var includesAgentProcess: Bool
    /// statvfs, replaceable so fixture trees whose mount points do not exist here can be tested.
    public var filesystemUsage: @Sendable (String) -> FilesystemUsage?

    public init(
        files: SystemFiles = SystemFiles(), ticksPerSecond: Double = SystemInfo.ticksPerSecond(),
        pageSize: Double = SystemInfo.pageSize(), machine: String = SystemInfo.machineName(),
        includesAgentProcess: Bool = true,
        filesystemUsage: @escaping @Sendable (String) -> FilesystemUsage? = FilesystemUsage.ofMountPoint
    ) {
        self.files = files
        self.ticksPerSecond = ticksPerSecond
        self.pageSize = pageSize
        self.machine = machine
        self.includesAgentProcess = includesAgentProcess
        self.filesystemUsage = filesystemUsage
    }

    /// The outcome of one pass over all sources.
    public struct Sample: Sendable {
        public var families: [MetricFamily]
        /// Collector name → why it produced nothing.
        public var failures: [String: CollectorError]
    }

    /// - Parameter wallClockSeconds: the sample's time, reported as `node_time_seconds`.
    public func collect(wallClockSeconds: Double) -> Sample {
        var families: [MetricFamily] = []
        var failures: [String: CollectorError] = [:]
        var success = MetricFamily(
            name: "skein_agent_collector_success", type: .gauge,
            help: "1 when the collector produced its families in this sample set, else 0.")

        func run(_ collector: String, _ body: () throws(CollectorError) -> [MetricFamily]) {
            do {
                families += try body()
                success.samples.append(MetricSample(labels: [("collector", collector)], value: 1))
            } catch {
                failures[collector] = error
                success.samples.append(MetricSample(labels: [("collector", collector)], value: 0))
            }
        }

        run("cpu") { () throws(CollectorError) in
            try CPUStats.families(fromProcStat: files.proc("stat"), ticksPerSecond: ticksPerSecond)
        }
        run("meminfo") { () throws(CollectorError) in try MemoryInfo.families(fromMeminfo: files.proc("meminfo")) }
        run("loadavg") { () throws(CollectorError) in try LoadAverage.families(fromLoadavg: files.proc("loadavg")) }
        run("filesystem") { () throws(CollectorError) in
            Filesystems.families(fromProcMounts: try files.proc("mounts"), usage: filesystemUsage)
        }
        run("diskstats") { () throws(CollectorError) in
            try DiskStats.families(fromDiskstats: files.proc("diskstats"))
        }
        run("netdev") { () throws(CollectorError) in
            let text = try files.proc("net/dev")
            return try NetworkDevices.families(fromNetDev: text)
                + NetworkDevices.linkFamilies(devices: NetworkDevices.devices(fromNetDev: text), files: files)
        }
        families.append(
            MetricFamily(
                name: "node_time_seconds", type: .gauge, help: "System time in seconds since the epoch.",
                value: wallClockSeconds))
        if let uname = SystemInfo.unameFamily(files: files, machine: machine) { families.append(uname) }
        if includesAgentProcess {
            run("agent_process") { () throws(CollectorError) in
                try AgentProcessStats.families(
                    fromSelfStat: files.proc("self/stat"), ticksPerSecond: ticksPerSecond, pageSize: pageSize)
            }
        }
        families.append(success)
        return Sample(families: families, failures: failures)
    }
}
