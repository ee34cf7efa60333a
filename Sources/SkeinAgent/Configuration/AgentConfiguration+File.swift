import SkeinClient
import SkeinCompression
import SkeinFileSource
import SkeinLogShipping

/// Reading the configuration file's tables into `AgentConfiguration`. Every table lists its keys, so an
/// unknown one is an error naming its line rather than a setting silently left at its default.
extension AgentConfiguration {
    static let agentKeys = [
        "bootstrap", "host_name", "client_id", "name", "state_dir", "metrics_listen", "memory_cap", "buffer_records",
        "shutdown_flush_seconds",
    ]
    static let deliveryKeys = [
        "topic", "compression", "exactly_once", "batch_max_bytes", "batch_linger_ms", "transaction_timeout_ms",
        "checkpoint_interval_seconds", "checkpoint_max_age_seconds",
    ]
    static let hostMetricsKeys = [
        "enabled", "interval", "topic", "proc_root", "sys_root", "agent_process_metrics", "compression",
    ]
    static let fileSourceKeys = [
        "paths", "exclude", "topic", "start_at", "read_compressed", "fingerprint_bytes", "max_line_bytes",
        "long_lines", "scan_interval_seconds", "rotate_wait_seconds", "multiline",
    ]
    static let multilineKeys = ["start_pattern", "continuation_pattern", "timeout_ms", "max_lines", "max_bytes"]
    static let sourceKinds = ["host_metrics", "files", "journald", "syslog"]

    public mutating func apply(_ file: ConfigFile) throws(ConfigFileError) {
        let root = file.root
        for key in root.keys where !["agent", "delivery", "sources"].contains(key) {
            let what = root.value(key)?.table != nil ? "table [\(key)]" : "key '\(key)' at the top level"
            throw ConfigFileError(
                line: root.line(of: key), message: "unknown \(what) (known tables: [agent], [delivery], [sources.…])")
        }
        if let agent = try root.subtable("agent") { try applyAgent(agent) }
        if let delivery = try root.subtable("delivery") { try applyDelivery(delivery) }
        guard let sources = try root.subtable("sources") else { return }
        for key in sources.keys where !Self.sourceKinds.contains(key) {
            throw ConfigFileError(
                line: sources.line(of: key),
                message:
                    "unknown source [sources.\(key)] (known: [sources.host_metrics], [sources.files.NAME], [sources.journald.NAME], [sources.syslog.NAME])"
            )
        }
        if let hostMetrics = try sources.subtable("host_metrics") { try applyHostMetrics(hostMetrics) }
        if let journald = try sources.subtable("journald") { try applyJournald(journald) }
        try applySyslog(sources)
        if let files = try sources.subtable("files") {
            self.files = []
            for name in files.keys.sorted() {
                guard let table = try? files.subtable(name) else {
                    throw ConfigFileError(
                        line: files.line(of: name),
                        message: "[sources.files] \(name): each file source is a table, [sources.files.NAME]")
                }
                guard Self.isValidName(name) else {
                    throw ConfigFileError(
                        line: files.line(of: name),
                        message:
                            "file source name '\(name)' must be letters, digits, '_' or '-' (it becomes the id files.NAME)"
                    )
                }
                self.files.append(try Self.fileSource(name: name, table))
            }
        }
    }

    private mutating func applyAgent(_ table: ConfigTable) throws(ConfigFileError) {
        try table.rejectUnknownKeys(known: Self.agentKeys)
        if let bootstrap = try table.strings("bootstrap", orString: true) {
            bootstrapServers = bootstrap.flatMap(Self.splitList)
            guard !bootstrapServers.isEmpty else { throw table.error("bootstrap", "is empty") }
        }
        if let hostName = try table.nonEmptyString("host_name") { self.hostName = hostName }
        if let clientId = try table.string("client_id") { self.clientId = clientId }
        if let name = try table.string("name") {
            guard Self.isValidName(name) else {
                throw table.error("name", "'\(name)' must be 1–100 letters, digits, '_' or '-'")
            }
            self.name = name
        }
        if let stateDirectory = try table.nonEmptyString("state_dir") { self.stateDirectory = stateDirectory }
        if let listen = try table.nonEmptyString("metrics_listen") {
            if listen.lowercased() == "off" {
                metricsListen = nil
            } else {
                guard let address = ListenAddress.parse(listen) else {
                    throw table.error("metrics_listen", "expected \"HOST:PORT\" or \"off\", not \"\(listen)\"")
                }
                metricsListen = address
            }
        }
        if let cap = try table.byteSize("memory_cap", in: (64 << 10)...(1 << 40)) { memoryCapBytes = cap }
        if let count = try table.integer("buffer_records", in: 1...1_000_000) { bufferRecords = count }
        if let seconds = try table.number("shutdown_flush_seconds", in: 0...3600) { shutdownFlushSeconds = seconds }
    }

