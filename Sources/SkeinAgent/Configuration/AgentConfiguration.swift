import SkeinCompression

/// Everything the agent needs to run, from defaults, then the configuration file, then the
/// environment and flags (applied by the executable, in that order).
public struct AgentConfiguration: Sendable, Equatable {
    /// "host:port" of one or more brokers.
    public var bootstrapServers: [String] = ["127.0.0.1:9092"]
    /// The record key and `host` label; nil for the machine's host name.
    public var hostName: String?
    public var clientId: String = "skein-agent"
    /// Sample sets kept while the broker cannot be reached; beyond it the oldest are dropped
    /// (and counted in `skein_agent_records_dropped_total`).
    public var bufferRecords: Int = 240
    /// How long a stopping agent keeps trying to deliver what it has buffered.
    public var shutdownFlushSeconds: Double = 5
    public var hostMetrics = HostMetricsSourceConfiguration()

    public init() {}

    public struct HostMetricsSourceConfiguration: Sendable, Equatable {
        public var enabled = true
        public var intervalSeconds: Double = 15
        public var topic = "metrics"
        public var procRoot = "/proc"
        public var sysRoot = "/sys"
        /// Adds the agent's own CPU time and memory to every sample set.
        public var agentProcessMetrics = true
        /// Record batch compression: none, gzip, snappy, lz4 or zstd.
        public var compression: CompressionCodec = .none

        public init() {}
    }

    /// The configuration file's settings applied over the defaults. Unknown sections and keys are
    /// errors, so a misspelt key does not silently keep its default.
    public static func load(fromFileText text: String) throws(ConfigFileError) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        try configuration.apply(ConfigFile.parse(text))
        return configuration
    }

    public mutating func apply(_ file: ConfigFile) throws(ConfigFileError) {
        for (section, values) in file.sections.sorted(by: { $0.key < $1.key }) {
            switch section {
            case "agent":
                for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                    try applyAgent(key: key, value: value)
                }
            case "sources.host_metrics":
                for (key, value) in values.sorted(by: { $0.key < $1.key }) {
                    try applyHostMetrics(key: key, value: value)
                }
            case "" where values.isEmpty:
                continue
            case "":
                throw ConfigFileError(
                    line: 0, message: "settings before the first section: put them under [agent] or [sources.…]")
            default:
                throw ConfigFileError(
                    line: 0, message: "unknown section [\(section)] (known: [agent], [sources.host_metrics])")
            }
        }
    }

    private mutating func applyAgent(key: String, value: ConfigValue) throws(ConfigFileError) {
        let where_ = "[agent] \(key)"
        switch key {
        case "bootstrap":
            switch value {
            case .string(let text): bootstrapServers = Self.splitList(text)
            case .strings(let list): bootstrapServers = list
            default: throw ConfigFileError(line: 0, message: "\(where_) must be a string or an array of strings")
            }
            guard !bootstrapServers.isEmpty else { throw ConfigFileError(line: 0, message: "\(where_) is empty") }
        case "host_name":
            let name = try Self.string(value, where_)
            guard !name.isEmpty else { throw ConfigFileError(line: 0, message: "\(where_) is empty") }
            hostName = name
        case "client_id":
            clientId = try Self.string(value, where_)
        case "buffer_records":
            let count = try Self.number(value, where_)
            guard count >= 1, count <= 1_000_000, count == count.rounded() else {
                throw ConfigFileError(line: 0, message: "\(where_) must be a whole number from 1 to 1000000")
            }
            bufferRecords = Int(count)
        case "shutdown_flush_seconds":
            let seconds = try Self.number(value, where_)
            guard seconds >= 0 else { throw ConfigFileError(line: 0, message: "\(where_) must not be negative") }
            shutdownFlushSeconds = seconds
        default:
            throw ConfigFileError(
                line: 0,
                message:
                    "unknown key \(where_) (known: bootstrap, host_name, client_id, buffer_records, shutdown_flush_seconds)"
            )
        }
    }

    private mutating func applyHostMetrics(key: String, value: ConfigValue) throws(ConfigFileError) {
        let where_ = "[sources.host_metrics] \(key)"
        switch key {
        case "enabled":
            guard case .boolean(let flag) = value else {
                throw ConfigFileError(line: 0, message: "\(where_) must be true or false")
            }
            hostMetrics.enabled = flag
        case "interval":
            let seconds = try Self.number(value, where_)
            guard seconds >= 0.1 else { throw ConfigFileError(line: 0, message: "\(where_) must be ≥ 0.1 seconds") }
            hostMetrics.intervalSeconds = seconds
        case "topic":
            let topic = try Self.string(value, where_)
            guard !topic.isEmpty else { throw ConfigFileError(line: 0, message: "\(where_) is empty") }
            hostMetrics.topic = topic
        case "proc_root":
            hostMetrics.procRoot = try Self.string(value, where_)
        case "sys_root":
            hostMetrics.sysRoot = try Self.string(value, where_)
        case "agent_process_metrics":
            guard case .boolean(let flag) = value else {
                throw ConfigFileError(line: 0, message: "\(where_) must be true or false")
            }
            hostMetrics.agentProcessMetrics = flag
        case "compression":
            let name = try Self.string(value, where_)
            guard let codec = Self.codec(named: name) else {
                throw ConfigFileError(line: 0, message: "\(where_): none, gzip, snappy, lz4 or zstd, not '\(name)'")
            }
            hostMetrics.compression = codec
        default:
            throw ConfigFileError(
                line: 0,
                message:
                    "unknown key \(where_) (known: enabled, interval, topic, proc_root, sys_root, agent_process_metrics, compression)"
            )
        }
    }

    public static func codec(named name: String) -> CompressionCodec? {
        CompressionCodec(configName: name)
    }

    /// "a:9092, b:9092" → ["a:9092", "b:9092"], as Kafka's bootstrap.servers is written.
    public static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
    }

    private static func string(_ value: ConfigValue, _ where_: String) throws(ConfigFileError) -> String {
        guard case .string(let text) = value else {
            throw ConfigFileError(line: 0, message: "\(where_) must be a quoted string, not \(value)")
        }
        return text
    }

    private static func number(_ value: ConfigValue, _ where_: String) throws(ConfigFileError) -> Double {
        switch value {
        case .integer(let integer): return Double(integer)
        case .float(let float): return float
        default: throw ConfigFileError(line: 0, message: "\(where_) must be a number, not \(value)")
        }
    }
}

