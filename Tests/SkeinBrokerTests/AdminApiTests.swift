import Foundation
import NIOCore
import SkeinLog
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// Config changes (AlterConfigs, IncrementalAlterConfigs) and group deletion (DeleteGroups, OffsetDelete)
/// against a real broker over the wire, including what a restart keeps.
@Suite(.serialized) struct AdminApiTests {
    typealias Op = IncrementalAlterConfigsRequest
    static let topicType = DescribeConfigsRequest.topicResourceType
    static let brokerType = DescribeConfigsRequest.brokerResourceType

    func createTopic(_ name: String, partitions: Int32 = 1, on connection: RawKafkaConnection) throws {
        let created = try connection.roundTrip(
            CreateTopicsRequest(topics: [.init(name: name, numPartitions: partitions, replicationFactor: 1)]),
            version: 7)
        #expect(created.topics.first?.errorCode == .noError)
    }

    func incremental(
        _ topic: String, _ configs: [Op.Config], validateOnly: Bool = false, type: Int8 = topicType,
        version: Int16 = 1, on connection: RawKafkaConnection
    ) throws -> IncrementalAlterConfigsResponse.Result {
        let response = try connection.roundTrip(
            IncrementalAlterConfigsRequest(
                resources: [.init(resourceType: type, resourceName: topic, configs: configs)],
                validateOnly: validateOnly), version: version)
        return try #require(response.responses.first)
    }

    func describe(_ topic: String, on connection: RawKafkaConnection) throws -> [String: DescribeConfigsResponse.Config]
    {
        let response = try connection.roundTrip(
            DescribeConfigsRequest(resources: [.init(resourceType: Self.topicType, resourceName: topic)]), version: 4)
        let configs = try #require(response.results.first?.configs)
        return Dictionary(configs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    static let dynamicTopicConfig: Int8 = 1
    static let defaultConfig: Int8 = 5

    @Test(arguments: [Int16(0), 1])
    func incrementalSetAndDeleteReachDescribeTheLiveLogAndARestart(version: Int16) async throws {
        let first = try await TestBroker()
        let connection = try first.connect()
        try createTopic("tuned", partitions: 2, on: connection)
        let set = try incremental(
            "tuned",
            [
                .init(name: "retention.ms", configOperation: Op.setOperation, value: "3600000"),
                .init(name: "segment.bytes", configOperation: Op.setOperation, value: "1048576"),
            ], version: version, on: connection)
        #expect(set.errorCode == .noError)
        #expect(set.errorMessage == nil)
        var described = try describe("tuned", on: connection)
        #expect(described["retention.ms"]?.value == "3600000")
        #expect(described["retention.ms"]?.configSource == Self.dynamicTopicConfig)
        #expect(described["segment.bytes"]?.value == "1048576")
        #expect(described["retention.bytes"]?.configSource == Self.defaultConfig)
        for partition: Int32 in 0...1 {
            #expect(first.broker.log("tuned", partition)?.config.retentionMs == 3_600_000)
            #expect(first.broker.log("tuned", partition)?.config.segmentBytes == 1_048_576)
        }

        let deleted = try incremental(
            "tuned", [.init(name: "segment.bytes", configOperation: Op.deleteOperation, value: nil)],
            version: version, on: connection)
        #expect(deleted.errorCode == .noError)
        described = try describe("tuned", on: connection)
        #expect(described["segment.bytes"]?.configSource == Self.defaultConfig)
        #expect(described["segment.bytes"]?.value == String(LogConfig().segmentBytes))
        #expect(first.broker.log("tuned", 1)?.config.segmentBytes == LogConfig().segmentBytes)
        try await first.stop(keepingData: true)

        let second = try await TestBroker(directory: first.directory)
        let reconnected = try second.connect()
        described = try describe("tuned", on: reconnected)
        #expect(described["retention.ms"]?.value == "3600000")
        #expect(described["retention.ms"]?.configSource == Self.dynamicTopicConfig)
        #expect(described["segment.bytes"]?.configSource == Self.defaultConfig)
        #expect(second.broker.log("tuned", 0)?.config.retentionMs == 3_600_000)
        try await second.stop()
    }

    @Test func changesTakeEffectInRunningLogsWithoutARestart() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            try createTopic("live", on: connection)
            // With the default 1 GiB segments these records would all share one segment.
            #expect(
                try incremental(
                    "live", [.init(name: "segment.bytes", configOperation: Op.setOperation, value: "200")],
                    on: connection
                ).errorCode == .noError)
            for round in 0..<5 {
                let produced = try connection.roundTrip(
                    produce("live", try batch(["record-\(round)-" + String(repeating: "x", count: 150)])), version: 9)
                #expect(produced.first.errorCode == .noError)
            }
            let log = try #require(broker.broker.log("live", 0))
            #expect(log.segmentCount >= 5)
            #expect(log.logStartOffset == 0)

            #expect(
                try incremental(
                    "live", [.init(name: "retention.bytes", configOperation: Op.setOperation, value: "1")],
                    on: connection
                ).errorCode == .noError)
            broker.broker.logs.runRetention()
            #expect(log.logStartOffset == 4)