    private mutating func applyDelivery(_ table: ConfigTable) throws(ConfigFileError) {
        let securityKeys = try Self.applySecurity(table, prefix: "", to: &delivery.security)
        try table.rejectUnknownKeys(known: Self.deliveryKeys + securityKeys)
        if let topic = try Self.topic(table, "topic") { delivery.topic = topic }
        if let codec = try Self.codec(table, "compression") { delivery.compression = codec }
        if let mode = try table.choice("exactly_once", ExactlyOnceMode.self) {
            delivery.exactlyOnce = mode
        }
        if let bytes = try table.byteSize("batch_max_bytes", in: 1024...(256 << 20)) { delivery.batchMaxBytes = bytes }
        if let linger = try table.integer("batch_linger_ms", in: 0...60_000) {
            delivery.batchLingerMilliseconds = linger
        }
        if let timeout = try table.integer("transaction_timeout_ms", in: 1000...900_000) {
            delivery.transactionTimeoutMilliseconds = timeout
        }
        if let seconds = try table.number("checkpoint_interval_seconds", in: 0.1...86_400) {
            delivery.checkpointIntervalSeconds = seconds
        }
        if let seconds = try table.number("checkpoint_max_age_seconds", in: 1...604_800) {
            delivery.checkpointMaxAgeSeconds = seconds
        }
        guard delivery.checkpointMaxAgeSeconds >= delivery.checkpointIntervalSeconds else {
            throw table.error(
                table.contains("checkpoint_max_age_seconds")
                    ? "checkpoint_max_age_seconds" : "checkpoint_interval_seconds",
                "checkpoint_max_age_seconds (\(ConfigTable.format(delivery.checkpointMaxAgeSeconds))) must not be below checkpoint_interval_seconds (\(ConfigTable.format(delivery.checkpointIntervalSeconds)))"
            )
        }
    }

    /// Kafka's client security names in `[delivery]`, quoted (`"ssl.ca.location" = …`) or as TOML's dotted
    /// keys (`ssl.ca.location = …`, which TOML reads as nested tables); returns the top-level keys taken.
    private static func applySecurity(_ table: ConfigTable, prefix: String, to security: inout ClientSecurity)
        throws(ConfigFileError) -> [String]
    {
        var taken: [String] = []
        for key in table.keys {
            let name = prefix + key
            let nestable = name == "security" || ClientSecurity.handles(name + ".x")
            if nestable, table.value(key)?.table != nil, let nested = try table.subtable(key) {
                _ = try applySecurity(nested, prefix: name + ".", to: &security)
                taken.append(key)
                continue
            }
            guard ClientSecurity.handles(name) else {
                // Inside `security.` or `ssl.` every key must be known; at the top, other keys are [delivery]'s.
                if prefix.isEmpty { continue }
                throw table.error(key, "unknown setting \(name)")
            }
            guard let value = try table.string(key) else { continue }
            do {
                try security.apply(name, value)
            } catch {
                throw table.error(key, "\(error)")
            }
            taken.append(key)
        }
        return taken
    }

    private mutating func applyHostMetrics(_ table: ConfigTable) throws(ConfigFileError) {
        try table.rejectUnknownKeys(known: Self.hostMetricsKeys)
        if let enabled = try table.bool("enabled") { hostMetrics.enabled = enabled }
        if let seconds = try table.number("interval", in: 0.1...86_400) { hostMetrics.intervalSeconds = seconds }
        if let topic = try Self.topic(table, "topic") { hostMetrics.topic = topic }
        if let root = try table.string("proc_root") { hostMetrics.procRoot = root }
        if let root = try table.string("sys_root") { hostMetrics.sysRoot = root }
        if let flag = try table.bool("agent_process_metrics") { hostMetrics.agentProcessMetrics = flag }
        if let codec = try Self.codec(table, "compression") { hostMetrics.compression = codec }
    }

