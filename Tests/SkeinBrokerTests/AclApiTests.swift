import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// CreateAcls, DescribeAcls and DeleteAcls against a broker in this process, and the checks of the data
/// path. Without SASL every connection is User:ANONYMOUS, so these tests tell clients apart by source
/// address (127.0.0.1 and 127.0.0.2), which ACL hosts match; the interop matrix uses SASL principals.
@Suite(.serialized) struct AclApiTests {
    static let enabled = ["authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"]
    static let anonymous = "User:ANONYMOUS"

    /// Lets 127.0.0.1 manage ACLs, so the rest of a test goes through the APIs.
    func seedAdmin(_ broker: TestBroker) throws {
        try broker.broker.authorizer.create([
            AclBinding(
                resourceType: .cluster, resourceName: aclClusterResourceName, principal: Self.anonymous,
                host: "127.0.0.1", operation: .alter),
            AclBinding(
                resourceType: .cluster, resourceName: aclClusterResourceName, principal: Self.anonymous,
                host: "127.0.0.1", operation: .describe),
        ])
    }

    func creation(
        _ operation: AclOperation, _ name: String, type: AclResourceType = .topic,
        pattern: AclPatternType = .literal, permission: AclPermissionType = .allow, host: String = "*"
    ) -> CreateAclsRequest.Creation {
        .init(
            resourceType: type.rawValue, resourceName: name, patternType: pattern.rawValue, principal: Self.anonymous,
            host: host, operation: operation.rawValue, permissionType: permission.rawValue)
    }