extension AgentConfiguration {
    /// Settings given on the command line; nil leaves the file's or the default value.
    public struct Overrides: Sendable, Equatable {
        public var bootstrap: String?
        public var intervalSeconds: Double?
        public var topic: String?
        public var hostName: String?
        public var procRoot: String?
        public var sysRoot: String?

        public init(
            bootstrap: String? = nil, intervalSeconds: Double? = nil, topic: String? = nil, hostName: String? = nil,
            procRoot: String? = nil, sysRoot: String? = nil
        ) {
            self.bootstrap = bootstrap
            self.intervalSeconds = intervalSeconds
            self.topic = topic
            self.hostName = hostName
            self.procRoot = procRoot
            self.sysRoot = sysRoot
        }
    }

    /// Defaults, then the file, then `SKEIN_BOOTSTRAP` from the environment, then flags: the later
    /// source wins, so a flag always does what it says.
    public static func resolve(
        fileText: String?, environment: [String: String], overrides: Overrides
    ) throws(ConfigFileError) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        if let fileText { try configuration.apply(ConfigFile.parse(fileText)) }
        if let bootstrap = environment["SKEIN_BOOTSTRAP"], !splitList(bootstrap).isEmpty {
            configuration.bootstrapServers = splitList(bootstrap)
        }
        if let bootstrap = overrides.bootstrap {
            guard !splitList(bootstrap).isEmpty else { throw ConfigFileError(line: 0, message: "--bootstrap is empty") }
            configuration.bootstrapServers = splitList(bootstrap)
        }
        if let interval = overrides.intervalSeconds {
            guard interval >= 0.1, interval.isFinite else {
                throw ConfigFileError(line: 0, message: "--interval must be ≥ 0.1 seconds")
            }
            configuration.hostMetrics.intervalSeconds = interval
        }
        if let topic = overrides.topic {
            guard !topic.isEmpty else { throw ConfigFileError(line: 0, message: "--topic is empty") }
            configuration.hostMetrics.topic = topic
        }
        if let hostName = overrides.hostName {
            guard !hostName.isEmpty else { throw ConfigFileError(line: 0, message: "--host-name is empty") }
            configuration.hostName = hostName
        }
        if let procRoot = overrides.procRoot { configuration.hostMetrics.procRoot = procRoot }
        if let sysRoot = overrides.sysRoot { configuration.hostMetrics.sysRoot = sysRoot }
        return configuration
    }

    /// The host name records are keyed by.
    public var effectiveHostName: String { hostName ?? SystemInfo.hostName() }

    public func makeSampler() -> HostMetricsSampler {
        HostMetricsSampler(
            hostName: effectiveHostName, intervalSeconds: hostMetrics.intervalSeconds,
            collector: HostMetricsCollector(
                files: SystemFiles(procRoot: hostMetrics.procRoot, sysRoot: hostMetrics.sysRoot),
                includesAgentProcess: hostMetrics.agentProcessMetrics))
    }
}