    static func fileSource(name: String, _ table: ConfigTable) throws(ConfigFileError) -> FileSourceSettings {
        try table.rejectUnknownKeys(known: fileSourceKeys)
        guard let paths = try table.strings("paths", orString: true) else {
            throw ConfigFileError(line: table.line, message: "\(table.name) needs paths = [\"/var/log/…\", …]")
        }
        guard !paths.isEmpty else { throw table.error("paths", "is empty: give at least one glob") }
        guard paths.allSatisfy({ !$0.isEmpty }) else { throw table.error("paths", "holds an empty glob") }
        var settings = FileSourceSettings(id: "files.\(name)", paths: paths)
        if let exclude = try table.strings("exclude", orString: true) {
            guard exclude.allSatisfy({ !$0.isEmpty }) else { throw table.error("exclude", "holds an empty glob") }
            settings.exclude = exclude
        }
        settings.topic = try topic(table, "topic")
        if let start = try table.choice("start_at", FileSourceSettings.StartPosition.self) { settings.startAt = start }
        if let flag = try table.bool("read_compressed") { settings.readCompressed = flag }
        if let bytes = try table.byteSize("fingerprint_bytes", in: 16...(1 << 20)) { settings.fingerprintBytes = bytes }
        if let bytes = try table.byteSize("max_line_bytes", in: 16...(64 << 20)) { settings.maxLineBytes = bytes }
        if let mode = try table.choice("long_lines", FileSourceSettings.LongLines.self) { settings.longLines = mode }
        if let seconds = try table.number("scan_interval_seconds", in: 0.1...86_400) {
            settings.scanIntervalSeconds = seconds
        }
        if let seconds = try table.number("rotate_wait_seconds", in: 0...86_400) {
            settings.rotateWaitSeconds = seconds
        }
        if let multiline = try table.subtable("multiline") { settings.multiline = try Self.multiline(multiline) }
        return settings
    }

    static func multiline(_ table: ConfigTable) throws(ConfigFileError) -> MultilineSettings {
        try table.rejectUnknownKeys(known: multilineKeys)
        let start = try table.string("start_pattern")
        let continuation = try table.string("continuation_pattern")
        guard (start == nil) != (continuation == nil) else {
            throw ConfigFileError(
                line: table.line,
                message:
                    "\(table.name) needs exactly one of start_pattern and continuation_pattern, not \(start == nil ? "neither" : "both")"
            )
        }
        for (key, pattern) in [("start_pattern", start), ("continuation_pattern", continuation)] {
            guard let pattern else { continue }
            guard !pattern.isEmpty else { throw table.error(key, "is empty") }
            do {
                _ = try Regex(pattern)
            } catch {
                throw table.error(key, "'\(pattern)' is not a valid regular expression: \(error)")
            }
        }
        var settings = MultilineSettings(startPattern: start, continuationPattern: continuation)
        if let timeout = try table.integer("timeout_ms", in: 1...3_600_000) { settings.timeoutMilliseconds = timeout }
        if let lines = try table.integer("max_lines", in: 1...1_000_000) { settings.maxLines = lines }
        if let bytes = try table.byteSize("max_bytes", in: 16...(64 << 20)) { settings.maxBytes = bytes }
        return settings
    }

    static func topic(_ table: ConfigTable, _ key: String) throws(ConfigFileError) -> String? {
        guard let topic = try table.string(key) else { return nil }
        guard isValidTopicName(topic) else {
            throw table.error(key, "'\(topic)' is not a valid topic name (1–249 of letters, digits, '.', '_', '-')")
        }
        return topic
    }

    private static func codec(_ table: ConfigTable, _ key: String) throws(ConfigFileError) -> CompressionCodec? {
        guard let name = try table.string(key) else { return nil }
        guard let codec = AgentConfiguration.codec(named: name) else {
            throw table.error(key, "none, gzip, snappy, lz4 or zstd, not '\(name)'")
        }
        return codec
    }
}
