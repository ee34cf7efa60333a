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

    static func response(_ api: ApiKey, _ v: Int16) -> any KafkaResponseMessage {
        let flexible = api.isFlexible(v)
        let tags = flexible ? extraTags : []
        switch api {
        case .apiVersions:
            if v >= 3 {
                return ApiVersionsResponse(
                    errorCode: .noError, apiKeys: ApiVersionsResponse.advertisedApiKeys, throttleTimeMs: 5,
                    supportedFeatures: [.init(name: "metadata.version", minVersion: 1, maxVersion: 20)],
                    finalizedFeaturesEpoch: 7,
                    finalizedFeatures: [.init(name: "metadata.version", minVersion: 1, maxVersion: 20)],
                    zkMigrationReady: true, unknownTaggedFields: tags)
            }
            return ApiVersionsResponse(
                errorCode: .noError, apiKeys: ApiVersionsResponse.advertisedApiKeys, throttleTimeMs: v >= 1 ? 5 : 0)
        case .metadata:
            var topics: [MetadataResponse.Topic] = [
                .init(
                    errorCode: .noError, name: "a", topicId: v >= 10 ? topicId : .zero, isInternal: v >= 1,
                    partitions: [
                        .init(
                            errorCode: .leaderNotAvailable, partitionIndex: 0, leaderId: 1,
                            leaderEpoch: v >= 7 ? 3 : -1, replicaNodes: [1], isrNodes: [1],
                            offlineReplicas: v >= 5 ? [2] : [])
                    ], topicAuthorizedOperations: v >= 8 ? 0x1F : MetadataResponse.authorizedOperationsOmitted)
            ]
            if v >= 12 {
                topics.append(.init(errorCode: .unknownTopicId, name: nil, topicId: otherTopicId, partitions: []))
            }
            return MetadataResponse(
                throttleTimeMs: v >= 3 ? 10 : 0,
                brokers: [.init(nodeId: 1, host: "localhost", port: 9092, rack: v >= 1 ? "r1" : nil)],
                clusterId: v >= 2 ? "cluster" : nil, controllerId: v >= 1 ? 1 : -1, topics: topics,
                clusterAuthorizedOperations: (8...10).contains(v) ? 5 : MetadataResponse.authorizedOperationsOmitted,
                unknownTaggedFields: tags)
        case .produce:
            return ProduceResponse(
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(
                                index: 0, errorCode: .noError, baseOffset: 42, logAppendTimeMs: v >= 2 ? 1000 : -1,
                                logStartOffset: v >= 5 ? 3 : -1,
                                recordErrors: v >= 8
                                    ? [.init(batchIndex: 1, batchIndexErrorMessage: "bad"), .init(batchIndex: 2)] : [],
                                errorMessage: v >= 8 ? "msg" : nil),
                            .init(index: 1, errorCode: .notLeaderOrFollower, baseOffset: -1),
                        ])
                ], throttleTimeMs: v >= 1 ? 7 : 0, unknownTaggedFields: tags)
        case .fetch:
            return FetchResponse(
                throttleTimeMs: 3, errorCode: .noError, sessionId: v >= 7 ? 9 : 0,
                topics: [
                    .init(
                        topic: "t",
                        partitions: [
                            .init(
                                partitionIndex: 0, highWatermark: 100, lastStableOffset: 100,
                                logStartOffset: v >= 5 ? 0 : -1,
                                divergingEpoch: v >= 12 ? .init(epoch: 1, endOffset: 50) : nil,
                                currentLeader: v >= 12 ? .init(leaderId: 1, leaderEpoch: 2) : nil,
                                snapshotId: v >= 12 ? .init(endOffset: 20, epoch: 1) : nil,
                                abortedTransactions: [.init(producerId: 5, firstOffset: 10)],
                                preferredReadReplica: v >= 11 ? 1 : -1, records: .bytes(bytes("record-batch-bytes"))),
                            .init(
                                partitionIndex: 1, errorCode: .offsetOutOfRange, highWatermark: 0,
                                abortedTransactions: nil, records: .null),
                        ])
                ], unknownTaggedFields: tags)
        case .listOffsets:
            return ListOffsetsResponse(
                throttleTimeMs: v >= 2 ? 4 : 0,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(
                                partitionIndex: 0, errorCode: .noError, timestamp: 123, offset: 456,
                                leaderEpoch: v >= 4 ? 2 : -1)
                        ])
                ], unknownTaggedFields: tags)
        case .offsetCommit:
            return OffsetCommitResponse(
                throttleTimeMs: v >= 3 ? 1 : 0,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(partitionIndex: 0), .init(partitionIndex: 1, errorCode: .offsetMetadataTooLarge),
                        ])
                ], unknownTaggedFields: tags)
        case .offsetFetch:
            let topics = [
                OffsetFetchResponse.Topic(
                    name: "t",
                    partitions: [
                        .init(
                            partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: v >= 5 ? 1 : -1, metadata: "m"),
                        .init(partitionIndex: 1, committedOffset: -1, metadata: nil),
                    ])
            ]
            let groups: [OffsetFetchResponse.Group] =
                v >= 8
                ? [.init(groupId: "g1", topics: topics), .init(groupId: "g2", topics: [], errorCode: .groupIdNotFound)]
                : [.init(groupId: "", topics: topics, errorCode: v >= 2 ? .notCoordinator : .noError)]
            return OffsetFetchResponse(throttleTimeMs: v >= 3 ? 2 : 0, groups: groups, unknownTaggedFields: tags)
        case .findCoordinator:
            let coordinators: [FindCoordinatorResponse.Coordinator] =
                v >= 4
                ? [
                    .init(key: "g1", nodeId: 1, host: "h", port: 9092, errorMessage: nil),
                    .init(
                        key: "g2", nodeId: -1, host: "", port: -1, errorCode: .coordinatorNotAvailable,
                        errorMessage: "loading"),
                ]
                : [.init(key: "", nodeId: 1, host: "h", port: 9092, errorMessage: v >= 1 ? "ok" : nil)]
            return FindCoordinatorResponse(
                throttleTimeMs: v >= 1 ? 6 : 0, coordinators: coordinators, unknownTaggedFields: tags)
        case .joinGroup:
            return JoinGroupResponse(
                throttleTimeMs: v >= 2 ? 1 : 0, errorCode: .noError, generationId: 4,
                protocolType: v >= 7 ? "consumer" : nil, protocolName: "range", leader: "m", memberId: "m",
                members: [.init(memberId: "m", groupInstanceId: v >= 5 ? "i" : nil, metadata: bytes("md"))],
                unknownTaggedFields: tags)
        case .heartbeat:
            return HeartbeatResponse(
                throttleTimeMs: v >= 1 ? 2 : 0, errorCode: .rebalanceInProgress, unknownTaggedFields: tags)
        case .leaveGroup:
            return LeaveGroupResponse(
                throttleTimeMs: v >= 1 ? 2 : 0, errorCode: .noError,
                members: v >= 3
                    ? [
                        .init(memberId: "m1", groupInstanceId: "i1"),
                        .init(memberId: "m2", errorCode: .unknownMemberId),
                    ]
                    : [], unknownTaggedFields: tags)
        case .syncGroup:
            return SyncGroupResponse(
                throttleTimeMs: v >= 1 ? 1 : 0, errorCode: .noError, protocolType: v >= 5 ? "consumer" : nil,
                protocolName: v >= 5 ? "range" : nil, assignment: bytes("a"), unknownTaggedFields: tags)
        case .describeGroups:
            return DescribeGroupsResponse(
                throttleTimeMs: v >= 1 ? 1 : 0,
                groups: [
                    .init(
                        errorCode: .noError, groupId: "g1", groupState: "Stable", protocolType: "consumer",
                        protocolData: "range",
                        members: [
                            .init(
                                memberId: "m", groupInstanceId: v >= 4 ? "i" : nil, clientId: "c",
                                clientHost: "/127.0.0.1", memberMetadata: bytes("md"), memberAssignment: bytes("as"))
                        ], authorizedOperations: v >= 3 ? 8 : Int32.min),
                    .init(errorCode: .groupIdNotFound, groupId: "g2", groupState: "Dead"),
                ], unknownTaggedFields: tags)
        case .listGroups:
            return ListGroupsResponse(
                throttleTimeMs: v >= 1 ? 1 : 0, errorCode: .noError,
                groups: [.init(groupId: "g", protocolType: "consumer", groupState: v >= 4 ? "Stable" : "")],
                unknownTaggedFields: tags)
        case .createTopics:
            return CreateTopicsResponse(
                throttleTimeMs: 3,
                topics: [
                    .init(
                        name: "t", topicId: v >= 7 ? topicId : .zero, errorCode: .noError, errorMessage: nil,
                        topicConfigErrorCode: v >= 5 ? 40 : 0, numPartitions: v >= 5 ? 3 : -1,
                        replicationFactor: v >= 5 ? 1 : -1,
                        configs: v >= 5
                            ? [
                                .init(
                                    name: "retention.ms", value: "1000", readOnly: false, configSource: 5,
                                    isSensitive: false)
                            ] : []),
                    .init(
                        name: "u", errorCode: .topicAlreadyExists, errorMessage: "exists", configs: v >= 5 ? nil : []),
                ], unknownTaggedFields: tags)
        case .deleteTopics:
            var results: [DeleteTopicsResponse.Result] = [
                .init(
                    name: "a", topicId: v >= 6 ? topicId : .zero, errorCode: .noError,
                    errorMessage: v >= 5 ? "deleted" : nil)
            ]
            if v >= 6 { results.append(.init(name: nil, topicId: otherTopicId, errorCode: .unknownTopicId)) }
            return DeleteTopicsResponse(throttleTimeMs: 1, responses: results, unknownTaggedFields: tags)
        case .initProducerId:
            return InitProducerIdResponse(
                throttleTimeMs: 1, errorCode: .noError, producerId: 1000, producerEpoch: 0, unknownTaggedFields: tags)
        case .offsetForLeaderEpoch:
            return OffsetForLeaderEpochResponse(
                throttleTimeMs: 1,
                topics: [
                    .init(
                        topic: "t",
                        partitions: [.init(errorCode: .noError, partition: 0, leaderEpoch: 1, endOffset: 100)])
                ], unknownTaggedFields: tags)
        case .describeConfigs:
            return DescribeConfigsResponse(
                throttleTimeMs: 1,
                results: [
                    .init(
                        errorCode: .noError, errorMessage: nil, resourceType: 2, resourceName: "t",
                        configs: [
                            .init(
                                name: "retention.ms", value: "1000", readOnly: false, configSource: 5,
                                isSensitive: false,
                                synonyms: [.init(name: "log.retention.ms", value: "1000", source: 5)],
                                configType: v >= 3 ? 5 : 0, documentation: v >= 3 ? "doc" : nil),
                            .init(name: "secret", value: nil, isSensitive: true),
                        ]),
                    .init(
                        errorCode: .unknownTopicOrPartition, errorMessage: "no such topic", resourceType: 2,
                        resourceName: "missing", configs: []),
                ], unknownTaggedFields: tags)
        case .alterConfigs:
            return AlterConfigsResponse(
                throttleTimeMs: 1,
                responses: [
                    .init(resourceType: 2, resourceName: "t"),
                    .init(errorCode: .invalidConfig, errorMessage: "bad value", resourceType: 2, resourceName: "u"),
                ], unknownTaggedFields: tags)
        case .incrementalAlterConfigs:
            return IncrementalAlterConfigsResponse(
                throttleTimeMs: 1,
                responses: [
                    .init(resourceType: 2, resourceName: "t"),
                    .init(errorCode: .policyViolation, errorMessage: "read-only", resourceType: 4, resourceName: "1"),
                ], unknownTaggedFields: tags)
        case .deleteGroups:
            return DeleteGroupsResponse(
                throttleTimeMs: 1, results: [.init(groupId: "g1"), .init(groupId: "g2", errorCode: .nonEmptyGroup)],
                unknownTaggedFields: tags)
        case .offsetDelete:
            return OffsetDeleteResponse(
                errorCode: .noError, throttleTimeMs: 1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(partitionIndex: 0), .init(partitionIndex: 2, errorCode: .groupSubscribedToTopic),
                        ])
                ])
        case .addPartitionsToTxn:
            return AddPartitionsToTxnResponse(
                throttleTimeMs: 1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(partitionIndex: 0), .init(partitionIndex: 2, errorCode: .concurrentTransactions),
                        ])
                ], unknownTaggedFields: tags)
        case .addOffsetsToTxn:
            return AddOffsetsToTxnResponse(throttleTimeMs: 1, errorCode: .invalidTxnState, unknownTaggedFields: tags)
        case .endTxn:
            return EndTxnResponse(throttleTimeMs: 1, errorCode: .producerFenced, unknownTaggedFields: tags)
        case .txnOffsetCommit:
            return TxnOffsetCommitResponse(
                throttleTimeMs: 1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [.init(partitionIndex: 0), .init(partitionIndex: 1, errorCode: .unknownMemberId)])
                ], unknownTaggedFields: tags)
        case .describeTransactions:
            return DescribeTransactionsResponse(
                throttleTimeMs: 1,
                transactionStates: [
                    .init(
                        transactionalId: "tx", transactionState: "Ongoing", transactionTimeoutMs: 60_000,
                        transactionStartTimeMs: 1_700_000_000_000, producerId: 4000, producerEpoch: 3,
                        topics: [.init(name: "t", partitionIndexes: [0, 2])]),
                    .init(errorCode: .transactionalIdNotFound, transactionalId: "other"),
                ], unknownTaggedFields: tags)
        case .listTransactions:
            return ListTransactionsResponse(
                throttleTimeMs: 1, errorCode: .noError,
                transactionStates: [
                    .init(transactionalId: "tx", producerId: 4000, transactionState: "Ongoing"),
                    .init(transactionalId: "done", producerId: 4001, transactionState: "CompleteCommit"),
                ], unknownTaggedFields: tags)
        case .createPartitions:
            return CreatePartitionsResponse(
                throttleTimeMs: 1,
                results: [
                    .init(name: "t"), .init(name: "u", errorCode: .invalidPartitions, errorMessage: "too few"),
                ], unknownTaggedFields: tags)
        case .deleteRecords:
            return DeleteRecordsResponse(
                throttleTimeMs: 1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(partitionIndex: 0, lowWatermark: 42),
                            .init(partitionIndex: 1, errorCode: .offsetOutOfRange),
                        ])
                ], unknownTaggedFields: tags)
        case .describeCluster:
            return DescribeClusterResponse(
                throttleTimeMs: 1, errorCode: .noError, errorMessage: "fine", endpointType: v >= 1 ? 2 : 1,
                clusterId: "c", controllerId: 3,
                brokers: [
                    .init(brokerId: 3, host: "h", port: 9092, rack: "r1", isFenced: v >= 2),
                    .init(brokerId: 4, host: "i", port: 9093),
                ], clusterAuthorizedOperations: 7, unknownTaggedFields: extraTags)
        case .describeLogDirs:
            return DescribeLogDirsResponse(
                throttleTimeMs: 1, errorCode: v >= 3 ? .clusterAuthorizationFailed : .noError,
                results: [
                    .init(
                        logDir: "/var/lib/skein",
                        topics: [
                            .init(
                                name: "t",
                                partitions: [
                                    .init(partitionIndex: 0, partitionSize: 1234, offsetLag: 2, isFutureKey: true)
                                ])
                        ], totalBytes: v >= 4 ? 1 << 40 : -1, usableBytes: v >= 4 ? 1 << 30 : -1),
                    .init(errorCode: .kafkaStorageError, logDir: "/broken", topics: []),
                ], unknownTaggedFields: tags)
        case .describeProducers:
            return DescribeProducersResponse(
                throttleTimeMs: 1,
                topics: [
                    .init(
                        name: "t",
                        partitions: [
                            .init(
                                partitionIndex: 0,
                                activeProducers: [
                                    .init(
                                        producerId: 1000, producerEpoch: 2, lastSequence: 41, lastTimestamp: 99,
                                        coordinatorEpoch: 5, currentTxnStartOffset: 17)
                                ]),
                            .init(partitionIndex: 1, errorCode: .unknownTopicOrPartition, errorMessage: "gone"),
                        ])
                ], unknownTaggedFields: extraTags)
        case .describeAcls:
            return DescribeAclsResponse(
                throttleTimeMs: 2, errorCode: .noError, errorMessage: nil,
                resources: [
                    .init(
                        resourceType: 2, resourceName: "t", patternType: v >= 1 ? 4 : 3,
                        acls: [
                            .init(principal: "User:alice", host: "*", operation: 3, permissionType: 3),
                            .init(principal: "User:bob", host: "10.1.1.1", operation: 2, permissionType: 2),
                        ])
                ], unknownTaggedFields: tags)
        case .createAcls:
            return CreateAclsResponse(
                throttleTimeMs: 3,
                results: [.init(), .init(errorCode: .invalidRequest, errorMessage: "bad principal")],
                unknownTaggedFields: tags)
        case .deleteAcls:
            return DeleteAclsResponse(
                throttleTimeMs: 4,
                filterResults: [
                    .init(
                        matchingAcls: [
                            .init(
                                resourceType: 2, resourceName: "t", patternType: v >= 1 ? 4 : 3, principal: "User:a",
                                host: "*", operation: 4, permissionType: 3)
                        ]),
                    .init(errorCode: .securityDisabled, errorMessage: "no authorizer"),
                ], unknownTaggedFields: tags)
        case .saslHandshake:
            return SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: ["PLAIN", "SCRAM-SHA-256"])
        case .saslAuthenticate:
            return SaslAuthenticateResponse(
                errorCode: .saslAuthenticationFailed, errorMessage: "no", authBytes: [1, 2],
                sessionLifetimeMs: v >= 1 ? 60_000 : 0, unknownTaggedFields: tags)
        case .describeUserScramCredentials:
            return DescribeUserScramCredentialsResponse(
                throttleTimeMs: 1,
                results: [
                    .init(user: "alice", credentialInfos: [.init(mechanism: 2, iterations: 4096)]),
                    .init(user: "carol", errorCode: .resourceNotFound, errorMessage: "no such user"),
                ], unknownTaggedFields: extraTags)
        case .alterUserScramCredentials:
            return AlterUserScramCredentialsResponse(
                throttleTimeMs: 2,
                results: [.init(userName: "alice"), .init(userName: "bob", errorCode: .resourceNotFound)],
                unknownTaggedFields: extraTags)
        case .describeClientQuotas:
            return DescribeClientQuotasResponse(
                throttleTimeMs: 1, errorCode: .noError, errorMessage: "fine",
                entries: [
                    .init(
                        entity: [.init(entityType: "user", entityName: "alice")],
                        values: [.init(key: "producer_byte_rate", value: 1_048_576), .init(key: "x", value: 0.5)]),
                    .init(entity: [.init(entityType: "client-id", entityName: nil)], values: []),
                ], unknownTaggedFields: tags)
        case .alterClientQuotas:
            return AlterClientQuotasResponse(
                throttleTimeMs: 2,
                entries: [
                    .init(entity: [.init(entityType: "user", entityName: nil)]),
                    .init(
                        errorCode: .invalidRequest, errorMessage: "bad",
                        entity: [.init(entityType: "client-id", entityName: "c")]),
                ], unknownTaggedFields: tags)
        }
    }
}

