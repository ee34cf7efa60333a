import NIOCore
import SkeinProtocol

/// The embedded "consumer" protocol that Kafka clients put inside the opaque JoinGroup metadata
/// and SyncGroup assignment bytes. The coordinator never reads these; only the group leader and
/// each member do. We encode version 0 (the fields every client and broker tool understands) and,
/// as Kafka's compatibility rule says, decode any version by reading the version-0 prefix and
/// ignoring the fields later versions append (owned partitions, generation, rack).
public struct ConsumerSubscription: Equatable, Sendable {
    public var version: Int16
    public var topics: [String]
    /// Empty rather than null: the range assignor has nothing to say here.
    public var userData: ByteBuffer?

    public init(version: Int16 = 0, topics: [String], userData: ByteBuffer? = ByteBuffer()) {
        self.version = version
        self.topics = topics
        self.userData = userData
    }

    public func encoded() throws(ProtocolError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        try buffer.writeKafkaStringArray(topics, flexible: false)
        try buffer.writeKafkaNullableBytes(userData, flexible: false)
        return buffer
    }

    public static func decode(_ bytes: ByteBuffer) throws(ProtocolError) -> ConsumerSubscription {
        var buffer = bytes
        let version = try buffer.readKafkaInt16()
        guard version >= 0 else {
            throw ProtocolError.unrepresentable(field: "ConsumerProtocolSubscription", reason: "version \(version)")
        }
        let topics = try buffer.readKafkaStringArray(flexible: false)
        let userData = try buffer.readKafkaNullableBytes(flexible: false)
        return ConsumerSubscription(version: version, topics: topics, userData: userData)
    }
}

/// What the leader hands each member through SyncGroup: partitions by topic.
public struct ConsumerAssignment: Equatable, Sendable {
    public struct TopicPartitions: Equatable, Sendable {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    public var version: Int16
    public var assigned: [TopicPartitions]
    public var userData: ByteBuffer?

    public init(version: Int16 = 0, assigned: [TopicPartitions], userData: ByteBuffer? = ByteBuffer()) {
        self.version = version
        self.assigned = assigned
        self.userData = userData
    }

    /// The partitions of `topic` this member owns, in assignment order.
    public func partitions(of topic: String) -> [Int32] {
        assigned.filter { $0.topic == topic }.flatMap(\.partitions)
    }

    public func encoded() throws(ProtocolError) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        buffer.writeInteger(Int32(assigned.count))
        for entry in assigned {
            try buffer.writeKafkaString(entry.topic, flexible: false)
            try buffer.writeKafkaInt32Array(entry.partitions, flexible: false)
        }
        try buffer.writeKafkaNullableBytes(userData, flexible: false)
        return buffer
    }

    /// Zero bytes decode as "nothing assigned": that is what a coordinator sends a member the
    /// leader left out, and what Kafka's own clients accept.
    public static func decode(_ bytes: ByteBuffer) throws(ProtocolError) -> ConsumerAssignment {
        guard bytes.readableBytes > 0 else { return ConsumerAssignment(assigned: [], userData: nil) }
        var buffer = bytes
        let version = try buffer.readKafkaInt16()
        guard version >= 0 else {
            throw ProtocolError.unrepresentable(field: "ConsumerProtocolAssignment", reason: "version \(version)")
        }
        let assigned = try buffer.readKafkaArray(flexible: false, field: "AssignedPartitions") {
            (buffer: inout ByteBuffer) throws(ProtocolError) in
            TopicPartitions(
                topic: try buffer.readKafkaString(flexible: false),
                partitions: try buffer.readKafkaInt32Array(flexible: false))
        }
        let userData = try buffer.readKafkaNullableBytes(flexible: false)
        return ConsumerAssignment(version: version, assigned: assigned, userData: userData)
    }
}

/// Kafka's RangeAssignor: per topic, the subscribed members sorted by member ID each take a
/// contiguous run of the sorted partitions, the first `partitions % members` one extra. It is
/// the Java client's default and what "range" means to every Kafka coordinator and tool.
public enum RangeAssignor {
    public static let protocolName = "range"

    /// `subscriptions` maps member ID to subscribed topics; `partitionsByTopic` lists each
    /// topic's partitions (topics missing from it are skipped, as Kafka does for unknown topics).
    /// Every member gets an entry, possibly with nothing assigned.
    public static func assign(partitionsByTopic: [String: [Int32]], subscriptions: [String: [String]])
        -> [String: ConsumerAssignment]
    {
        var byMember: [String: [ConsumerAssignment.TopicPartitions]] = [:]
        for member in subscriptions.keys { byMember[member] = [] }
        for topic in partitionsByTopic.keys.sorted() {
            let partitions = partitionsByTopic[topic]!.sorted()
            let members = subscriptions.filter { $0.value.contains(topic) }.keys.sorted()
            guard !members.isEmpty else { continue }
            let base = partitions.count / members.count
            let extra = partitions.count % members.count
            for (index, member) in members.enumerated() {
                let start = index * base + min(index, extra)
                let length = base + (index < extra ? 1 : 0)
                guard length > 0 else { continue }
                byMember[member]!.append(.init(topic: topic, partitions: Array(partitions[start..<start + length])))
            }
        }
        return byMember.mapValues { ConsumerAssignment(assigned: $0) }
    }
}
