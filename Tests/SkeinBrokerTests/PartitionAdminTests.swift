import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker
@testable import SkeinLog

/// CreatePartitions, CreateTopics with replica assignments and DeleteRecords over the wire, with what a
/// restart keeps.
@Suite(.serialized) struct PartitionAdminTests {
    func createTopic(_ name: String, partitions: Int32, on connection: RawKafkaConnection) throws {
        let created = try connection.roundTrip(
            CreateTopicsRequest(topics: [.init(name: name, numPartitions: partitions, replicationFactor: 1)]),
            version: 7)
        #expect(created.topics.first?.errorCode == .noError)
    }

    func grow(
        _ topic: String, to count: Int32, assignments: [[Int32]]? = nil, validateOnly: Bool = false,
        version: Int16 = 3, on connection: RawKafkaConnection
    ) throws -> CreatePartitionsResponse.Result {
        let response = try connection.roundTrip(
            CreatePartitionsRequest(
                topics: [.init(name: topic, count: count, assignments: assignments?.map { .init(brokerIds: $0) })],
                validateOnly: validateOnly), version: version)
        return try #require(response.results.first)
    }

    func partitionCount(_ topic: String, on connection: RawKafkaConnection) throws -> Int {
        let metadata = try connection.roundTrip(MetadataRequest(topics: [.init(name: topic)]), version: 12)
        return metadata.topics.first?.partitions.count ?? -1
    }

    func fetch(_ topic: String, partition: Int32, offset: Int64) -> FetchRequest {
        FetchRequest(
            maxWaitMs: 0, minBytes: 1,
            topics: [
                .init(
                    topic: topic,
                    partitions: [.init(partition: partition, fetchOffset: offset, partitionMaxBytes: 1 << 20)])
            ])
    }

    func earliest(_ topic: String, partition: Int32, on connection: RawKafkaConnection) throws -> Int64 {
        let response = try connection.roundTrip(
            ListOffsetsRequest(
                replicaId: -1,
                topics: [.init(name: topic, partitions: [.init(partitionIndex: partition, timestamp: -2)])]),
            version: 7)
        return response.topics.first?.partitions.first?.offset ?? -100
    }

    @Test(arguments: [Int16(0), 3])
    func newPartitionsServeProduceFetchAndListOffsetsAtOnceAndSurviveARestart(version: Int16) async throws {
        let first = try await TestBroker()
        let connection = try first.connect()
        try createTopic("growing", partitions: 2, on: connection)
        let grown = try grow("growing", to: 5, version: version, on: connection)
        #expect(grown.errorCode == .noError)
        #expect(grown.errorMessage == nil)
        #expect(try partitionCount("growing", on: connection) == 5)
        let produced = try connection.roundTrip(produce("growing", try batch(["p4"]), partition: 4), version: 9)
        #expect(produced.first.errorCode == .noError)
        let fetched = try connection.roundTrip(fetch("growing", partition: 4, offset: 0), version: 12)
        #expect(fetched.values == ["p4"])
        #expect(try earliest("growing", partition: 3, on: connection) == 0)
        try await first.stop(keepingData: true)

        let second = try await TestBroker(directory: first.directory)
        let reconnected = try second.connect()
        #expect(second.broker.topics.topic("growing")?.partitionCount == 5)
        #expect(try partitionCount("growing", on: reconnected) == 5)
        #expect(try reconnected.roundTrip(fetch("growing", partition: 4, offset: 0), version: 12).values == ["p4"])
        try await second.stop()
    }

