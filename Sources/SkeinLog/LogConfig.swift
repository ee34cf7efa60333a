/// Per-partition settings, named after Kafka's topic configs so the broker can map them one to one.
public struct LogConfig: Sendable, Equatable {
    public enum TimestampType: String, Sendable, Equatable {
        case createTime = "CreateTime"
        case logAppendTime = "LogAppendTime"
    }

    /// `segment.bytes`: roll when the next append would pass it.
    public var segmentBytes: Int = 1 << 30
    /// `segment.ms`: roll a non-empty active segment this long after its first append.
    public var segmentMs: Int64 = 7 * 24 * 3_600_000
    /// `retention.ms`; negative keeps data forever.
    public var retentionMs: Int64 = 7 * 24 * 3_600_000
    /// `retention.bytes`, per partition; negative means no size limit.
    public var retentionBytes: Int64 = -1
    /// `max.message.bytes`: the largest batch, header included.
    public var maxMessageBytes: Int = 1_048_588
    /// `index.interval.bytes`: log bytes between two offset index entries.
    public var indexIntervalBytes: Int = 4096
    /// `segment.index.bytes`: an index this large forces a roll.
    public var segmentIndexBytes: Int = 10 * 1024 * 1024
    /// `flush.ms`: the background flusher fsyncs a partition whose oldest unflushed data is this old.
    /// Kafka's default leaves flushing to the OS; acks=all callers flush explicitly.
    public var flushMs: Int64 = .max
    /// `message.timestamp.type`.
    public var timestampType: TimestampType = .createTime

    public init() {}
}

public struct TopicPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `<topic>-<partition>`, as Kafka names partition directories. Topic names may contain `-`, so parsing
    /// splits at the last one.
    public var directoryName: String { "\(topic)-\(partition)" }

    public init?(directoryName: String) {
        guard let dash = directoryName.lastIndex(of: "-"),
            let partition = Int32(directoryName[directoryName.index(after: dash)...]), partition >= 0
        else { return nil }
        let topic = String(directoryName[..<dash])
        guard TopicPartition.isValidTopicName(topic) else { return nil }
        self.init(topic, partition)
    }

    public var description: String { directoryName }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    /// Kafka's rule: 1–249 characters of `[a-zA-Z0-9._-]`, and not `.` or `..`.
    public static func isValidTopicName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 249, name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
    }
}

/// Where the log gets "now", so tests can drive retention and rolls with a clock they control.
public protocol LogClock: Sendable {
    func milliseconds() -> Int64
}

public struct SystemClock: LogClock {
    public init() {}

    public func milliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
