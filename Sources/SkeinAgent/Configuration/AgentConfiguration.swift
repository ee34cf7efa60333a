import SkeinClient
import SkeinCompression
import SkeinFileSource
import SkeinJournaldSource
import SkeinLogShipping
import SkeinSyslogSource

/// Everything the agent needs to run: defaults, then the configuration file, then the environment,
/// then flags (`resolve`), each later one winning.
public struct AgentConfiguration: Sendable, Equatable {
    /// "host:port" of one or more brokers.
    public var bootstrapServers: [String] = ["127.0.0.1:9092"]
    /// The record key and `host` label; nil for the machine's host name.
    public var hostName: String?
    public var clientId: String = "skein-agent"
    /// The agent's name on this host; with the host name it makes the transactional id, so two agents on
    /// one host need different names, and a restarted agent must keep its name to fence its predecessor.
    public var name = "default"
    /// A cache of checkpoint offsets only: what is delivered never depends on it.
    public var stateDirectory = "/var/lib/skein-agent"
    /// The agent's own `/metrics` and `/health`; nil when `off`.
    public var metricsListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9645)
    /// Bytes of records that log sources may have buffered before they pause.
    public var memoryCapBytes = 64 << 20
    /// Sample sets kept while the broker cannot be reached; beyond it the oldest are dropped
    /// (and counted in `skein_agent_records_dropped_total`).
    public var bufferRecords: Int = 240
    /// How long a stopping agent keeps trying to deliver what it has buffered.
    public var shutdownFlushSeconds: Double = 5
    public var delivery = DeliveryConfiguration()
    public var hostMetrics = HostMetricsSourceConfiguration()
    /// `[sources.files.NAME]` tables, sorted by NAME (TOML tables are unordered; sorting keeps the order
    /// of sources, and so of log lines and metrics, the same whatever the file's layout).
    public var files: [FileSourceSettings] = []
    /// `[sources.journald.NAME]` tables, sorted by NAME.
    public var journald: [JournaldSettings] = []
    /// `[sources.syslog.NAME]` tables, sorted by NAME.
    public var syslog: [SyslogSourceSettings] = []

    public init() {}

    public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, `[::1]:port`; an empty host means every address.
        public static func parse(_ text: String) -> ListenAddress? {
            let trimmed = String(text.trimmingWhitespace())
            guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]),
                (0...65535).contains(port)
            else { return nil }
            var host = String(trimmed[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") {
                host = String(host.dropFirst().dropLast())
            } else if host.contains(":") {
                return nil  // an IPv6 address needs brackets
            }
            return ListenAddress(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// `[delivery]`: how log records reach the broker. Kafka producer names where one exists
    /// (`compression.type`, `batch.size`, `linger.ms`, `transaction.timeout.ms`). `deliverySettings`
    /// turns it, with `[agent]`, into the delivery core's settings.
    public struct DeliveryConfiguration: Sendable, Equatable {
        /// The topic of every log source that names none.
        public var topic = "logs"
        public var compression: CompressionCodec = .lz4
        public var exactlyOnce: ExactlyOnceMode = .auto
        /// Bytes of records per transaction (one batch of lines); a single larger record still goes alone.
        public var batchMaxBytes = 16 << 20
        /// How long a batch that is not full waits for more lines.
        public var batchLingerMilliseconds = 200
        public var transactionTimeoutMilliseconds = 60_000
        /// How often a checkpoint record of all positions is written while records flow.
        public var checkpointIntervalSeconds: Double = 30
        /// A checkpoint is written at least this often even when nothing flows, so that recovery finds an
        /// idle source's position within a bounded scan of the partition's tail.
        public var checkpointMaxAgeSeconds: Double = 3600
        /// `"security.protocol"`, `"ssl.ca.location"`, … (Kafka's client names, quoted or as dotted keys):
        /// how every connection of the agent, log delivery and host metrics alike, reaches the brokers.
        public var security = ClientSecurity()

        public init() {}
    }

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

    /// The configuration file's settings applied over the defaults. Unknown tables and keys are errors,
    /// so a misspelt key does not silently keep its default.
    public static func load(fromFileText text: String) throws(ConfigFileError) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        try configuration.apply(ConfigFile.parse(text))
        return configuration
    }

    public static func codec(named name: String) -> CompressionCodec? {
        CompressionCodec(configName: name)
    }

    /// "a:9092, b:9092" → ["a:9092", "b:9092"], as Kafka's bootstrap.servers is written.
    public static func splitList(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
    }

    /// Kafka's legal topic names: 1–249 of `[A-Za-z0-9._-]`, and not `.` or `..`.
    public static func isValidTopicName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 249 && name != "." && name != ".."
            && name.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: ".") }
    }

    /// Agent and source names go into the transactional id, record headers and metric labels.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 100 && name.utf8.allSatisfy(isNameByte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
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
        /// `host:port` or `off`.
        public var metricsListen: String?
        public var stateDirectory: String?

        public init(
            bootstrap: String? = nil, intervalSeconds: Double? = nil, topic: String? = nil, hostName: String? = nil,
            procRoot: String? = nil, sysRoot: String? = nil, metricsListen: String? = nil,
            stateDirectory: String? = nil
        ) {
            self.bootstrap = bootstrap
            self.intervalSeconds = intervalSeconds
            self.topic = topic
            self.hostName = hostName
            self.procRoot = procRoot
            self.sysRoot = sysRoot
            self.metricsListen = metricsListen
            self.stateDirectory = stateDirectory
        }
    }

    /// Defaults (with systemd's `STATE_DIRECTORY` as the state directory's), then the file, then
    /// `SKEIN_BOOTSTRAP` from the environment, then flags: the later source wins, so a flag always does
    /// what it says.
    public static func resolve(
        fileText: String?, environment: [String: String], overrides: Overrides
    ) throws(ConfigFileError) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        if let stateDirectory = environment["STATE_DIRECTORY"], !stateDirectory.isEmpty {
            // systemd may pass several, colon-separated, when the unit names several.
            configuration.stateDirectory = String(stateDirectory.split(separator: ":").first ?? "")
        }
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
            guard isValidTopicName(topic) else {
                throw ConfigFileError(line: 0, message: "--topic '\(topic)' is not a valid topic name")
            }
            configuration.hostMetrics.topic = topic
        }
        if let hostName = overrides.hostName {
            guard !hostName.isEmpty else { throw ConfigFileError(line: 0, message: "--host-name is empty") }
            configuration.hostName = hostName
        }
        if let procRoot = overrides.procRoot { configuration.hostMetrics.procRoot = procRoot }
        if let sysRoot = overrides.sysRoot { configuration.hostMetrics.sysRoot = sysRoot }
        if let listen = overrides.metricsListen {
            if listen.trimmingWhitespace().lowercased() == "off" {
                configuration.metricsListen = nil
            } else {
                guard let address = ListenAddress.parse(listen) else {
                    throw ConfigFileError(
                        line: 0, message: "--metrics-listen expects HOST:PORT or off, not '\(listen)'")
                }
                configuration.metricsListen = address
            }
        }
        if let stateDirectory = overrides.stateDirectory {
            guard !stateDirectory.isEmpty else { throw ConfigFileError(line: 0, message: "--state-dir is empty") }
            configuration.stateDirectory = stateDirectory
        }
        return configuration
    }

    /// The host name records are keyed by.
    public var effectiveHostName: String { hostName ?? SystemInfo.hostName() }

    /// `skein-agent/<host>/<name>`: the producer's transactional id and the `skein.agent` header.
    public var transactionalId: String { "skein-agent/\(effectiveHostName)/\(name)" }

    /// The delivery core's settings: `[delivery]`, the agent's identity and its state directory.
    public var deliverySettings: DeliverySettings {
        var settings = DeliverySettings(bootstrapServers: bootstrapServers, hostName: effectiveHostName)
        settings.clientId = clientId
        settings.security = delivery.security
        settings.agentName = name
        settings.defaultTopic = delivery.topic
        settings.compression = delivery.compression
        settings.exactlyOnce = delivery.exactlyOnce
        settings.batchMaxBytes = delivery.batchMaxBytes
        settings.batchLinger = .milliseconds(delivery.batchLingerMilliseconds)
        settings.transactionTimeoutMilliseconds = Int32(delivery.transactionTimeoutMilliseconds)
        settings.checkpointInterval = .milliseconds(Int64((delivery.checkpointIntervalSeconds * 1000).rounded()))
        settings.checkpointMaxAge = .milliseconds(Int64((delivery.checkpointMaxAgeSeconds * 1000).rounded()))
        settings.stateDirectory = stateDirectory
        return settings
    }

    /// The topic a file source's records go to.
    public func topic(of source: FileSourceSettings) -> String { source.topic ?? delivery.topic }
    public func topic(of source: JournaldSettings) -> String { source.topic ?? delivery.topic }

    public func makeSampler() -> HostMetricsSampler {
        HostMetricsSampler(
            hostName: effectiveHostName, intervalSeconds: hostMetrics.intervalSeconds,
            collector: HostMetricsCollector(
                files: SystemFiles(procRoot: hostMetrics.procRoot, sysRoot: hostMetrics.sysRoot),
                includesAgentProcess: hostMetrics.agentProcessMetrics))
    }
}
