import NIOCore
import SkeinProtocol

/// A member of a classic consumer group, as the coordinator sees it.
final class GroupMember {
    let memberId: String
    let groupInstanceId: String?
    let clientId: String
    let clientHost: String
    var sessionTimeoutMs: Int32
    var rebalanceTimeoutMs: Int32
    var protocolType: String
    /// In the member's order of preference.
    var protocols: [(name: String, metadata: ByteBuffer)]
    var assignment = ByteBuffer()
    var lastHeartbeatMs: Int64
    /// Set while the member's JoinGroup waits for the join phase to end.
    var awaitingJoin: ((JoinGroupResponse) -> Void)?
    /// Set while the member's SyncGroup waits for the leader's assignments.
    var awaitingSync: ((SyncGroupResponse) -> Void)?

    init(
        memberId: String, groupInstanceId: String?, clientId: String, clientHost: String, sessionTimeoutMs: Int32,
        rebalanceTimeoutMs: Int32, protocolType: String, protocols: [(name: String, metadata: ByteBuffer)], now: Int64
    ) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
        self.lastHeartbeatMs = now
    }

    func metadata(for protocolName: String) -> ByteBuffer {
        protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
    }
}

/// One classic consumer group and its state machine (Kafka's GroupMetadata):
///
///     Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance ──leader syncs──▶ Stable
///       ▲                 ▲      │                                        │                               │
///       └── last member ──┴──────┴──── join, leave, expiry ◀──────────────┴───────────────────────────────┘
final class ConsumerGroup {
    enum State: String {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    let groupId: String
    var state = State.empty
    var generationId: Int32 = 0
    var protocolType: String?
    var protocolName: String?
    var leaderId: String?
    /// Members in join order; the first becomes leader when there is none.
    private(set) var members: [GroupMember] = []
    /// Member ids handed out with MEMBER_ID_REQUIRED that have not joined with them yet, and until when
    /// they may.
    var pendingMemberIds: [String: Int64] = [:]
    /// When the join phase ends at the latest (rebalance timeout), and, for a group that was empty, the
    /// earliest (`group.initial.rebalance.delay.ms`, so a fleet starting together lands in one generation).
    var joinDeadlineMs: Int64 = 0
    var initialDelayUntilMs: Int64 = 0
    /// When the leader must have sent its assignments.
    var syncDeadlineMs: Int64 = 0
    /// Since when the group has had no members, for `offsets.retention.minutes`.
    var emptySinceMs: Int64

    init(groupId: String, now: Int64) {
        self.groupId = groupId
        self.emptySinceMs = now
    }

    func member(_ memberId: String) -> GroupMember? {
        members.first { $0.memberId == memberId }
    }

    func member(instance: String) -> GroupMember? {
        members.first { $0.groupInstanceId == instance }
    }

    func add(_ member: GroupMember) {
        // The first member decides the type; an empty group keeps its old one only for ListGroups.
        if members.isEmpty { protocolType = member.protocolType }
        members.append(member)
    }

    func remove(_ memberId: String) {
        members.removeAll { $0.memberId == memberId }
        if leaderId == memberId { leaderId = members.first?.memberId }
    }

    var allMembersJoined: Bool {
        pendingMemberIds.isEmpty && members.allSatisfy { $0.awaitingJoin != nil }
    }

    var rebalanceTimeoutMs: Int64 {
        Int64(members.map(\.rebalanceTimeoutMs).max() ?? 0)
    }

    /// Whether a new member's protocols leave at least one protocol every member supports.
    func supports(protocolType: String, protocols: [String]) -> Bool {
        if members.isEmpty { return !protocolType.isEmpty && !protocols.isEmpty }
        guard protocolType == self.protocolType else { return false }
        return !candidateProtocols(including: protocols).isEmpty
    }

    func candidateProtocols(including extra: [String]? = nil) -> Set<String> {
        var sets = members.map { Set($0.protocols.map(\.name)) }
        if let extra { sets.append(Set(extra)) }
        guard var common = sets.first else { return [] }
        for next in sets.dropFirst() { common.formIntersection(next) }
        return common
    }

    /// The protocol type of Kafka's consumer clients, whose member metadata lists the topics they consume.
    static let consumerProtocolType = "consumer"

    /// Topics the members subscribe to, read from their consumer protocol metadata; nil when some
    /// metadata does not parse, which callers must take as "possibly every topic".
    var subscribedTopics: Set<String>? {
        var topics = Set<String>()
        for member in members {
            for (_, metadata) in member.protocols {
                guard let subscription = ConsumerGroup.subscriptionTopics(metadata) else { return nil }
                topics.formUnion(subscription)
            }
        }
        return topics
    }

    /// The topic list of a ConsumerProtocolSubscription (every version starts with an int16 version and
    /// an array of int16-length strings).
    static func subscriptionTopics(_ metadata: ByteBuffer) -> [String]? {
        var buffer = metadata
        guard buffer.readInteger(as: Int16.self) != nil, let count = buffer.readInteger(as: Int32.self),
            count >= 0, Int(count) <= buffer.readableBytes / 2
        else { return nil }
        var topics: [String] = []
        for _ in 0..<count {
            guard let length = buffer.readInteger(as: Int16.self), length >= 0,
                let topic = buffer.readString(length: Int(length))
            else { return nil }
            topics.append(topic)
        }
        return topics
    }

    /// Kafka's vote: every member votes for its most preferred protocol among those all support.
    func selectProtocol() -> String? {
        let candidates = candidateProtocols()
        var votes: [String: Int] = [:]
        var firstSeen: [String] = []
        for member in members {
            guard let choice = member.protocols.first(where: { candidates.contains($0.name) })?.name else { continue }
            if votes[choice] == nil { firstSeen.append(choice) }
            votes[choice, default: 0] += 1
        }
        return firstSeen.max { (votes[$0] ?? 0) < (votes[$1] ?? 0) }
    }
}
