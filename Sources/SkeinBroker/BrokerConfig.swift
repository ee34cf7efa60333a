import SkeinLog

/// Broker settings, named as in Kafka's `server.properties` so operators can reuse what they know.
/// Values come from defaults, then a properties file, then `--set name=value`, later ones winning.
public struct BrokerConfig: Sendable, Equatable {
    public var nodeId: Int32 = 0
    public var listenHost = "127.0.0.1"
    public var listenPort = 9092
    /// Host advertised in Metadata; defaults to the listen host (0.0.0.0 is advertised as 127.0.0.1).
    public var advertisedHost: String?
    public var dataDirectory = "skein-data"
    public var clusterId = "skein-cluster"
    public var numPartitions: Int32 = 1
    public var autoCreateTopics = true
    /// `socket.request.max.bytes`: frames above it are refused before anything is allocated.
    public var maxRequestBytes = 100 * 1024 * 1024
    /// `compression.type`: what the broker stores; `producer` keeps whatever the producer sent.
    public var compressionType = "producer"
    public var retentionCheckIntervalMs: Int64 = 300_000
    /// `log.flush.scheduler.interval.ms` in Kafka; how often `flush.ms` is checked.
    public var flushCheckIntervalMs: Int64 = 1_000
    public var checkpointIntervalMs: Int64 = 60_000
    /// Defaults for every topic's log; topics override them with topic-level configs.
    public var logDefaults = LogConfig()
    public var deleteTopicEnable = true
    public var groups = GroupConfig()
    /// `http.listen`: where `/metrics`, `/metrics/hosts` and `/health` are served; nil when `off`.
    public var httpListen: ListenAddress? = ListenAddress(host: "127.0.0.1", port: 9644)
    /// `host.metrics.topic`: the topic agents produce host sample sets to, re-exported on `/metrics/hosts`.
    public var hostMetricsTopic = "metrics"
    /// `host.metrics.ttl.ms`: a host without a newer sample set for this long leaves `/metrics/hosts`.
    public var hostMetricsTtlMs: Int64 = 300_000
    /// `host.metrics.retention.ms`: the `retention.ms` the metrics topic gets when it is auto-created. Only
    /// the newest sample set per host matters to the exporter, so a day bounds the topic without the
    /// broker-wide default (a week) of every sample.
    public var hostMetricsRetentionMs: Int64 = 86_400_000

    // Transactions (issue #11).
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may ask for.
    public var transactionMaxTimeoutMs: Int32 = 900_000
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often open transactions are checked
    /// against their timeout.
    public var transactionCleanupIntervalMs: Int64 = 10_000

    // Partition and descriptor bounds: one request must not be able to make the data directory unusable.
    /// `max.partitions.per.topic`: a CreateTopics asking for more gets INVALID_PARTITIONS.
    public var maxPartitionsPerTopic: Int32 = 10_000
    /// `max.partitions.per.request`: partitions one CreateTopics request may create across its topics.
    public var maxPartitionsPerRequest = 10_000
    /// `max.partitions`: partitions the broker holds in total, auto-created topics included.
    public var maxPartitions = 50_000
    /// `log.max.open.files`: segment file descriptors kept open before idle ones are closed; 0 means half
    /// of the open file limit (RLIMIT_NOFILE), the rest being left to sockets and sendfile.
    public var logMaxOpenFiles = 0