    @Test func withoutAnAuthorizerTheAclApisAnswerSecurityDisabled() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            let created = try connection.roundTrip(CreateAclsRequest(creations: [creation(.read, "t")]), version: 2)
            #expect(created.results.map(\.errorCode) == [.securityDisabled])
            let described = try connection.roundTrip(DescribeAclsRequest(), version: 3)
            #expect(described.errorCode == .securityDisabled)
            let deleted = try connection.roundTrip(DeleteAclsRequest(filters: [AclFilter()]), version: 1)
            #expect(deleted.filterResults.map(\.errorCode) == [.securityDisabled])
            // And every request is served as before.
            #expect(try connection.roundTrip(produce("open", try batch(["a"])), version: 9).first.errorCode == .noError)
        }
    }

    @Test(arguments: [Int16(0), 1, 2, 3])
    func aclsAreCreatedDescribedAndDeletedThroughTheApis(version: Int16) async throws {
        try await withBroker(settings: Self.enabled) { broker in
            try seedAdmin(broker)
            let admin = try broker.connect()
            var creations = [
                creation(.read, "logs"), creation(.write, "g", type: .group, permission: .deny, host: "10.0.0.1"),
                creation(.read, "not-the-cluster", type: .cluster), creation(.any, "t"),
            ]
            if version >= 1 { creations.append(creation(.write, "app-", pattern: .prefixed)) }
            let created = try admin.roundTrip(CreateAclsRequest(creations: creations), version: version)
            #expect(
                created.results.map(\.errorCode)
                    == [.noError, .noError, .invalidRequest, .invalidRequest] + (version >= 1 ? [.noError] : []))
            let topics = try admin.roundTrip(
                DescribeAclsRequest(
                    filter: AclFilter(resourceType: AclResourceType.topic.rawValue, patternType: version >= 1 ? 1 : 3)),
                version: version)
            #expect(topics.errorCode == .noError)
            #expect(topics.resources.map(\.resourceName) == (version >= 1 ? ["logs", "app-"] : ["logs"]))
            #expect(
                topics.resources.first?.acls == [
                    .init(principal: Self.anonymous, host: "*", operation: 3, permissionType: 3)
                ])
            if version >= 1 {
                let matching = try admin.roundTrip(
                    DescribeAclsRequest(
                        filter: AclFilter(
                            resourceType: 2, resourceName: "app-web", patternType: AclPatternType.match.rawValue)),
                    version: version)
                #expect(matching.resources.map(\.patternType) == [AclPatternType.prefixed.rawValue])
            }
            let deleted = try admin.roundTrip(
                DeleteAclsRequest(filters: [
                    AclFilter(resourceType: AclResourceType.group.rawValue, patternType: 3),
                    AclFilter(resourceType: 0, patternType: 3),
                ]), version: version)
            #expect(deleted.filterResults.map(\.errorCode) == [.noError, .invalidRequest])
            #expect(deleted.filterResults[0].matchingAcls.map(\.resourceName) == ["g"])
            #expect(deleted.filterResults[0].matchingAcls.first?.host == "10.0.0.1")
            let groups = try admin.roundTrip(
                DescribeAclsRequest(filter: AclFilter(resourceType: AclResourceType.group.rawValue, patternType: 3)),
                version: version)
            #expect(groups.resources.isEmpty)
        }
    }

    @Test func theAclApisNeedAlterAndDescribeOnTheCluster() async throws {
        try await withBroker(settings: Self.enabled) { broker in
            try seedAdmin(broker)
            let outsider = try broker.connect(from: "127.0.0.2")
            let created = try outsider.roundTrip(CreateAclsRequest(creations: [creation(.all, "*")]), version: 3)
            #expect(created.results.map(\.errorCode) == [.clusterAuthorizationFailed])
            #expect(try outsider.roundTrip(DescribeAclsRequest(), version: 3).errorCode == .clusterAuthorizationFailed)
            let deleted = try outsider.roundTrip(DeleteAclsRequest(filters: [AclFilter()]), version: 3)
            #expect(deleted.filterResults.map(\.errorCode) == [.clusterAuthorizationFailed])
            #expect(broker.broker.authorizer.acls.count == 2)
        }
    }

    @Test func produceFetchAndMetadataFollowTheAclsAndAChangeReachesAnOpenConnection() async throws {
        try await withBroker(settings: Self.enabled) { broker in
            try seedAdmin(broker)
            _ = try broker.broker.createTopic("shown", partitions: 1)
            _ = try broker.broker.createTopic("hidden", partitions: 1)
            let admin = try broker.connect()
            let client = try broker.connect(from: "127.0.0.2")
            // Nothing allowed yet: no topic listed, produce and fetch refused, nothing auto-created.
            #expect(try client.roundTrip(MetadataRequest(topics: nil), version: 12).topics.isEmpty)
            let named = try client.roundTrip(MetadataRequest(topics: [.init(name: "hidden")]), version: 12)
            #expect(named.topics.map(\.errorCode) == [.topicAuthorizationFailed])
            #expect(
                try client.roundTrip(produce("shown", try batch(["a"])), version: 9).first.errorCode
                    == .topicAuthorizationFailed)
            #expect(
                try client.roundTrip(fetch("shown", offset: 0), version: 12).first.errorCode
                    == .topicAuthorizationFailed)
            #expect(
                try client.roundTrip(produce("fresh", try batch(["a"])), version: 9).first.errorCode
                    == .topicAuthorizationFailed)
            #expect(broker.broker.topics.topic("fresh") == nil)

            let granted = try admin.roundTrip(
                CreateAclsRequest(creations: [creation(.write, "shown"), creation(.read, "sh", pattern: .prefixed)]),
                version: 3)
            #expect(granted.results.map(\.errorCode) == [.noError, .noError])
            // The same open connection sees the change on its next request.
            #expect(try client.roundTrip(MetadataRequest(topics: nil), version: 12).topics.map(\.name) == ["shown"])
            #expect(try client.roundTrip(produce("shown", try batch(["a"])), version: 9).first.errorCode == .noError)
            let read = try client.roundTrip(fetch("shown", offset: 0), version: 12)
            #expect(read.first.errorCode == .noError && read.values == ["a"])

            let denied = try admin.roundTrip(
                CreateAclsRequest(creations: [creation(.write, "shown", permission: .deny, host: "127.0.0.2")]),
                version: 3)
            #expect(denied.results.map(\.errorCode) == [.noError])
            #expect(
                try client.roundTrip(produce("shown", try batch(["b"])), version: 9).first.errorCode
                    == .topicAuthorizationFailed)
            // The DENY names 127.0.0.2 only; DESCRIBE still comes from READ.
            #expect(try client.roundTrip(MetadataRequest(topics: nil), version: 12).topics.map(\.name) == ["shown"])
            _ = try admin.roundTrip(
                DeleteAclsRequest(filters: [AclFilter(resourceType: 2, patternType: 1, permissionType: 2)]), version: 3)
            #expect(try client.roundTrip(produce("shown", try batch(["c"])), version: 9).first.errorCode == .noError)
            let text = broker.broker.metrics.render()
            #expect(text.contains("skein_authorization_denied_total{operation=\"WRITE\",resource_type=\"TOPIC\"}"))
        }
    }

    @Test func groupAndClusterChecksAnswerTheirOwnErrorCodes() async throws {
        try await withBroker(settings: Self.enabled) { broker in
            let client = try broker.connect()
            let coordinator = try client.roundTrip(FindCoordinatorRequest(coordinatorKeys: ["g"]), version: 4)
            #expect(coordinator.coordinators.map(\.errorCode) == [.groupAuthorizationFailed])
            let heartbeat = try client.roundTrip(
                HeartbeatRequest(groupId: "g", generationId: 1, memberId: "m"), version: 4)
            #expect(heartbeat.errorCode == .groupAuthorizationFailed)
            // DescribeCluster answers anyone, as Kafka's brokers do; without DESCRIBE the operations are none.
            let cluster = try client.roundTrip(
                DescribeClusterRequest(includeClusterAuthorizedOperations: true), version: 0)
            #expect(cluster.errorCode == .noError && cluster.clusterAuthorizedOperations == 0)
            let idempotent = try client.roundTrip(
                InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1), version: 4)
            #expect(idempotent.errorCode == .clusterAuthorizationFailed)
            let transactional = try client.roundTrip(
                InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60000), version: 4)
            #expect(transactional.errorCode == .transactionalIdAuthorizationFailed)
            let created = try client.roundTrip(
                CreateTopicsRequest(
                    topics: [.init(name: "new", numPartitions: 1, replicationFactor: 1)], timeoutMs: 1000),
                version: 7)
            #expect(created.topics.map(\.errorCode) == [.topicAuthorizationFailed])
            #expect(broker.broker.topics.topic("new") == nil)
            // The other helpers' cluster APIs: quotas need DESCRIBE_CONFIGS / ALTER_CONFIGS, SCRAM users DESCRIBE / ALTER.
            let quotas = try client.roundTrip(DescribeClientQuotasRequest(components: []), version: 1)
            #expect(quotas.errorCode == .clusterAuthorizationFailed)
            let users = try client.roundTrip(DescribeUserScramCredentialsRequest(), version: 0)
            #expect(users.errorCode == .clusterAuthorizationFailed)
            let altered = try client.roundTrip(
                AlterUserScramCredentialsRequest(deletions: [.init(name: "bob", mechanism: 1)]), version: 0)
            #expect(altered.results.map(\.errorCode) == [.clusterAuthorizationFailed])
            // KIP-679: WRITE on some topic is enough for an idempotent producer.
            try broker.broker.authorizer.create([
                AclBinding(
                    resourceType: .topic, resourceName: "x-", patternType: .prefixed, principal: "User:*",
                    operation: .write)
            ])
            let allowed = try client.roundTrip(
                InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1), version: 4)
            #expect(allowed.errorCode == .noError && allowed.producerId >= 0)
            try broker.broker.authorizer.create([
                AclBinding(
                    resourceType: .cluster, resourceName: aclClusterResourceName, principal: "User:*", operation: .alter
                )
            ])
            let operations = try client.roundTrip(
                DescribeClusterRequest(includeClusterAuthorizedOperations: true), version: 0
            ).clusterAuthorizedOperations
            #expect(operations == 1 << 7 | 1 << 8)  // ALTER, and the DESCRIBE it implies
        }
    }

    @Test func superUsersAndTheNoAclDefaultNeedNoAcls() async throws {
        try await withBroker(settings: Self.enabled.merging(["super.users": "User:nobody;User:ANONYMOUS"]) { $1 }) {
            broker in
            let client = try broker.connect()
            #expect(try client.roundTrip(produce("any", try batch(["a"])), version: 9).first.errorCode == .noError)
            #expect(try client.roundTrip(DescribeAclsRequest(), version: 3).errorCode == .noError)
        }
        try await withBroker(settings: Self.enabled.merging(["allow.everyone.if.no.acl.found": "true"]) { $1 }) {
            broker in
            let client = try broker.connect()
            #expect(try client.roundTrip(produce("any", try batch(["a"])), version: 9).first.errorCode == .noError)
            try broker.broker.authorizer.create([
                AclBinding(resourceType: .topic, resourceName: "any", principal: "User:someone", operation: .write)
            ])
            #expect(
                try client.roundTrip(produce("any", try batch(["b"])), version: 9).first.errorCode
                    == .topicAuthorizationFailed)
            #expect(try client.roundTrip(produce("other", try batch(["b"])), version: 9).first.errorCode == .noError)
        }
    }

    @Test func aclsSurviveARestart() async throws {
        let first = try await TestBroker(settings: Self.enabled)
        try seedAdmin(first)
        let admin = try first.connect()
        let created = try admin.roundTrip(
            CreateAclsRequest(creations: [creation(.write, "kept-", pattern: .prefixed, host: "127.0.0.2")]), version: 3
        )
        #expect(created.results.map(\.errorCode) == [.noError])
        try await first.stop(keepingData: true)
        let second = try await TestBroker(settings: Self.enabled, directory: first.directory)
        do {
            #expect(second.broker.authorizer.acls.count == 3)
            let client = try second.connect(from: "127.0.0.2")
            #expect(
                try client.roundTrip(produce("kept-1", try batch(["a"])), version: 9).first.errorCode
                    == .unknownTopicOrPartition)
            #expect(
                try client.roundTrip(produce("lost", try batch(["a"])), version: 9).first.errorCode
                    == .topicAuthorizationFailed)
            let listed = try second.connect().roundTrip(DescribeAclsRequest(), version: 3)
            #expect(listed.resources.map(\.resourceName).sorted() == ["kafka-cluster", "kept-"])
        } catch {
            try await second.stop()
            throw error
        }
        try await second.stop()
    }
}
