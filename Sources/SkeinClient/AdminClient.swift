import Logging
import NIOCore
import SkeinProtocol

/// Topic and group administration over the Kafka protocol, for `skein topics|groups|cluster` and
/// tests. It never creates a topic by asking for it: a typo must be an error, not a new topic.
public actor AdminClient {
    public let metadata: ClusterMetadata
    private let logger: Logger

    public init(
        bootstrapServers: [String], logger: Logger = Logger(label: "skein-admin"),
        security: ClientSecurity = .plaintext
    ) throws {
        self.logger = logger
        metadata = try ClusterMetadata(
            bootstrapServers: bootstrapServers, clientId: "skein-admin", allowAutoTopicCreation: false,
            logger: logger, security: security)
    }

    /// Shares `metadata` with a consumer or producer of the same cluster; `close` leaves it open.
    public init(metadata: ClusterMetadata, logger: Logger = Logger(label: "skein-admin")) {
        self.logger = logger
        self.metadata = metadata
        ownsMetadata = false
    }

    private var ownsMetadata = true

    public func close() async {
        if ownsMetadata { await metadata.close() }
    }

    // MARK: Cluster and topics

    public func cluster() async throws -> ClusterSnapshot {
        try await metadata.snapshot()
    }

    /// The version ranges the bootstrap broker advertises.
    public func apiVersions() async throws -> NegotiatedVersions {
        try await metadata.anyConnection().versions
    }

    /// The topic's partitions, or `unknownTopicOrPartition` when the broker does not have it.
    public func topic(_ name: String) async throws -> TopicInfo {
        try await metadata.refresh(topics: [name])
        let snapshot = try await metadata.snapshot(refreshing: false)
        guard let info = snapshot.topics.first(where: { $0.name == name }), info.errorCode != .unknownTopicOrPartition
        else { throw KafkaClientError.unknownTopicOrPartition(topic: name, partition: nil) }
        guard info.errorCode == .noError else {
            throw KafkaClientError.broker(info.errorCode, context: "topic \(name)")
        }
        return info
    }

    public func createTopic(
        _ name: String, partitions: Int32, replicationFactor: Int16 = 1, configs: [String: String] = [:],
        validateOnly: Bool = false
    ) async throws {
        let request = CreateTopicsRequest(
            topics: [
                .init(
                    name: name, numPartitions: partitions, replicationFactor: replicationFactor,
                    configs: configs.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: $0.value) })
            ], timeoutMs: 30_000, validateOnly: validateOnly)
        let response = try await metadata.anyConnection().send(request)
        guard let result = response.topics.first(where: { $0.name == name }) else {
            throw KafkaClientError.unexpectedResponse("CreateTopics did not answer for \(name)")
        }
        try Self.check(result.errorCode, result.errorMessage, context: "create topic \(name)")
    }

    public func deleteTopic(_ name: String) async throws {
        let response = try await metadata.anyConnection().send(
            DeleteTopicsRequest(topics: [.init(name: name)], timeoutMs: 30_000))
        guard let result = response.responses.first else {
            throw KafkaClientError.unexpectedResponse("DeleteTopics did not answer for \(name)")
        }
        if result.errorCode == .unknownTopicOrPartition {
            throw KafkaClientError.unknownTopicOrPartition(topic: name, partition: nil)
        }
        try Self.check(result.errorCode, result.errorMessage, context: "delete topic \(name)")
        await metadata.invalidate(topic: name)
    }

    /// One topic setting as the broker reports it.
    public struct ConfigEntry: Sendable, Equatable {
        public var name: String
        public var value: String?
        /// Where the value comes from: "default", "topic" (set on the topic), "broker" (broker config) …
        public var source: String
        public var isReadOnly: Bool
        public var isSensitive: Bool
    }

    public func topicConfigs(_ topic: String) async throws -> [ConfigEntry] {
        let request = DescribeConfigsRequest(resources: [.init(resourceType: 2, resourceName: topic)])
        let response = try await metadata.anyConnection().send(request)
        guard let result = response.results.first else {
            throw KafkaClientError.unexpectedResponse("DescribeConfigs did not answer for \(topic)")
        }
        if result.errorCode == .unknownTopicOrPartition {
            throw KafkaClientError.unknownTopicOrPartition(topic: topic, partition: nil)
        }
        try Self.check(result.errorCode, result.errorMessage, context: "describe configs of \(topic)")
        return result.configs.map {
            ConfigEntry(
                name: $0.name, value: $0.value, source: Self.sourceName($0.configSource), isReadOnly: $0.readOnly,
                isSensitive: $0.isSensitive)
        }.sorted { $0.name < $1.name }
    }

    static func sourceName(_ source: Int8) -> String {
        switch source {
        case 1: "topic"
        case 2: "dynamic-broker"
        case 3: "dynamic-default-broker"
        case 4: "broker"
        case 5: "default"
        case 6: "dynamic-logger"
        default: "unknown"
        }
    }

    // MARK: Offsets

    /// With read_committed, `.end` is the last stable offset: where a read_committed reader stops.
    public func offsets(
        _ partitions: [TopicPartition], _ spec: OffsetSpec, isolationLevel: IsolationLevel = .readUncommitted
    ) async throws -> [TopicPartition: Int64] {
        try await metadata.listOffsets(partitions, spec, isolationLevel: isolationLevel)
    }

    /// Every partition of `topic`.
    public func partitions(of topic: String) async throws -> [TopicPartition] {
        let info = try await self.topic(topic)
        return info.partitions.keys.sorted().map { TopicPartition(topic: topic, partition: $0) }
    }

    // MARK: Groups

    public struct GroupListing: Sendable, Equatable {
        public var groupId: String
        public var protocolType: String
        public var state: String
    }

    public func listGroups() async throws -> [GroupListing] {
        let response = try await metadata.anyConnection().send(ListGroupsRequest())
        try Self.check(response.errorCode, nil, context: "list groups")
        return response.groups.map {
            GroupListing(groupId: $0.groupId, protocolType: $0.protocolType, state: $0.groupState)
        }
        .sorted { $0.groupId < $1.groupId }
    }

    public struct GroupMember: Sendable, Equatable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        /// Decoded from the consumer protocol's assignment; empty for other protocol types.
        public var assignment: [TopicPartition]
    }

    public struct GroupDescription: Sendable, Equatable {
        public var groupId: String
        public var state: String
        public var protocolType: String
        public var protocolName: String
        public var members: [GroupMember]
    }

    public func describeGroup(_ groupId: String) async throws -> GroupDescription {
        let connection = try await coordinator(for: groupId)
        let response = try await connection.send(DescribeGroupsRequest(groups: [groupId]))
        guard let group = response.groups.first(where: { $0.groupId == groupId }) else {
            throw KafkaClientError.unexpectedResponse("DescribeGroups did not answer for \(groupId)")
        }
        try Self.check(group.errorCode, nil, context: "describe group \(groupId)")
        let members = group.members.map { member in
            let assignment =
                group.protocolType == "consumer"
                ? ((try? ConsumerAssignment.decode(member.memberAssignment))?.assigned.flatMap { entry in
                    entry.partitions.map { TopicPartition(topic: entry.topic, partition: $0) }
                } ?? []) : []
            return GroupMember(
                memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                clientHost: member.clientHost,
                assignment: assignment.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) })
        }
        return GroupDescription(
            groupId: groupId, state: group.groupState, protocolType: group.protocolType,
            protocolName: group.protocolData, members: members)
    }

    /// The group's committed offsets: of `partitions`, or of every partition it has committed when nil.
    public func committedOffsets(group groupId: String, partitions: [TopicPartition]? = nil) async throws
        -> [TopicPartition: Int64]
    {
        let connection = try await coordinator(for: groupId)
        let topics = partitions.map { partitions in
            Dictionary(grouping: partitions, by: \.topic).map { topic, members in
                OffsetFetchRequest.Topic(name: topic, partitionIndexes: members.map(\.partition))
            }
        }
        let response = try await connection.send(OffsetFetchRequest(groups: [.init(groupId: groupId, topics: topics)]))
        guard let group = response.groups.first else {
            throw KafkaClientError.unexpectedResponse("OffsetFetch did not answer for \(groupId)")
        }
        try Self.check(group.errorCode, nil, context: "fetch offsets of group \(groupId)")
        var offsets: [TopicPartition: Int64] = [:]
        for topic in group.topics {
            for partition in topic.partitions where partition.errorCode == .noError && partition.committedOffset >= 0 {
                offsets[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] =
                    partition.committedOffset
            }
        }
        return offsets
    }

    /// Commits offsets for a group from outside it (generation -1), as `kafka-consumer-groups
    /// --reset-offsets` does; the broker allows it only while the group has no members.
    public func commitOffsets(group groupId: String, _ offsets: [TopicPartition: Int64]) async throws {
        let connection = try await coordinator(for: groupId)
        let topics = Dictionary(grouping: offsets, by: \.key.topic).map { topic, entries in
            OffsetCommitRequest.Topic(
                name: topic,
                partitions: entries.map { .init(partitionIndex: $0.key.partition, committedOffset: $0.value) })
        }
        let request = OffsetCommitRequest(groupId: groupId, generationIdOrMemberEpoch: -1, memberId: "", topics: topics)
        let response = try await connection.send(request)
        for topic in response.topics {
            for partition in topic.partitions {
                try Self.check(
                    partition.errorCode, nil,
                    context: "commit offset of \(topic.name)-\(partition.partitionIndex) for group \(groupId)")
            }
        }
    }

    /// The group coordinator's connection (FindCoordinator, key type 0 = group).
    func coordinator(for groupId: String) async throws -> KafkaConnection {
        let connection = try await metadata.anyConnection()
        let response = try await connection.send(FindCoordinatorRequest(coordinatorKeys: [groupId]))
        guard let found = response.coordinators.first else {
            throw KafkaClientError.unexpectedResponse("FindCoordinator did not answer for \(groupId)")
        }
        try Self.check(found.errorCode, found.errorMessage, context: "find coordinator of \(groupId)")
        if let known = try? await metadata.connection(toNode: found.nodeId) { return known }
        return try await KafkaConnection.connect(
            host: found.host, port: Int(found.port), clientId: metadata.clientId, security: metadata.security,
            tlsContext: metadata.tlsContext)
    }

    static func check(_ code: ErrorCode, _ message: String?, context: String) throws {
        guard code != .noError else { return }
        throw KafkaClientError.broker(code, context: context + (message.map { " (\($0))" } ?? ""))
    }
}
