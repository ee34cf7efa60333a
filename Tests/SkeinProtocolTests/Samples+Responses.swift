import NIOCore
import SkeinProtocol

// One sample response per API and version, beside the requests in Samples.swift.
extension Samples {
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