    // Connection bounds (issue #10): what one client, or many, can make the broker hold.
    /// `max.connections`: Kafka connections open at once; nil derives it from the open-file limit.
    public var maxConnections: Int?
    /// `max.connections.per.ip`: connections from one address; unlimited by default, as in Kafka.
    public var maxConnectionsPerIp = Int.max
    /// `max.connections.per.ip.overrides`: `address:count` pairs, comma-separated.
    public var maxConnectionsPerIpOverrides: [String: Int] = [:]
    /// `connections.max.idle.ms`: a connection with no traffic and no request pending this long is closed.
    public var connectionsMaxIdleMs: Int64 = 600_000
    /// `socket.partial.request.timeout.ms`: a frame whose first bytes arrived must be complete this soon.
    public var partialRequestTimeoutMs: Int64 = 30_000
    /// `queued.max.request.bytes`: request bytes read and not yet answered, broker-wide; nil for no bound.
    public var queuedMaxRequestBytes: Int? = 256 * 1024 * 1024
    /// `connection.log.lines.per.interval` and `connection.log.interval.ms`: how many lines each kind of
    /// client-triggered warning (refused requests, refused connections, bad frames) may write per interval.
    public var connectionLogLinesPerInterval = 5
    public var connectionLogIntervalMs: Int64 = 10_000
    /// `authorizer.class.name`, `super.users`, `allow.everyone.if.no.acl.found` (README "Authorization (ACLs)").
    public var authorizer = AuthorizerConfig()
    /// SASL (issue #15): `sasl.enabled.mechanisms` and the failed-login delay.
    public var sasl = SASLSettings()
    /// The security protocol of the listener, from the `SASL_PLAINTEXT://` scheme of `listeners`
    /// (until the listener model of issue #15 replaces it).
    public var listenerSecurityProtocol = SecurityProtocol.plaintext
    /// `quota.window.num` and `quota.window.size.seconds`: client quota rates are measured over this many
    /// samples of this length (11 × 1 s, as in Kafka).
    public var quotaWindow = QuotaWindow()

    public init() {}

    public struct ListenAddress: Sendable, Equatable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    public struct InvalidSetting: Error, CustomStringConvertible, Equatable {
        public var name: String
        public var value: String
        public var reason: String
        public var description: String { "invalid setting \(name)=\(value): \(reason)" }
    }

