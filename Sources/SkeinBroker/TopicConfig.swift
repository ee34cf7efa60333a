import SkeinLog

/// Topic-level configuration by Kafka's names. A topic stores only its overrides; everything else
/// follows the broker defaults, and DescribeConfigs says which is which.
public enum TopicConfig {
    static let compressionTypes = ["producer", "uncompressed", "none", "gzip", "snappy", "lz4", "zstd"]

    public enum Source: Int8, Sendable {
        case topic = 1
        case staticBroker = 4
        case defaultConfig = 5
    }

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var value: String
        public var source: Source
        public var isDefault: Bool { source == .defaultConfig }
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var name: String
        public var value: String
        public var reason: String
        public var description: String { "invalid topic config \(name)=\(value): \(reason)" }
    }

    /// The names with an effect on this broker.
    static let effectiveNames = [
        "cleanup.policy", "compression.type", "flush.ms", "index.interval.bytes", "max.message.bytes",
        "message.timestamp.type", "min.insync.replicas", "retention.bytes", "retention.ms", "segment.bytes",
        "segment.index.bytes", "segment.ms",
    ]

    /// Every name DescribeConfigs reports, sorted: those with an effect and those accepted without one
    /// (`SingleNodeTopicConfigs`).
    public static let names = (effectiveNames + SingleNodeTopicConfigs.settings.keys).sorted()

    /// Checks one override; the broker refuses the whole request on the first invalid one, as Kafka does.
    public static func validate(_ name: String, _ value: String) throws(Invalid) {
        func integer(min: Int64) throws(Invalid) {
            guard let parsed = Int64(value), parsed >= min else {
                throw Invalid(name: name, value: value, reason: "expected an integer ≥ \(min)")
            }
        }
        switch name {
        case "retention.ms", "retention.bytes": try integer(min: -1)
        case "segment.bytes": try integer(min: 14)
        case "segment.ms", "flush.ms": try integer(min: 1)
        case "max.message.bytes", "index.interval.bytes": try integer(min: 0)
        case "segment.index.bytes": try integer(min: 8)
        case "min.insync.replicas":
            // A single node has one replica; asking for more could never be satisfied.
            guard value == "1" else { throw Invalid(name: name, value: value, reason: "this broker has one replica") }
        case "compression.type":
            guard compressionTypes.contains(value) else {
                throw Invalid(
                    name: name, value: value, reason: "expected one of \(compressionTypes.joined(separator: ", "))")
            }
        case "message.timestamp.type":
            guard LogConfig.TimestampType(rawValue: value) != nil else {
                throw Invalid(name: name, value: value, reason: "expected CreateTime or LogAppendTime")
            }
        case "cleanup.policy":
            guard value == "delete" else {
                throw Invalid(name: name, value: value, reason: "only delete is supported; compaction is not")
            }
        default:
            if let reason = SingleNodeTopicConfigs.problem(name, value) {
                throw Invalid(name: name, value: value, reason: reason)
            }
        }
    }

    /// The log settings of a topic: broker defaults with the topic's overrides applied.
    public static func logConfig(overrides: [String: String], defaults: LogConfig) -> LogConfig {
        var config = defaults
        for (name, value) in overrides {
            switch name {
            case "retention.ms": config.retentionMs = Int64(value) ?? config.retentionMs
            case "retention.bytes": config.retentionBytes = Int64(value) ?? config.retentionBytes
            case "segment.bytes": config.segmentBytes = Int(value) ?? config.segmentBytes
            case "segment.ms": config.segmentMs = Int64(value) ?? config.segmentMs
            case "flush.ms": config.flushMs = Int64(value) ?? config.flushMs
            case "max.message.bytes": config.maxMessageBytes = Int(value) ?? config.maxMessageBytes
            case "index.interval.bytes": config.indexIntervalBytes = Int(value) ?? config.indexIntervalBytes
            case "segment.index.bytes": config.segmentIndexBytes = Int(value) ?? config.segmentIndexBytes
            case "message.timestamp.type":
                config.timestampType = LogConfig.TimestampType(rawValue: value) ?? config.timestampType
            default: break
            }
        }
        return config
    }

    /// Every config of a topic with its effective value and where that value comes from.
    public static func describe(overrides: [String: String], broker: BrokerConfig) -> [Entry] {
        let brokerValues = describeBrokerDefaults(broker)
        let pristineValues = describeBrokerDefaults(BrokerConfig())
        return names.map { name in
            if let value = overrides[name] { return Entry(name: name, value: value, source: .topic) }
            let value = brokerValues[name]!
            return Entry(
                name: name, value: value, source: value == pristineValues[name] ? .defaultConfig : .staticBroker)
        }
    }

    /// The value each topic config takes from the broker's settings.
    private static func describeBrokerDefaults(_ broker: BrokerConfig) -> [String: String] {
        let defaults = broker.logDefaults
        let accepted = SingleNodeTopicConfigs.settings.mapValues(\.defaultValue)
        return accepted.merging([
            "cleanup.policy": "delete", "compression.type": broker.compressionType,
            "flush.ms": String(defaults.flushMs), "index.interval.bytes": String(defaults.indexIntervalBytes),
            "max.message.bytes": String(defaults.maxMessageBytes),
            "message.timestamp.type": defaults.timestampType.rawValue, "min.insync.replicas": "1",
            "retention.bytes": String(defaults.retentionBytes), "retention.ms": String(defaults.retentionMs),
            "segment.bytes": String(defaults.segmentBytes), "segment.index.bytes": String(defaults.segmentIndexBytes),
            "segment.ms": String(defaults.segmentMs),
        ]) { _, effective in effective }
    }
}