            #expect(
                try incremental(
                    "live", [.init(name: "max.message.bytes", configOperation: Op.setOperation, value: "100")],
                    on: connection
                ).errorCode == .noError)
            let tooLarge = try connection.roundTrip(
                produce("live", try batch([String(repeating: "y", count: 200)])), version: 9)
            #expect(tooLarge.first.errorCode == .messageTooLarge)
        }
    }

    @Test func refusalsNameTheProblemAndChangeNothing() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            try createTopic("strict", on: connection)
            func expectRefused(
                _ configs: [Op.Config], _ code: ErrorCode, containing text: String, topic: String = "strict",
                type: Int8 = AdminApiTests.topicType
            ) throws {
                let result = try incremental(topic, configs, type: type, on: connection)
                #expect(result.errorCode == code, "\(configs)")
                #expect(result.errorMessage?.contains(text) == true, "\(result.errorMessage ?? "nil")")
            }
            try expectRefused(
                [.init(name: "retention.ms", configOperation: Op.setOperation, value: "soon")], .invalidConfig,
                containing: "retention.ms")
            try expectRefused(
                [.init(name: "no.such.config", configOperation: Op.setOperation, value: "1")], .invalidConfig,
                containing: "no.such.config")
            try expectRefused(
                [.init(name: "cleanup.policy", configOperation: Op.setOperation, value: "compact")], .invalidConfig,
                containing: "compaction")
            try expectRefused(
                [.init(name: "retention.ms", configOperation: Op.appendOperation, value: "5")], .invalidRequest,
                containing: "list")
            try expectRefused(
                [.init(name: "retention.ms", configOperation: 9, value: "5")], .invalidRequest, containing: "operation")
            try expectRefused(
                [.init(name: "retention.ms", configOperation: Op.setOperation, value: nil)], .invalidRequest,
                containing: "null")
            try expectRefused(
                [
                    .init(name: "retention.ms", configOperation: Op.setOperation, value: "5"),
                    .init(name: "retention.ms", configOperation: Op.deleteOperation, value: nil),
                ], .invalidRequest, containing: "twice")
            try expectRefused(
                [.init(name: "retention.ms", configOperation: Op.setOperation, value: "5")], .unknownTopicOrPartition,
                containing: "missing", topic: "missing")
            try expectRefused(
                [.init(name: "log.retention.ms", configOperation: Op.setOperation, value: "5")], .policyViolation,
                containing: "broker configs are read-only; set them in the config file", topic: "1",
                type: Self.brokerType)
            // A valid change in the same request as a refused one is refused with it: all or nothing.
            try expectRefused(
                [
                    .init(name: "retention.ms", configOperation: Op.setOperation, value: "5"),
                    .init(name: "segment.ms", configOperation: Op.setOperation, value: "-3"),
                ], .invalidConfig, containing: "segment.ms")
            let validated = try incremental(
                "strict", [.init(name: "retention.ms", configOperation: Op.setOperation, value: "5")],
                validateOnly: true, on: connection)
            #expect(validated.errorCode == .noError)
            #expect(broker.broker.topics.topic("strict")?.configs == [:])
            #expect(try describe("strict", on: connection)["retention.ms"]?.configSource == Self.defaultConfig)
        }
    }

    @Test func appendAndSubtractWorkOnTheListConfig() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            try createTopic("listy", on: connection)
            let appended = try incremental(
                "listy", [.init(name: "cleanup.policy", configOperation: Op.appendOperation, value: "delete")],
                on: connection)
            #expect(appended.errorCode == .noError)
            #expect(broker.broker.topics.topic("listy")?.configs["cleanup.policy"] == "delete")
            let compacting = try incremental(
                "listy", [.init(name: "cleanup.policy", configOperation: Op.appendOperation, value: "compact")],
                on: connection)
            #expect(compacting.errorCode == .invalidConfig)
            let emptied = try incremental(
                "listy", [.init(name: "cleanup.policy", configOperation: Op.subtractOperation, value: "delete")],
                on: connection)
            #expect(emptied.errorCode == .invalidConfig)
            #expect(broker.broker.topics.topic("listy")?.configs["cleanup.policy"] == "delete")
        }
    }

    @Test(arguments: [Int16(0), 1, 2])
    func alterConfigsReplacesTheWholeSet(version: Int16) async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            try createTopic("replaced", on: connection)
            func alter(
                _ configs: [AlterConfigsRequest.Config], validateOnly: Bool = false,
                type: Int8 = AdminApiTests.topicType
            ) throws -> AlterConfigsResponse.Result {
                let response = try connection.roundTrip(
                    AlterConfigsRequest(
                        resources: [
                            .init(
                                resourceType: type, resourceName: type == Self.topicType ? "replaced" : "1",
                                configs: configs)
                        ], validateOnly: validateOnly), version: version)
                return try #require(response.responses.first)
            }
            #expect(
                try alter([.init(name: "retention.ms", value: "60000"), .init(name: "segment.ms", value: "120000")])
                    .errorCode == .noError)
            #expect(
                broker.broker.topics.topic("replaced")?.configs == ["retention.ms": "60000", "segment.ms": "120000"])
            #expect(try alter([.init(name: "segment.ms", value: "240000")]).errorCode == .noError)
            let described = try describe("replaced", on: connection)
            #expect(described["retention.ms"]?.configSource == Self.defaultConfig)
            #expect(described["segment.ms"]?.value == "240000")
            #expect(described["segment.ms"]?.configSource == Self.dynamicTopicConfig)
            #expect(broker.broker.log("replaced", 0)?.config.retentionMs == LogConfig().retentionMs)
            #expect(broker.broker.log("replaced", 0)?.config.segmentMs == 240_000)
            let bad = try alter([.init(name: "segment.bytes", value: "1")])
            #expect(bad.errorCode == .invalidConfig)
            #expect(bad.errorMessage?.contains("segment.bytes") == true)
            #expect(try alter([], validateOnly: true).errorCode == .noError)
            #expect(broker.broker.topics.topic("replaced")?.configs == ["segment.ms": "240000"])
            let brokerChange = try alter([.init(name: "num.partitions", value: "3")], type: Self.brokerType)
            #expect(brokerChange.errorCode == .policyViolation)
            #expect(brokerChange.errorMessage == AlterConfigsHandler.brokerReadOnlyMessage)
        }
    }

    // MARK: Groups

    func commit(_ group: String, _ topic: String, _ offsets: [Int32: Int64], on connection: RawKafkaConnection) throws {
        let response = try connection.roundTrip(
            OffsetCommitRequest(
                groupId: group,
                topics: [
                    .init(
                        name: topic,
                        partitions: offsets.map { .init(partitionIndex: $0.key, committedOffset: $0.value) })
                ]), version: 8)
        #expect(response.topics.flatMap(\.partitions).allSatisfy { $0.errorCode == .noError })
    }

    func committed(_ group: String, _ topic: String, partitions: [Int32], on connection: RawKafkaConnection) throws
        -> [Int64]
    {
        let response = try connection.roundTrip(
            OffsetFetchRequest(groups: [
                .init(groupId: group, topics: [.init(name: topic, partitionIndexes: partitions)])
            ]),
            version: 8)
        return try #require(response.groups.first?.topics.first?.partitions.map(\.committedOffset))
    }

    /// Joins `group` as a consumer subscribed to `topics` and syncs, so the group is Stable with one member.
    func joinAsConsumer(_ group: String, topics: [String], on connection: RawKafkaConnection) throws -> String {
        var subscription = ByteBuffer()
        subscription.writeInteger(Int16(0))
        subscription.writeInteger(Int32(topics.count))
        for topic in topics {
            subscription.writeInteger(Int16(topic.utf8.count))
            subscription.writeString(topic)
        }
        subscription.writeInteger(Int32(-1))
        func join(_ memberId: String) throws -> JoinGroupResponse {
            try connection.roundTrip(
                JoinGroupRequest(
                    groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: memberId,
                    protocolType: "consumer", protocols: [.init(name: "range", metadata: subscription)]), version: 7)
        }
        let memberId = try join("").memberId
        let joined = try join(memberId)
        #expect(joined.errorCode == .noError)
        let synced = try connection.roundTrip(
            SyncGroupRequest(
                groupId: group, generationId: joined.generationId, memberId: memberId,
                assignments: [.init(memberId: memberId, assignment: ByteBuffer())]), version: 5)
        #expect(synced.errorCode == .noError)
        return memberId
    }

    @Test(arguments: [Int16(0), 1, 2])
    func deletingAnEmptyGroupRemovesItsOffsetsForGood(version: Int16) async throws {
        let first = try await TestBroker(settings: ["group.initial.rebalance.delay.ms": "0"])
        let connection = try first.connect()
        try createTopic("consumed", partitions: 2, on: connection)
        try commit("finished", "consumed", [0: 5, 1: 7], on: connection)
        try commit("kept", "consumed", [0: 3], on: connection)
        _ = try joinAsConsumer("busy", topics: ["consumed"], on: connection)

        let response = try connection.roundTrip(
            DeleteGroupsRequest(groupsNames: ["finished", "busy", "never-existed"]), version: version)
        #expect(response.results.map(\.groupId) == ["finished", "busy", "never-existed"])
        #expect(response.results.map(\.errorCode) == [.noError, .nonEmptyGroup, .groupIdNotFound])
        #expect(try committed("finished", "consumed", partitions: [0, 1], on: connection) == [-1, -1])
        let listed = try connection.roundTrip(ListGroupsRequest(), version: 4).groups.map(\.groupId)
        #expect(!listed.contains("finished"))
        #expect(listed.contains("busy"))
        let again = try connection.roundTrip(DeleteGroupsRequest(groupsNames: ["finished"]), version: version)
        #expect(again.results.first?.errorCode == .groupIdNotFound)
        try await first.stop(keepingData: true)

        let second = try await TestBroker(directory: first.directory)
        let reconnected = try second.connect()
        #expect(try committed("finished", "consumed", partitions: [0, 1], on: reconnected) == [-1, -1])
        #expect(try committed("kept", "consumed", partitions: [0], on: reconnected) == [3])
        #expect(!second.broker.groupIds.contains("finished"))
        try await second.stop()
    }

    @Test func deletionsSurviveACrashWithoutASnapshot() async throws {
        let first = try await TestBroker()
        let connection = try first.connect()
        try createTopic("crashy", on: connection)
        try commit("gone", "crashy", [0: 9], on: connection)
        try commit("partly", "crashy", [0: 4], on: connection)
        let deleted = try connection.roundTrip(DeleteGroupsRequest(groupsNames: ["gone"]), version: 2)
        #expect(deleted.results.first?.errorCode == .noError)
        let offsetDeleted = try connection.roundTrip(
            OffsetDeleteRequest(groupId: "partly", topics: [.init(name: "crashy", partitionIndexes: [0])]), version: 0)
        #expect(offsetDeleted.topics.first?.partitions.first?.errorCode == .noError)
        // A copy of the offsets directory taken now is what a restart after SIGKILL would find: no snapshot,
        // no clean shutdown, only the log as written so far.
        let copy = first.directory + "/.groups-as-after-a-crash"
        try FileManager.default.copyItem(atPath: first.directory + "/.groups", toPath: copy)
        let reopened = try OffsetStore(directory: copy, clock: SystemClock(), logger: first.broker.logger)
        #expect(reopened.committed(groupId: "gone").isEmpty)
        #expect(reopened.committed(groupId: "partly").isEmpty)
        try await first.stop()
    }

    @Test func offsetDeleteSparesTopicsTheMembersConsume() async throws {
        let first = try await TestBroker(settings: ["group.initial.rebalance.delay.ms": "0"])
        let connection = try first.connect()
        try createTopic("used", on: connection)
        try createTopic("old", partitions: 2, on: connection)
        try commit("app", "used", [0: 11], on: connection)
        try commit("app", "old", [0: 21, 1: 22], on: connection)
        _ = try joinAsConsumer("app", topics: ["used"], on: connection)

        let response = try connection.roundTrip(
            OffsetDeleteRequest(
                groupId: "app",
                topics: [
                    .init(name: "used", partitionIndexes: [0]), .init(name: "old", partitionIndexes: [0]),
                    .init(name: "absent", partitionIndexes: [0]),
                ]), version: 0)
        #expect(response.errorCode == .noError)
        #expect(response.topics.map(\.name) == ["used", "old", "absent"])
        #expect(
            response.topics.map { $0.partitions.map(\.errorCode) } == [
                [.groupSubscribedToTopic], [.noError], [.unknownTopicOrPartition],
            ])
        #expect(try committed("app", "used", partitions: [0], on: connection) == [11])
        #expect(try committed("app", "old", partitions: [0, 1], on: connection) == [-1, 22])
        let unknown = try connection.roundTrip(
            OffsetDeleteRequest(groupId: "nobody", topics: [.init(name: "old", partitionIndexes: [1])]), version: 0)
        #expect(unknown.errorCode == .groupIdNotFound)
        #expect(unknown.topics.isEmpty)
        try await first.stop(keepingData: true)

        let second = try await TestBroker(directory: first.directory)
        let reconnected = try second.connect()
        #expect(try committed("app", "old", partitions: [0, 1], on: reconnected) == [-1, 22])
        #expect(try committed("app", "used", partitions: [0], on: reconnected) == [11])
        try await second.stop()
    }
}