    /// Applies one `name=value` setting by its Kafka name.
    public mutating func apply(_ name: String, _ value: String) throws(InvalidSetting) {
        func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(InvalidSetting) -> T {
            guard let parsed = T(value.trimmingSpaces) else {
                throw InvalidSetting(name: name, value: value, reason: "not an integer")
            }
            return parsed
        }
        func boolean() throws(InvalidSetting) -> Bool {
            switch value.trimmingSpaces.lowercased() {
            case "true": return true
            case "false": return false
            default: throw InvalidSetting(name: name, value: value, reason: "expected true or false")
            }
        }
        switch name {
        case "node.id", "broker.id": nodeId = try integer()
        case "listeners", "listen":
            let (host, port) = try Self.parseHostPort(value, name: name)
            listenHost = host
            listenPort = port
            if let scheme = value.trimmingSpaces.split(separator: ":").first, value.contains("://") {
                listenerSecurityProtocol = SecurityProtocol(rawValue: String(scheme).uppercased()) ?? .plaintext
            }
        case "http.listen":
            if value.trimmingSpaces.lowercased() == "off" {
                httpListen = nil
            } else {
                let (host, port) = try Self.parseHostPort(value, name: name)
                httpListen = ListenAddress(host: host, port: port)
            }
        case "host.metrics.topic":
            guard TopicPartition.isValidTopicName(value.trimmingSpaces) else {
                throw InvalidSetting(name: name, value: value, reason: "not a valid topic name")
            }
            hostMetricsTopic = value.trimmingSpaces
        case "host.metrics.ttl.ms":
            hostMetricsTtlMs = try integer()
            guard hostMetricsTtlMs > 0 else {
                throw InvalidSetting(name: name, value: value, reason: "must be positive")
            }
        case "host.metrics.retention.ms":
            hostMetricsRetentionMs = try integer()
            guard hostMetricsRetentionMs > 0 || hostMetricsRetentionMs == -1 else {
                throw InvalidSetting(name: name, value: value, reason: "must be positive, or -1 for no limit")
            }
        case "advertised.host.name", "advertised.listeners":
            advertisedHost = try Self.parseHostPort(value, name: name).host
        case "log.dirs", "log.dir", "data.dir": dataDirectory = value.trimmingSpaces
        case "cluster.id": clusterId = value.trimmingSpaces
        case "num.partitions":
            numPartitions = try integer()
            guard numPartitions > 0 else { throw InvalidSetting(name: name, value: value, reason: "must be positive") }
        case "auto.create.topics.enable": autoCreateTopics = try boolean()
        case "delete.topic.enable": deleteTopicEnable = try boolean()
        case "socket.request.max.bytes": maxRequestBytes = try integer()
        case "compression.type":
            guard TopicConfig.compressionTypes.contains(value.trimmingSpaces) else {
                throw InvalidSetting(
                    name: name, value: value, reason: "expected one of \(TopicConfig.compressionTypes)")
            }
            compressionType = value.trimmingSpaces
        case "log.retention.check.interval.ms": retentionCheckIntervalMs = try integer()
        case "log.flush.scheduler.interval.ms": flushCheckIntervalMs = try integer()
        case "log.flush.offset.checkpoint.interval.ms": checkpointIntervalMs = try integer()
        case "log.segment.bytes": logDefaults.segmentBytes = try integer()
        case "log.roll.ms": logDefaults.segmentMs = try integer()
        case "log.roll.hours": logDefaults.segmentMs = try integer(Int64.self) * 3_600_000
        case "log.retention.ms": logDefaults.retentionMs = try integer()
        case "log.retention.minutes": logDefaults.retentionMs = try integer(Int64.self) * 60_000
        case "log.retention.hours": logDefaults.retentionMs = try integer(Int64.self) * 3_600_000
        case "log.retention.bytes": logDefaults.retentionBytes = try integer()
        case "message.max.bytes": logDefaults.maxMessageBytes = try integer()
        case "log.flush.interval.ms": logDefaults.flushMs = try integer()
        case "log.index.interval.bytes": logDefaults.indexIntervalBytes = try integer()
        case "log.index.size.max.bytes": logDefaults.segmentIndexBytes = try integer()
        case "group.initial.rebalance.delay.ms": groups.initialRebalanceDelayMs = try integer()
        case "group.min.session.timeout.ms": groups.minSessionTimeoutMs = try integer()
        case "group.max.session.timeout.ms": groups.maxSessionTimeoutMs = try integer()
        case "offsets.retention.minutes": groups.offsetsRetentionMs = try integer(Int64.self) * 60_000
        case "offset.metadata.max.bytes": groups.maxMetadataBytes = try integer()
        case "transaction.max.timeout.ms": transactionMaxTimeoutMs = try Self.positive(value, name: name)
        case "transaction.abort.timed.out.transaction.cleanup.interval.ms":
            transactionCleanupIntervalMs = try Self.positive(value, name: name)
        case "max.partitions.per.topic": maxPartitionsPerTopic = try Self.positive(value, name: name)
        case "max.partitions.per.request": maxPartitionsPerRequest = try Self.positive(value, name: name)
        case "max.partitions": maxPartitions = try Self.positive(value, name: name)
        case "log.max.open.files": logMaxOpenFiles = try Self.positive(value, name: name, orZero: true)
        case "max.connections": maxConnections = try Self.positive(value, name: name)
        case "max.connections.per.ip": maxConnectionsPerIp = try Self.positive(value, name: name)
        case "max.connections.per.ip.overrides":
            maxConnectionsPerIpOverrides = try Self.parseOverrides(value, name: name)
        case "connections.max.idle.ms": connectionsMaxIdleMs = try Self.positive(value, name: name)
        case "socket.partial.request.timeout.ms": partialRequestTimeoutMs = try Self.positive(value, name: name)
        case "queued.max.request.bytes":
            queuedMaxRequestBytes = value.trimmingSpaces == "-1" ? nil : try Self.positive(value, name: name)
        case "connection.log.lines.per.interval":
            connectionLogLinesPerInterval = try Self.positive(value, name: name, orZero: true)
        case "connection.log.interval.ms": connectionLogIntervalMs = try Self.positive(value, name: name)
        case "authorizer.class.name": authorizer.className = value.trimmingSpaces
        case "super.users": authorizer.superUsers = AuthorizerConfig.parseSuperUsers(value)
        case "allow.everyone.if.no.acl.found": authorizer.allowEveryoneIfNoAclFound = try boolean()
        case "quota.window.num":
            let samples: Int = try Self.positive(value, name: name)
            guard samples >= 2 else { throw InvalidSetting(name: name, value: value, reason: "expected 2 or more") }
            quotaWindow.samples = samples
        case "quota.window.size.seconds":
            let seconds: Int64 = try Self.positive(value, name: name)
            guard seconds <= 3600 else {
                throw InvalidSetting(name: name, value: value, reason: "expected 3600 or less")
            }
            quotaWindow.sampleMs = seconds * 1000
        case "log.message.timestamp.type":
            guard let type = LogConfig.TimestampType(rawValue: value.trimmingSpaces) else {
                throw InvalidSetting(name: name, value: value, reason: "expected CreateTime or LogAppendTime")
            }
            logDefaults.timestampType = type
        case _ where SASLSettings.names.contains(name): try sasl.apply(name, value)
        default:
            throw InvalidSetting(name: name, value: value, reason: "unknown setting")
        }
    }

