/// Topic configs that Kafka accepts and that change nothing on one node without compaction, remote
/// storage or replication: throttles between replicas, election rules, compaction timing, the legacy
/// message format, preallocation and the like.
///
/// Tools and client test suites set them routinely (librdkafka's tests set `message.format.version`,
/// Terraform providers copy a topic's whole config), and refusing them breaks those users for no gain.
/// So they are checked as Kafka checks them, stored as overrides, reported by DescribeConfigs, and have
/// no effect. A value Kafka would refuse is refused; a name Kafka does not know still is too.
enum SingleNodeTopicConfigs {
    enum Kind {
        case integer(min: Int64, max: Int64 = .max)
        case boolean
        case ratio
        /// A replica throttle list: empty, `*`, or `partition:broker` pairs separated by commas.
        case replicaList
        /// A Kafka release such as `0.10.0`, `2.8` or `3.0-IV1`.
        case version
    }

    struct Setting {
        var kind: Kind
        /// What Kafka 3.x reports when nothing is set.
        var defaultValue: String
    }

    static let longMax = String(Int64.max)

    static let settings: [String: Setting] = [
        "compression.gzip.level": Setting(kind: .integer(min: -1, max: 9), defaultValue: "-1"),
        "compression.lz4.level": Setting(kind: .integer(min: 1, max: 17), defaultValue: "9"),
        "compression.zstd.level": Setting(kind: .integer(min: -131_072, max: 22), defaultValue: "3"),
        "delete.retention.ms": Setting(kind: .integer(min: 0), defaultValue: "86400000"),
        "file.delete.delay.ms": Setting(kind: .integer(min: 0), defaultValue: "60000"),
        "flush.messages": Setting(kind: .integer(min: 1), defaultValue: longMax),
        "follower.replication.throttled.replicas": Setting(kind: .replicaList, defaultValue: ""),
        "leader.replication.throttled.replicas": Setting(kind: .replicaList, defaultValue: ""),
        "local.retention.bytes": Setting(kind: .integer(min: -2), defaultValue: "-2"),
        "local.retention.ms": Setting(kind: .integer(min: -2), defaultValue: "-2"),
        "max.compaction.lag.ms": Setting(kind: .integer(min: 1), defaultValue: longMax),
        "message.downconversion.enable": Setting(kind: .boolean, defaultValue: "true"),
        "message.format.version": Setting(kind: .version, defaultValue: "3.0-IV1"),
        "message.timestamp.after.max.ms": Setting(kind: .integer(min: 0), defaultValue: longMax),
        "message.timestamp.before.max.ms": Setting(kind: .integer(min: 0), defaultValue: longMax),
        "message.timestamp.difference.max.ms": Setting(kind: .integer(min: 0), defaultValue: longMax),
        "min.cleanable.dirty.ratio": Setting(kind: .ratio, defaultValue: "0.5"),
        "min.compaction.lag.ms": Setting(kind: .integer(min: 0), defaultValue: "0"),
        "preallocate": Setting(kind: .boolean, defaultValue: "false"),
        "remote.log.copy.disable": Setting(kind: .boolean, defaultValue: "false"),
        "remote.log.delete.on.disable": Setting(kind: .boolean, defaultValue: "false"),
        "remote.storage.enable": Setting(kind: .boolean, defaultValue: "false"),
        "segment.jitter.ms": Setting(kind: .integer(min: 0), defaultValue: "0"),
        "unclean.leader.election.enable": Setting(kind: .boolean, defaultValue: "false"),
    ]

    /// Configs whose value is a comma-separated list (IncrementalAlterConfigs APPEND and SUBTRACT).
    static let listNames: Set<String> = [
        "follower.replication.throttled.replicas", "leader.replication.throttled.replicas",
    ]

    /// Nil if `value` is acceptable for `name`, else why not. Only for names in `settings`.
    static func problem(_ name: String, _ value: String) -> String? {
        guard let setting = settings[name] else { return "unknown topic config" }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        switch setting.kind {
        case .integer(let min, let max):
            guard let parsed = Int64(trimmed), parsed >= min, parsed <= max else {
                return max == .max ? "expected an integer ≥ \(min)" : "expected an integer from \(min) to \(max)"
            }
        case .boolean:
            guard ["true", "false"].contains(trimmed.lowercased()) else { return "expected true or false" }
        case .ratio:
            guard let parsed = Double(trimmed), parsed >= 0, parsed <= 1 else {
                return "expected a number from 0 to 1"
            }
        case .replicaList:
            guard isReplicaList(trimmed) else {
                return "expected *, or partition:broker pairs separated by commas"
            }
        case .version:
            guard isKafkaVersion(trimmed) else { return "expected a Kafka version such as 2.8 or 3.0-IV1" }
        }
        return nil
    }

    private static func isReplicaList(_ value: String) -> Bool {
        if value.isEmpty || value == "*" { return true }
        return value.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { item in
            let pair = item.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
            return pair.count == 2 && pair.allSatisfy { Int32($0) != nil && !$0.hasPrefix("-") }
        }
    }

    private static func isKafkaVersion(_ value: String) -> Bool {
        let parts = value.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard (2...4).contains(numbers.count), numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) })
        else { return false }
        guard parts.count == 2 else { return true }
        let suffix = parts[1]
        return suffix.hasPrefix("IV") && suffix.count > 2 && suffix.dropFirst(2).allSatisfy(\.isNumber)
    }
}
