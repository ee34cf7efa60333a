import Foundation
import NIOCore
import SkeinLog
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// Partition bounds (per topic, per request, in total) and CreateTopics off the event loop (issue #10).
@Suite(.serialized) struct PartitionLimitTests {
    func partitionDirectories(_ directory: String, topic: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            TopicPartition(directoryName: $0)?.topic == topic
        }
    }

    func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// The fuzzer's request, byte for byte: CreateTopics v4 for topic `big` with 100,000 partitions.
    static let fuzzerRequest: [UInt8] = {
        let hex = "0000002a0013000400000005000472656c69000000010003626967000186a0000100000000000000000000753000"
        return stride(from: 0, to: hex.count, by: 2).map {
            let start = hex.index(hex.startIndex, offsetBy: $0)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
    }()

    @Test func theFuzzersHugeCreateTopicsIsRefusedWithAMessageAndCreatesNothing() async throws {
        try await withBroker { test in
            let connection = try test.connect()
            connection.send(Self.fuzzerRequest)
            let response = try connection.receive(CreateTopicsRequest.self, version: 4)
            let topic = try #require(response.topics.first)
            #expect(topic.name == "big")
            #expect(topic.errorCode == .invalidPartitions)
            #expect(topic.errorMessage?.contains("max.partitions.per.topic") == true)
            #expect(test.broker.topics.topic("big") == nil)
            #expect(partitionDirectories(test.directory, topic: "big").isEmpty)

            let asked = try connection.roundTrip(
                CreateTopicsRequest(topics: [.init(name: "big2", numPartitions: 65_535, replicationFactor: 1)]),
                version: 7)
            #expect(asked.topics.first?.errorCode == .invalidPartitions)
            #expect(partitionDirectories(test.directory, topic: "big2").isEmpty)
            // Still serving, on this connection and a new one.
            #expect(try connection.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(try test.connect().roundTrip(MetadataRequest(topics: nil), version: 9).brokers.count == 1)
        }
    }

    @Test func partitionsAreBoundedPerRequestAndInTotalAutoCreatedTopicsIncluded() async throws {
        let settings = [
            "max.partitions.per.topic": "8", "max.partitions.per.request": "10", "max.partitions": "15",
            "num.partitions": "2",
        ]
        try await withBroker(settings: settings) { test in
            let connection = try test.connect()
            let tooMany = try connection.roundTrip(
                CreateTopicsRequest(topics: [.init(name: "nine", numPartitions: 9, replicationFactor: 1)]), version: 7)
            #expect(tooMany.topics.first?.errorCode == .invalidPartitions)

            let pair = try connection.roundTrip(
                CreateTopicsRequest(topics: [
                    .init(name: "six", numPartitions: 6, replicationFactor: 1),
                    .init(name: "five", numPartitions: 5, replicationFactor: 1),
                ]), version: 7)
            #expect(pair.topics.map(\.errorCode) == [.noError, .policyViolation])
            #expect(pair.topics[1].errorMessage?.contains("max.partitions.per.request=10") == true)
            #expect(test.broker.partitionCount == 6)

            let fits = try connection.roundTrip(
                CreateTopicsRequest(topics: [.init(name: "seven", numPartitions: 7, replicationFactor: 1)]),
                version: 7)
            #expect(fits.topics.first?.errorCode == .noError)
            #expect(test.broker.partitionCount == 13)

            let validated = try connection.roundTrip(
                CreateTopicsRequest(
                    topics: [.init(name: "three", numPartitions: 3, replicationFactor: 1)], validateOnly: true),
                version: 7)
            #expect(validated.topics.first?.errorCode == .policyViolation)
            #expect(validated.topics.first?.errorMessage?.contains("max.partitions=15") == true)

            // Auto-creation (num.partitions=2) counts too: 13 + 2 fits, the next one does not.
            let auto = try connection.roundTrip(
                MetadataRequest(topics: [.init(name: "auto1"), .init(name: "auto2")], allowAutoTopicCreation: true),
                version: 9)
            let codes = Dictionary(uniqueKeysWithValues: auto.topics.map { ($0.name ?? "", $0.errorCode) })
            #expect(codes["auto1"] == .noError)
            #expect(codes["auto2"] != .noError)
            #expect(test.broker.partitionCount == 15)
            #expect(test.broker.topics.topic("auto2") == nil)
            #expect(partitionDirectories(test.directory, topic: "auto2").isEmpty)
        }
    }

    @Test func aLargeCreateTopicsLeavesOtherClientsServedAndTheDirectoryReopens() async throws {
        let test = try await TestBroker()
        let directory = test.directory
        let partitions: Int32 = 2_000
        let creator = try test.connect()
        let bystander = try test.connect()
        #expect(try bystander.roundTrip(produce("warm", try batch(["w"])), version: 9).first.errorCode == .noError)

        let started = monotonicSeconds()
        creator.send(
            try creator.frame(
                CreateTopicsRequest(
                    topics: [.init(name: "wide", numPartitions: partitions, replicationFactor: 1)], timeoutMs: 120_000),
                version: 7))
        // The bystander keeps asking while the creation runs; every answer must come quickly.
        var latencies: [Double] = []
        var sawCreationRunning = false
        for round in 0..<20_000 {
            if test.broker.topics.topic("wide") != nil || monotonicSeconds() - started > 120 { break }
            let asked = monotonicSeconds()
            if round % 2 == 0 {
                #expect(try bystander.roundTrip(MetadataRequest(topics: nil), version: 9).brokers.count == 1)
            } else {
                let produced = try bystander.roundTrip(produce("warm", try batch(["r\(round)"])), version: 9)
                #expect(produced.first.errorCode == .noError)
            }
            latencies.append(monotonicSeconds() - asked)
            if !partitionDirectories(directory, topic: "wide").isEmpty && test.broker.topics.topic("wide") == nil {
                sawCreationRunning = true
            }
        }
        var response: CreateTopicsResponse?
        for _ in 0..<12 where response == nil {  // receive waits up to 10 s per try
            response = try? creator.receive(CreateTopicsRequest.self, version: 7)
        }
        let elapsed = monotonicSeconds() - started
        let created = try #require(response?.topics.first)
        #expect(created.errorCode == .noError)
        #expect(created.numPartitions == partitions)
        #expect(sawCreationRunning, "the bystander was never answered while partitions were being created")
        let sorted = latencies.sorted()
        let worst = sorted.last ?? .infinity
        print(
            "CreateTopics of \(partitions) partitions took \(String(format: "%.2f", elapsed)) s; bystander: \(latencies.count) requests, p50 \(String(format: "%.1f", sorted[sorted.count / 2] * 1000)) ms, max \(String(format: "%.1f", worst * 1000)) ms"
        )
        // Before the fix every bystander request waited for the whole creation.
        #expect(worst < min(2.0, elapsed / 2), "a bystander request waited \(worst) s of \(elapsed) s")
        #expect(partitionDirectories(directory, topic: "wide").count == Int(partitions))

        try await test.stop(keepingData: true)
        let reopened = try await TestBroker(directory: directory)
        #expect(reopened.broker.topics.topic("wide")?.partitionCount == partitions)
        #expect(reopened.broker.logs.topicPartitions.filter { $0.topic == "wide" }.count == Int(partitions))
        let connection = try reopened.connect()
        #expect(
            try connection.roundTrip(produce("wide", try batch(["last"]), partition: partitions - 1), version: 9)
                .first.errorCode == .noError)
        try await reopened.stop()
    }

    @Test func aTopicLeftHalfCreatedByAnUnboundedRequestIsTrimmedToItsPartitionsAtStartup() async throws {
        let first = try await TestBroker()
        let directory = first.directory
        try first.broker.createTopic("big", partitions: 3)
        try first.broker.createTopic("fine", partitions: 2)
        try await first.stop(keepingData: true)
        // What the broker before the bounds left: the registry promises far more than was ever created.
        let path = directory + "/" + TopicRegistry.fileName
        var stored = try JSONDecoder().decode([TopicMetadata].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        for index in stored.indices where stored[index].name == "big" { stored[index].partitionCount = 100_000 }
        stored.append(
            TopicMetadata(name: "ghost", partitionCount: 65_535, configs: [:], topicId: UUID(), createdAtMs: 0))
        try JSONEncoder().encode(stored).write(to: URL(fileURLWithPath: path))

        let reopened = try await TestBroker(directory: directory)
        #expect(reopened.broker.topics.topic("big")?.partitionCount == 3)
        #expect(reopened.broker.topics.topic("fine")?.partitionCount == 2)
        #expect(reopened.broker.topics.topic("ghost") == nil)
        #expect(partitionDirectories(directory, topic: "big").count == 3)
        #expect(partitionDirectories(directory, topic: "ghost").isEmpty)
        let connection = try reopened.connect()
        #expect(
            try connection.roundTrip(produce("big", try batch(["still here"]), partition: 2), version: 9).first
                .errorCode == .noError)
        try await reopened.stop()
    }

    @Test func theBrokersOwnFilesAreNotReportedAsStrangersAfterAnUncleanStop() throws {
        let directory = NSTemporaryDirectory() + "skein-owned-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/.groups", withIntermediateDirectories: true)
        for name in ["topics.json", "producer-ids", "producer-state.json", "stranger"] {
            #expect(FileManager.default.createFile(atPath: directory + "/" + name, contents: Data("x".utf8)))
        }
        // No clean-shutdown marker: this is what an unclean stop leaves.
        let manager = try LogManager.open(directory: directory, ownedEntries: Broker.ownedEntries)
        #expect(!manager.recoveryReport.cleanShutdown)
        #expect(manager.recoveryReport.repairs.count == 1)
        #expect(manager.recoveryReport.repairs.first?.contains("stranger") == true)
        try manager.shutdown()
    }
}