    @Test func growthIsRefusedAsKafkaRefusesIt() async throws {
        try await withBroker(settings: ["max.partitions.per.topic": "8", "max.partitions": "12"]) { broker in
            let connection = try broker.connect()
            try createTopic("fixed", partitions: 3, on: connection)
            let same = try grow("fixed", to: 3, on: connection)
            #expect(same.errorCode == .invalidPartitions)
            #expect(same.errorMessage?.contains("already has 3") == true)
            #expect(try grow("fixed", to: 2, on: connection).errorCode == .invalidPartitions)
            #expect(try grow("missing", to: 4, on: connection).errorCode == .unknownTopicOrPartition)
            let elsewhere = try grow("fixed", to: 4, assignments: [[7]], on: connection)
            #expect(elsewhere.errorCode == .invalidReplicaAssignment)
            #expect(elsewhere.errorMessage?.contains("broker 7") == true)
            #expect(try grow("fixed", to: 5, assignments: [[0]], on: connection).errorCode == .invalidReplicaAssignment)
            #expect(
                try grow("fixed", to: 4, assignments: [[0, 0]], on: connection).errorCode == .invalidReplicaAssignment)
            #expect(try grow("fixed", to: 9, on: connection).errorCode == .invalidPartitions)
            #expect(try grow("fixed", to: 4, validateOnly: true, on: connection).errorCode == .noError)
            #expect(try partitionCount("fixed", on: connection) == 3)
            #expect(try grow("fixed", to: 4, assignments: [[0]], on: connection).errorCode == .noError)
            #expect(try partitionCount("fixed", on: connection) == 4)
            // 4 held by "fixed", 6 by "other": two more reach max.partitions=12, a third passes it.
            try createTopic("other", partitions: 6, on: connection)
            let over = try grow("fixed", to: 7, on: connection)
            #expect(over.errorCode == .policyViolation)
            #expect(over.errorMessage?.contains("max.partitions=12") == true)
            #expect(try partitionCount("fixed", on: connection) == 4)
            let twice = try connection.roundTrip(
                CreatePartitionsRequest(topics: [.init(name: "fixed", count: 5), .init(name: "fixed", count: 6)]),
                version: 3)
            #expect(twice.results.map(\.errorCode) == [.invalidRequest, .invalidRequest])
            #expect(broker.broker.partitionCount == 10)
        }
    }

    @Test func createTopicsHonoursAnAssignmentToThisBrokerOnly() async throws {
        try await withBroker(settings: ["node.id": "3"]) { broker in
            let connection = try broker.connect()
            typealias Assignment = CreateTopicsRequest.Assignment
            let response = try connection.roundTrip(
                CreateTopicsRequest(topics: [
                    .init(
                        name: "placed", numPartitions: -1, replicationFactor: -1,
                        assignments: [
                            Assignment(partitionIndex: 0, brokerIds: [3]),
                            Assignment(partitionIndex: 1, brokerIds: [3]),
                            Assignment(partitionIndex: 2, brokerIds: [3]),
                        ]),
                    .init(
                        name: "elsewhere", numPartitions: -1, replicationFactor: -1,
                        assignments: [Assignment(partitionIndex: 0, brokerIds: [3, 4])]),
                    .init(
                        name: "gappy", numPartitions: -1, replicationFactor: -1,
                        assignments: [Assignment(partitionIndex: 1, brokerIds: [3])]),
                    .init(
                        name: "contradictory", numPartitions: 5, replicationFactor: 1,
                        assignments: [Assignment(partitionIndex: 0, brokerIds: [3])]),
                ]), version: 7)
            let byName = Dictionary(uniqueKeysWithValues: response.topics.map { ($0.name, $0) })
            #expect(byName["placed"]?.errorCode == .noError)
            #expect(byName["placed"]?.numPartitions == 3)
            #expect(byName["elsewhere"]?.errorCode == .invalidReplicaAssignment)
            #expect(byName["elsewhere"]?.errorMessage?.contains("broker 4") == true)
            #expect(byName["gappy"]?.errorCode == .invalidReplicaAssignment)
            #expect(byName["contradictory"]?.errorCode == .invalidRequest)
            #expect(try partitionCount("placed", on: connection) == 3)
            #expect(broker.broker.topics.topic("elsewhere") == nil)
        }
    }

    @Test func partitionsLeftByAnInterruptedGrowthAreAdoptedOrRemovedAtStartup() async throws {
        let first = try await TestBroker()
        try first.broker.createTopic("adopted", partitions: 2)
        try first.broker.addPartitions(to: "adopted", count: 4)
        try first.broker.createTopic("stray", partitions: 2)
        try first.broker.addPartitions(to: "stray", count: 4)
        try await first.stop(keepingData: true)
        // What a crash between creating the directories and saving the count leaves: the registry still
        // has the old count. For "stray" the partition in between is missing too, so 3 is not next in line.
        let path = first.directory + "/" + TopicRegistry.fileName
        var stored = try JSONDecoder().decode([TopicMetadata].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        for index in stored.indices { stored[index].partitionCount = 2 }
        try JSONEncoder().encode(stored).write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: first.directory + "/stray-2")

        let second = try await TestBroker(directory: first.directory)
        #expect(second.broker.topics.topic("adopted")?.partitionCount == 4)
        #expect(second.broker.log("adopted", 3) != nil)
        #expect(second.broker.topics.topic("stray")?.partitionCount == 2)
        #expect(second.broker.log("stray", 3) == nil)
        #expect(!FileManager.default.fileExists(atPath: second.directory + "/stray-3"))
        try await second.stop()
    }

    func deleteRecords(
        _ topic: String, _ offsets: [Int32: Int64], version: Int16 = 2, on connection: RawKafkaConnection
    ) throws -> [Int32: DeleteRecordsResponse.Partition] {
        let response = try connection.roundTrip(
            DeleteRecordsRequest(topics: [
                .init(
                    name: topic,
                    partitions: offsets.sorted { $0.key < $1.key }.map {
                        .init(partitionIndex: $0.key, offset: $0.value)
                    }
                )
            ]), version: version)
        return Dictionary(
            uniqueKeysWithValues: (response.topics.first?.partitions ?? []).map { ($0.partitionIndex, $0) })
    }

    @Test(arguments: [Int16(0), 2])
    func deleteRecordsMovesTheLogStartOffsetForGood(version: Int16) async throws {
        let first = try await TestBroker(settings: ["log.segment.bytes": "200"])
        let connection = try first.connect()
        try createTopic("trimmed", partitions: 2, on: connection)
        for index in 0..<10 {
            _ = try connection.roundTrip(produce("trimmed", try batch(["record-\(index)"])), version: 9)
        }
        let segmentsBefore = try #require(first.broker.log("trimmed", 0)).segmentCount
        let results = try deleteRecords("trimmed", [0: 6, 1: 0], version: version, on: connection)
        #expect(results[0]?.errorCode == .noError)
        #expect(results[0]?.lowWatermark == 6)
        #expect(results[1]?.lowWatermark == 0)
        #expect(try #require(first.broker.log("trimmed", 0)).segmentCount < segmentsBefore)
        #expect(try earliest("trimmed", partition: 0, on: connection) == 6)
        let below = try connection.roundTrip(fetch("trimmed", partition: 0, offset: 2), version: 12)
        #expect(below.first.errorCode == .offsetOutOfRange)
        #expect(below.first.logStartOffset == 6)
        #expect(
            try connection.roundTrip(fetch("trimmed", partition: 0, offset: 6), version: 12).values.first == "record-6")
        // Lower than the start changes nothing; past the high watermark is out of range.
        #expect(try deleteRecords("trimmed", [0: 3], on: connection)[0]?.lowWatermark == 6)
        let beyond = try deleteRecords("trimmed", [0: 11], on: connection)[0]
        #expect(beyond?.errorCode == .offsetOutOfRange)
        #expect(beyond?.lowWatermark == -1)
        #expect(try deleteRecords("trimmed", [7: 0], on: connection)[7]?.errorCode == .unknownTopicOrPartition)
        #expect(try deleteRecords("nowhere", [0: 0], on: connection)[0]?.errorCode == .unknownTopicOrPartition)
        _ = try connection.roundTrip(produce("trimmed", try batch(["late"]), partition: 1), version: 9)
        // -1 is the high watermark: everything written so far.
        #expect(try deleteRecords("trimmed", [1: -1], on: connection)[1]?.lowWatermark == 1)
        try await first.stop(keepingData: true)

        let second = try await TestBroker(directory: first.directory)
        let reconnected = try second.connect()
        #expect(try earliest("trimmed", partition: 0, on: reconnected) == 6)
        #expect(try earliest("trimmed", partition: 1, on: reconnected) == 1)
        try await second.stop()
    }

    @Test func theCheckpointHoldsTheNewStartBeforeTheAnswer() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            for index in 0..<3 { _ = try connection.roundTrip(produce("saved", try batch(["r\(index)"])), version: 9) }
            #expect(try deleteRecords("saved", [0: 2], on: connection)[0]?.lowWatermark == 2)
            // Read the checkpoint as the next start would, without a clean shutdown in between.
            var report = RecoveryReport()
            let entries = LogManager.readCheckpoint(directory: broker.directory, report: &report)
            #expect(entries[TopicPartition("saved", 0)]?.logStartOffset == 2)
        }
    }
}