    /// Reads a Java-properties-style file: `name=value` lines, `#` or `!` comments.
    public mutating func apply(propertiesText text: String) throws(InvalidSetting) {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw InvalidSetting(name: line, value: "", reason: "expected name=value")
            }
            try apply(String(line[..<equals]).trimmingSpaces, String(line[line.index(after: equals)...]).trimmingSpaces)
        }
    }

    /// Accepts `host:port`, `PLAINTEXT://host:port` and `[::1]:port`.
    static func parseHostPort(_ text: String, name: String) throws(InvalidSetting) -> (host: String, port: Int) {
        var rest = Substring(text.trimmingSpaces)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        if let comma = rest.firstIndex(of: ",") { rest = rest[..<comma] }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw InvalidSetting(name: name, value: text, reason: "expected host:port") }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// An integer setting above zero (or at least zero, `orZero`).
    static func positive<T: FixedWidthInteger>(_ text: String, name: String, orZero: Bool = false)
        throws(InvalidSetting) -> T
    {
        guard let parsed = T(text.trimmingSpaces), parsed > 0 || (orZero && parsed == 0) else {
            throw InvalidSetting(
                name: name, value: text,
                reason: orZero ? "expected an integer of 0 or more" : "expected a positive integer")
        }
        return parsed
    }

    /// Kafka's `max.connections.per.ip.overrides` form: `address:count` pairs, comma-separated; the count
    /// is after the last colon, so IPv6 addresses need no brackets.
    static func parseOverrides(_ text: String, name: String) throws(InvalidSetting) -> [String: Int] {
        var overrides: [String: Int] = [:]
        for entry in text.split(separator: ",") {
            let pair = entry.trimmingSpaces
            if pair.isEmpty { continue }
            guard let colon = pair.lastIndex(of: ":"), let count = Int(pair[pair.index(after: colon)...]), count >= 0
            else { throw InvalidSetting(name: name, value: text, reason: "expected address:count[,address:count]") }
            var host = String(pair[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            overrides[host] = count
        }
        return overrides
    }

    /// What Metadata and FindCoordinator tell clients to connect to.
    public var advertisedHostName: String {
        if let advertisedHost { return advertisedHost }
        return listenHost == "0.0.0.0" || listenHost == "::" ? "127.0.0.1" : listenHost
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(
            drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
                .reversed())
    }
}
