import SkeinLog
import SkeinProtocol
import SkeinTLS

/// Broker settings, named as in Kafka's `server.properties` so operators can reuse what they know.
/// Values come from defaults, then a properties file, then `--set name=value`, later ones winning.
public struct BrokerConfig: Sendable, Equatable {
    public var nodeId: Int32 = 0
    /// `listeners`: `NAME://host:port` entries, comma-separated; a bare `host:port` is one PLAINTEXT listener.
    public var listeners = [Listener(name: "PLAINTEXT", host: "127.0.0.1", port: 9092)]
    /// `listener.security.protocol.map`: `NAME:PROTOCOL` pairs; a listener named after a protocol needs none.
    public var listenerSecurityProtocolMap: [String: SecurityProtocol] = [:]
    /// `advertised.listeners` in the `NAME://host:port` form: what Metadata tells a client that came in on
    /// that listener; port 0 advertises the port bound.
    public var advertisedListeners: [String: ListenAddress] = [:]
    /// Host advertised in Metadata for listeners without an `advertised.listeners` entry (the old
    /// `advertised.host.name`, or `advertised.listeners=host:port`); defaults to the listener's host
    /// (0.0.0.0 is advertised as 127.0.0.1).
    public var advertisedHost: String?
    /// `ssl.*` settings of every TLS listener, and `listener.name.<name>.ssl.*` ones of one listener (by
    /// upper-cased name), as given; `tlsSettings(forListener:)` combines them.
    public var ssl: [String: String] = [:]
    public var listenerSSL: [String: [String: String]] = [:]
    /// `http.ssl.*`: TLS for the HTTP listener, on when `http.ssl.certificate.location` is set.
    public var httpSSL: [String: String] = [:]
    /// `http.basic.auth.users.file`: `user:hash` lines; when set, every HTTP request needs basic auth.
    public var httpBasicAuthUsersFile: String?

    /// The first listener's address (the single listener of older configurations).
    public var listenHost: String {
        get { listeners.first?.host ?? "127.0.0.1" }
        set { listeners[0].host = newValue }
    }
    public var listenPort: Int {
        get { listeners.first?.port ?? 9092 }
        set { listeners[0].port = newValue }
    }
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

    public struct Listener: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int

        public init(name: String, host: String, port: Int) {
            self.name = name
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
        case "listeners", "listen": listeners = try Self.parseListeners(value, name: name)
        case "listener.security.protocol.map":
            listenerSecurityProtocolMap = try Self.parseProtocolMap(value, name: name)
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
        case "advertised.listeners" where value.contains("://"):
            advertisedListeners = [:]
            for listener in try Self.parseListeners(value, name: name) {
                advertisedListeners[listener.name] = ListenAddress(host: listener.host, port: listener.port)
            }
        case "advertised.host.name", "advertised.listeners":
            advertisedHost = try Self.parseHostPort(value, name: name).host
        case "http.basic.auth.users.file":
            httpBasicAuthUsersFile = value.trimmingSpaces.isEmpty ? nil : value.trimmingSpaces
        case _ where name.hasPrefix("http.ssl."):
            let setting = String(name.dropFirst("http.".count))
            try Self.checkSSL(setting, value, name: name)
            httpSSL[setting] = value
        case _ where name.hasPrefix("listener.name."):
            let rest = name.dropFirst("listener.name.".count)
            guard let dot = rest.firstIndex(of: "."), rest[rest.index(after: dot)...].hasPrefix("ssl.") else {
                throw InvalidSetting(name: name, value: value, reason: "unknown setting")
            }
            let setting = String(rest[rest.index(after: dot)...])
            try Self.checkSSL(setting, value, name: name)
            listenerSSL[rest[..<dot].uppercased(), default: [:]][setting] = value
        case _ where name.hasPrefix("ssl."):
            try Self.checkSSL(name, value, name: name)
            ssl[name] = value
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

    /// `NAME://host:port,...`; a bare `host:port` (the old single-listener form) is named PLAINTEXT.
    static func parseListeners(_ text: String, name: String) throws(InvalidSetting) -> [Listener] {
        var listeners: [Listener] = []
        for entry in text.split(separator: ",") {
            let item = entry.trimmingSpaces
            if item.isEmpty { continue }
            var listenerName = "PLAINTEXT"
            if let scheme = item.range(of: "://") {
                listenerName = item[..<scheme.lowerBound].uppercased()
                guard !listenerName.isEmpty, listenerName.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw InvalidSetting(name: name, value: text, reason: "listener names are letters, digits and _")
                }
            }
            let (host, port) = try parseHostPort(item, name: name)
            guard !listeners.contains(where: { $0.name == listenerName }) else {
                throw InvalidSetting(name: name, value: text, reason: "listener \(listenerName) is named twice")
            }
            listeners.append(Listener(name: listenerName, host: host, port: port))
        }
        guard !listeners.isEmpty else { throw InvalidSetting(name: name, value: text, reason: "no listener") }
        return listeners
    }