/// Encodes then decodes `message`, returning the decoded value and how many bytes were left over.
func roundTrip<M: KafkaMessage>(_ message: M, version: Int16) throws -> (decoded: M, leftover: Int, bytes: ByteBuffer) {
    let encoded = try message.encoded(version: version)
    var reader = encoded
    let decoded = try M.decode(from: &reader, version: version)
    return (decoded, reader.readableBytes, encoded)
}

/// The same through an existential, for tables of mixed message types.
func roundTripMatches<M: KafkaMessage>(_ message: M, version: Int16) throws -> Bool {
    let (decoded, leftover, encoded) = try roundTrip(message, version: version)
    // Re-encoding the decoded value must give identical bytes: decoding loses nothing on the wire.
    let reencoded = try decoded.encoded(version: version)
    return decoded == message && leftover == 0 && reencoded == encoded
}

/// Decodes `bytes` as `M`, for truncation and corruption tests.
func decodeFully<M: KafkaMessage>(_: M.Type, _ bytes: ByteBuffer, version: Int16) throws(ProtocolError) -> M {
    var reader = bytes
    return try M.decode(from: &reader, version: version)
}

func bytesOf(_ buffer: ByteBuffer) -> [UInt8] {
    buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
}

func buffer(_ bytes: [UInt8]) -> ByteBuffer {
    var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    return buffer
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
