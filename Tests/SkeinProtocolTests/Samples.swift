import NIOCore
import SkeinProtocol

/// Sample messages for every API and version, with every field a version carries set to a
/// non-default value and every field it lacks left at its default, so that encode → decode must
/// give back an equal value.
enum Samples {
    static let topicId = KafkaUUID(
        mostSignificantBits: 0x0123_4567_89AB_CDEF, leastSignificantBits: 0xFEDC_BA98_7654_3210)
    static let otherTopicId = KafkaUUID(mostSignificantBits: 1, leastSignificantBits: 2)
    static let extraTags = [TaggedField(tag: 9, data: ByteBuffer(string: "xy"))]

    static func bytes(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    /// Every (API, version) pair the codec supports.
    static var allVersions: [(ApiKey, Int16)] {
        ApiKey.allCases.flatMap { api in api.supportedVersions.map { (api, $0) } }
    }

    static func request(_ api: ApiKey, _ v: Int16) -> any KafkaRequestMessage {
        let flexible = api.isFlexible(v)
        let tags = flexible ? extraTags : []
        switch api {
        case .apiVersions:
            return v >= 3
                ? ApiVersionsRequest(
                    clientSoftwareName: "skein-test", clientSoftwareVersion: "1.2.3", unknownTaggedFields: tags)
                : ApiVersionsRequest()
        case .metadata:
            let topics =
                v >= 10
                ? [MetadataRequest.Topic(topicId: topicId, name: "a"), MetadataRequest.Topic(name: "b")]
                : [MetadataRequest.Topic(name: "a"), MetadataRequest.Topic(name: "b")]
            return MetadataRequest(
                topics: topics, allowAutoTopicCreation: v >= 4 ? false : true,
                includeClusterAuthorizedOperations: (8...10).contains(v), includeTopicAuthorizedOperations: v >= 8,
                unknownTaggedFields: tags)
        case .produce:
            return ProduceRequest(
                transactionalId: v >= 3 ? "tx" : nil, acks: -1, timeoutMs: 1500,
                topics: [
                    .init(
                        name: "t",
                        partitions: [.init(index: 0, records: bytes("batch-bytes")), .init(index: 1, records: nil)]),
                    .init(name: "u", partitions: []),
                ], unknownTaggedFields: tags)
        case .fetch:
            return FetchRequest(
                clusterId: v >= 12 ? "cluster" : nil, replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
                isolationLevel: 1, sessionId: v >= 7 ? 5 : 0, sessionEpoch: v >= 7 ? 2 : -1,
                topics: [
                    .init(
                        topic: "t",
                        partitions: [
                            .init(
                                partition: 0, currentLeaderEpoch: v >= 9 ? 4 : -1, fetchOffset: 100,
                                lastFetchedEpoch: v >= 12 ? 3 : -1, logStartOffset: v >= 5 ? 7 : -1,
                                partitionMaxBytes: 65536)
                        ])
                ],
                forgottenTopicsData: v >= 7 ? [.init(topic: "old", partitions: [1, 2])] : [],
                rackId: v >= 11 ? "rack-a" : "", unknownTaggedFields: tags)
        case .listOffsets:
            return ListOffsetsRequest(
                replicaId: -1, isolationLevel: v >= 2 ? 1 : 0,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(partitionIndex: 0, currentLeaderEpoch: v >= 4 ? 2 : -1, timestamp: -1),
                            .init(partitionIndex: 1, timestamp: ListOffsetsRequest.maxTimestamp),
                        ])
                ], unknownTaggedFields: tags)
        case .offsetCommit:
            return OffsetCommitRequest(
                groupId: "g", generationIdOrMemberEpoch: 3, memberId: "m", groupInstanceId: v >= 7 ? "i" : nil,
                retentionTimeMs: v <= 4 ? 60_000 : -1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(
                                partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: v >= 6 ? 1 : -1,
                                committedMetadata: "meta"),
                            .init(partitionIndex: 1, committedOffset: 11, committedMetadata: nil),
                        ])
                ], unknownTaggedFields: tags)
        case .offsetFetch:
            let topics = [OffsetFetchRequest.Topic(name: "t", partitionIndexes: [0, 1])]
            let groups: [OffsetFetchRequest.Group] =
                v >= 8
                ? [.init(groupId: "g1", topics: topics), .init(groupId: "g2", topics: nil)]
                : [.init(groupId: "g", topics: topics)]
            return OffsetFetchRequest(groups: groups, requireStable: v >= 7, unknownTaggedFields: tags)
        case .findCoordinator:
            return FindCoordinatorRequest(
                keyType: v >= 1 ? FindCoordinatorRequest.transactionKeyType : FindCoordinatorRequest.groupKeyType,
                coordinatorKeys: v >= 4 ? ["g1", "g2"] : ["g"], unknownTaggedFields: tags)
        case .joinGroup:
            return JoinGroupRequest(
                groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: v >= 1 ? 30_000 : -1, memberId: "m",
                groupInstanceId: v >= 5 ? "i" : nil, protocolType: "consumer",
                protocols: [
                    .init(name: "range", metadata: bytes("meta")), .init(name: "roundrobin", metadata: bytes("")),
                ],
                unknownTaggedFields: tags)
        case .heartbeat:
            return HeartbeatRequest(
                groupId: "g", generationId: 4, memberId: "m", groupInstanceId: v >= 3 ? "i" : nil,
                unknownTaggedFields: tags)
        case .leaveGroup:
            let members: [LeaveGroupRequest.Member] =
                v >= 3
                ? [.init(memberId: "m1", groupInstanceId: "i1", reason: v >= 5 ? "bye" : nil), .init(memberId: "m2")]
                : [.init(memberId: "m")]
            return LeaveGroupRequest(groupId: "g", members: members, unknownTaggedFields: tags)
        case .syncGroup:
            return SyncGroupRequest(
                groupId: "g", generationId: 4, memberId: "m", groupInstanceId: v >= 3 ? "i" : nil,
                protocolType: v >= 5 ? "consumer" : nil, protocolName: v >= 5 ? "range" : nil,
                assignments: [.init(memberId: "m", assignment: bytes("assign"))], unknownTaggedFields: tags)
        case .describeGroups:
            return DescribeGroupsRequest(
                groups: ["g1", "g2"], includeAuthorizedOperations: v >= 3, unknownTaggedFields: tags)
        case .listGroups:
            return ListGroupsRequest(statesFilter: v >= 4 ? ["Stable", "Empty"] : [], unknownTaggedFields: tags)
        case .createTopics:
            return CreateTopicsRequest(
                topics: [
                    .init(
                        name: "t", numPartitions: 3, replicationFactor: 1,
                        configs: [.init(name: "retention.ms", value: "1000"), .init(name: "x", value: nil)]),
                    .init(
                        name: "u", numPartitions: -1, replicationFactor: -1,
                        assignments: [.init(partitionIndex: 0, brokerIds: [1])]),
                ], timeoutMs: 5000, validateOnly: true, unknownTaggedFields: tags)
        case .deleteTopics:
            let topics: [DeleteTopicsRequest.Topic] =
                v >= 6
                ? [.init(name: "a", topicId: topicId), .init(name: nil, topicId: otherTopicId)]
                : [.init(name: "a"), .init(name: "b")]
            return DeleteTopicsRequest(topics: topics, timeoutMs: 1000, unknownTaggedFields: tags)
        case .initProducerId:
            return InitProducerIdRequest(
                transactionalId: v >= 1 ? "tx" : nil, transactionTimeoutMs: 60_000, producerId: v >= 3 ? 5 : -1,
                producerEpoch: v >= 3 ? 1 : -1, unknownTaggedFields: tags)
        case .offsetForLeaderEpoch:
            return OffsetForLeaderEpochRequest(
                replicaId: v >= 3 ? -1 : -2,
                topics: [.init(topic: "t", partitions: [.init(partition: 0, currentLeaderEpoch: 2, leaderEpoch: 1)])],
                unknownTaggedFields: tags)
        case .describeConfigs:
            return DescribeConfigsRequest(
                resources: [
                    .init(
                        resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "t",
                        configurationKeys: ["retention.ms"]),
                    .init(
                        resourceType: DescribeConfigsRequest.brokerResourceType, resourceName: "1",
                        configurationKeys: nil),
                ], includeSynonyms: true, includeDocumentation: v >= 3, unknownTaggedFields: tags)
        case .alterConfigs:
            return AlterConfigsRequest(
                resources: [
                    .init(
                        resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "t",
                        configs: [.init(name: "retention.ms", value: "1000"), .init(name: "x", value: nil)]),
                    .init(resourceType: DescribeConfigsRequest.brokerResourceType, resourceName: "1", configs: []),
                ], validateOnly: true, unknownTaggedFields: tags)
        case .incrementalAlterConfigs:
            return IncrementalAlterConfigsRequest(
                resources: [
                    .init(
                        resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "t",
                        configs: [
                            .init(
                                name: "retention.ms", configOperation: IncrementalAlterConfigsRequest.setOperation,
                                value: "1000"),
                            .init(
                                name: "segment.ms", configOperation: IncrementalAlterConfigsRequest.deleteOperation,
                                value: nil),
                        ])
                ], validateOnly: true, unknownTaggedFields: tags)
        case .deleteGroups:
            return DeleteGroupsRequest(groupsNames: ["g1", "g2"], unknownTaggedFields: tags)
        case .offsetDelete:
            return OffsetDeleteRequest(
                groupId: "g",
                topics: [.init(name: "t", partitionIndexes: [0, 2]), .init(name: "u", partitionIndexes: [])])
        case .addPartitionsToTxn:
            return AddPartitionsToTxnRequest(
                transactionalId: "tx", producerId: 4000, producerEpoch: 3,
                topics: [.init(name: "t", partitions: [0, 2]), .init(name: "u", partitions: [])],
                unknownTaggedFields: tags)
        case .addOffsetsToTxn:
            return AddOffsetsToTxnRequest(
                transactionalId: "tx", producerId: 4000, producerEpoch: 3, groupId: "g", unknownTaggedFields: tags)
        case .endTxn:
            return EndTxnRequest(
                transactionalId: "tx", producerId: 4000, producerEpoch: 3, committed: true, unknownTaggedFields: tags)
        case .txnOffsetCommit:
            return TxnOffsetCommitRequest(
                transactionalId: "tx", groupId: "g", producerId: 4000, producerEpoch: 3,
                generationId: v >= 3 ? 7 : -1, memberId: v >= 3 ? "member-1" : "", groupInstanceId: v >= 3 ? "i" : nil,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(
                                partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: v >= 2 ? 2 : -1,
                                committedMetadata: "m"),
                            .init(partitionIndex: 1, committedOffset: 0, committedMetadata: nil),
                        ])
                ], unknownTaggedFields: tags)
        case .describeTransactions:
            return DescribeTransactionsRequest(transactionalIds: ["tx", "other"], unknownTaggedFields: tags)
        case .listTransactions:
            return ListTransactionsRequest(
                stateFilters: ["Ongoing"], producerIdFilters: [4000, 4001], durationFilter: v >= 1 ? 60_000 : -1,
                unknownTaggedFields: tags)
        case .createPartitions:
            return CreatePartitionsRequest(
                topics: [
                    .init(name: "t", count: 4, assignments: [.init(brokerIds: [0]), .init(brokerIds: [0, 1])]),
                    .init(name: "u", count: 2, assignments: nil),
                ], timeoutMs: 1500, validateOnly: true, unknownTaggedFields: tags)
        case .deleteRecords:
            return DeleteRecordsRequest(
                topics: [
                    .init(
                        name: "t",
                        partitions: [.init(partitionIndex: 0, offset: 42), .init(partitionIndex: 1, offset: -1)])
                ], timeoutMs: 1500, unknownTaggedFields: tags)
        case .describeCluster:
            return DescribeClusterRequest(
                includeClusterAuthorizedOperations: true, endpointType: v >= 1 ? 2 : 1, includeFencedBrokers: v >= 2,
                unknownTaggedFields: extraTags)
        case .describeLogDirs:
            return DescribeLogDirsRequest(
                topics: [.init(topic: "t", partitions: [0, 3]), .init(topic: "u", partitions: [])],
                unknownTaggedFields: tags)
        case .describeProducers:
            return DescribeProducersRequest(
                topics: [.init(name: "t", partitionIndexes: [0, 1])], unknownTaggedFields: extraTags)
        case .describeAcls:
            return DescribeAclsRequest(
                filter: AclFilter(
                    resourceType: 2, resourceName: "t", patternType: v >= 1 ? 2 : 3, principal: "User:alice",
                    host: nil, operation: 3, permissionType: 3), unknownTaggedFields: tags)
        case .createAcls:
            return CreateAclsRequest(
                creations: [
                    .init(
                        resourceType: 2, resourceName: "logs-", patternType: v >= 1 ? 4 : 3, principal: "User:alice",
                        host: "*", operation: 4, permissionType: 3),
                    .init(
                        resourceType: 4, resourceName: "kafka-cluster", principal: "User:*", host: "10.0.0.1",
                        operation: 12, permissionType: 2),
                ], unknownTaggedFields: tags)
        case .deleteAcls:
            return DeleteAclsRequest(
                filters: [
                    AclFilter(
                        resourceType: 3, resourceName: nil, patternType: v >= 1 ? 1 : 3, principal: nil, host: "*",
                        operation: 1, permissionType: 1),
                    AclFilter(
                        resourceType: 2, resourceName: "t", patternType: 3, principal: "User:bob", host: nil,
                        operation: 2, permissionType: 2),
                ], unknownTaggedFields: tags)
        case .saslHandshake:
            return SaslHandshakeRequest(mechanism: "SCRAM-SHA-512")
        case .saslAuthenticate:
            return SaslAuthenticateRequest(authBytes: Array("n,,n=user,r=abc".utf8), unknownTaggedFields: tags)
        case .describeUserScramCredentials:
            return DescribeUserScramCredentialsRequest(
                users: [.init(name: "alice"), .init(name: "bob")], unknownTaggedFields: extraTags)
        case .alterUserScramCredentials:
            return AlterUserScramCredentialsRequest(
                deletions: [.init(name: "bob", mechanism: 1)],
                upsertions: [
                    .init(name: "alice", mechanism: 2, iterations: 8192, salt: [1, 2, 3], saltedPassword: [4, 5, 6])
                ], unknownTaggedFields: extraTags)
        case .describeClientQuotas:
            return DescribeClientQuotasRequest(
                components: [
                    .init(entityType: "user", matchType: 0, match: "alice"),
                    .init(entityType: "client-id", matchType: 1, match: nil),
                ], strict: true, unknownTaggedFields: tags)
        case .alterClientQuotas:
            return AlterClientQuotasRequest(
                entries: [
                    .init(
                        entity: [
                            .init(entityType: "user", entityName: nil), .init(entityType: "client-id", entityName: "c"),
                        ],
                        ops: [
                            .init(key: "producer_byte_rate", value: 1_048_576),
                            .init(key: "consumer_byte_rate", value: 0, remove: true),
                        ])
                ], validateOnly: true, unknownTaggedFields: tags)
        }
    }
}

/// A small deterministic generator so corruption tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