    static func parseProtocolMap(_ text: String, name: String) throws(InvalidSetting) -> [String: SecurityProtocol] {
        var map: [String: SecurityProtocol] = [:]
        for entry in text.split(separator: ",") {
            let pair = entry.trimmingSpaces
            if pair.isEmpty { continue }
            guard let colon = pair.firstIndex(of: ":"),
                let proto = SecurityProtocol(rawValue: pair[pair.index(after: colon)...].trimmingSpaces.uppercased())
            else {
                throw InvalidSetting(
                    name: name, value: text,
                    reason: "expected NAME:PROTOCOL pairs, PROTOCOL one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL")
            }
            map[pair[..<colon].trimmingSpaces.uppercased()] = proto
        }
        return map
    }

    /// An `ssl.*` setting is checked when given, so a typo fails at startup with its own name.
    static func checkSSL(_ setting: String, _ value: String, name: String) throws(InvalidSetting) {
        guard TLSServerSettings.handles(setting) else {
            let hint =
                setting.hasPrefix("ssl.keystore") || setting.hasPrefix("ssl.truststore")
                ? "keystores are not read; give PEM files with ssl.certificate.location, ssl.key.location and ssl.ca.location"
                : "unknown setting"
            throw InvalidSetting(name: name, value: value, reason: hint)
        }
        var scratch = TLSServerSettings()
        do {
            try scratch.apply(setting, value)
        } catch {
            throw InvalidSetting(
                name: name, value: setting == "ssl.key.password" ? "(hidden)" : value, reason: error.reason)
        }
    }

    /// A listener with what it speaks and, for SSL and SASL_SSL, its TLS settings.
    public struct ResolvedListener: Sendable, Equatable {
        public var name: String
        public var host: String
        public var port: Int
        public var securityProtocol: SecurityProtocol
        public var tls: TLSServerSettings?
    }

    /// The listeners with their protocols and TLS settings; fails on a name with no protocol or a TLS
    /// listener without certificate and key.
    public func resolvedListeners() throws(InvalidSetting) -> [ResolvedListener] {
        try listeners.map { listener throws(InvalidSetting) in
            guard
                let proto = listenerSecurityProtocolMap[listener.name] ?? SecurityProtocol(rawValue: listener.name)
            else {
                throw InvalidSetting(
                    name: "listener.security.protocol.map", value: "",
                    reason:
                        "listener \(listener.name) has no security protocol (add \(listener.name):PLAINTEXT or another)"
                )
            }
            var tls: TLSServerSettings?
            if proto.usesTLS {
                let settings = try tlsSettings(forListener: listener.name)
                do {
                    try settings.validate(what: "listener \(listener.name)")
                } catch let error as TLSServerSettings.InvalidSetting {
                    throw InvalidSetting(name: error.name, value: "", reason: error.reason)
                } catch {
                    throw InvalidSetting(name: "ssl", value: "", reason: "\(error)")
                }
                tls = settings
            }
            return ResolvedListener(
                name: listener.name, host: listener.host, port: listener.port, securityProtocol: proto, tls: tls)
        }
    }

    /// `ssl.*`, then the listener's own `listener.name.<name>.ssl.*` over them.
    public func tlsSettings(forListener name: String) throws(InvalidSetting) -> TLSServerSettings {
        var settings = TLSServerSettings()
        for (key, value) in ssl.sorted(by: { $0.key < $1.key }) {
            try? settings.apply(key, value)
        }
        for (key, value) in (listenerSSL[name.uppercased()] ?? [:]).sorted(by: { $0.key < $1.key }) {
            try? settings.apply(key, value)
        }
        return settings
    }

    /// The HTTP listener's TLS settings, nil when it serves plain HTTP.
    public func httpTLSSettings() throws(InvalidSetting) -> TLSServerSettings? {
        guard httpSSL["ssl.certificate.location"] != nil else { return nil }
        var settings = TLSServerSettings()
        for (key, value) in httpSSL.sorted(by: { $0.key < $1.key }) { try? settings.apply(key, value) }
        do {
            try settings.validate(what: "the HTTP listener")
        } catch {
            throw InvalidSetting(name: "http." + error.name, value: "", reason: error.reason)
        }
        return settings
    }

    /// What Metadata and FindCoordinator tell a client on `listener` to connect to; `boundPort` is the
    /// port that listener got (a listener on port 0 gets one from the kernel).
    public func advertisedAddress(listener: String, boundPort: Int?) -> (host: String, port: Int) {
        let own = listeners.first { $0.name == listener } ?? listeners.first
        let bound = boundPort ?? own?.port ?? 9092
        if let advertised = advertisedListeners[listener] {
            return (Self.reachable(advertised.host), advertised.port == 0 ? bound : advertised.port)
        }
        return (advertisedHost ?? Self.reachable(own?.host ?? "127.0.0.1"), bound)
    }

    static func reachable(_ host: String) -> String {
        host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
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
