import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// DescribeCluster, DescribeLogDirs, DescribeProducers, and the topic configs that are accepted without
/// an effect on a single node.
@Suite(.serialized) struct AdminDescribeTests {
    @Test(arguments: [Int16(0), 1, 2])
    func describeClusterNamesThisBrokerAsTheWholeCluster(version: Int16) async throws {
        try await withBroker(settings: ["node.id": "5", "cluster.id": "test-cluster"]) { broker in
            let connection = try broker.connect()
            let response = try connection.roundTrip(DescribeClusterRequest(), version: version)
            #expect(response.errorCode == .noError)
            #expect(response.clusterId == "test-cluster")
            #expect(response.controllerId == 5)
            #expect(response.brokers.map(\.brokerId) == [5])
            #expect(response.brokers.first?.port == Int32(broker.port))
            if version >= 1 {
                let controllers = try connection.roundTrip(
                    DescribeClusterRequest(endpointType: DescribeClusterRequest.controllersEndpointType),
                    version: version)
                #expect(controllers.errorCode == .mismatchedEndpointType)
                #expect(controllers.brokers.isEmpty)
            }
        }
    }

    @Test(arguments: [Int16(1), 4])
    func describeLogDirsGivesEachPartitionsSizeInTheDataDirectory(version: Int16) async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            _ = try connection.roundTrip(produce("sized", try batch(["some bytes", "more bytes"])), version: 9)
            let all = try connection.roundTrip(DescribeLogDirsRequest(topics: nil), version: version)
            let directory = try #require(all.results.first)
            #expect(all.results.count == 1)
            #expect(directory.errorCode == .noError)
            #expect(directory.logDir == URL(fileURLWithPath: broker.directory).standardizedFileURL.path)
            let partition = try #require(directory.topics.first { $0.name == "sized" }?.partitions.first)
            #expect(partition.partitionSize == broker.broker.log("sized", 0)?.sizeInBytes)
            #expect(partition.partitionSize > 0)
            #expect(partition.offsetLag == 0)
            #expect(!partition.isFutureKey)
            if version >= 4 {
                #expect(directory.totalBytes > 0)
                #expect(directory.usableBytes >= 0)
            }
            let some = try connection.roundTrip(
                DescribeLogDirsRequest(topics: [.init(topic: "sized", partitions: [0, 9])]), version: version)
            #expect(some.results.first?.topics.map(\.name) == ["sized"])
            #expect(some.results.first?.topics.first?.partitions.map(\.partitionIndex) == [0])
        }
    }

    @Test func describeProducersListsTheIdempotentProducersOfAPartition() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            let identity = try connection.roundTrip(InitProducerIdRequest(transactionTimeoutMs: -1), version: 4)
            let pid = identity.producerId
            _ = try connection.roundTrip(
                produce("tracked", try batch(["a", "b", "c"], producerId: pid, epoch: 0, sequence: 0), acks: -1),
                version: 9)
            _ = try connection.roundTrip(
                produce("tracked", try batch(["d"], producerId: pid, epoch: 0, sequence: 3), acks: -1), version: 9)
            _ = try connection.roundTrip(produce("tracked", try batch(["plain"])), version: 9)
            let response = try connection.roundTrip(
                DescribeProducersRequest(topics: [.init(name: "tracked", partitionIndexes: [0, 4])]), version: 0)
            let partitions = try #require(response.topics.first?.partitions)
            #expect(partitions.count == 2)
            #expect(partitions[0].errorCode == .noError)
            let producer = try #require(partitions[0].activeProducers.first)
            #expect(partitions[0].activeProducers.count == 1)
            #expect(producer.producerId == pid)
            #expect(producer.producerEpoch == 0)
            #expect(producer.lastSequence == 3)
            #expect(producer.lastTimestamp == -1)
            #expect(producer.coordinatorEpoch == -1)
            #expect(producer.currentTxnStartOffset == -1)
            #expect(partitions[1].errorCode == .unknownTopicOrPartition)
        }
    }

    static let ignoredSettings: [(String, String)] = [
        ("message.format.version", "0.10.0"), ("unclean.leader.election.enable", "true"),
        ("follower.replication.throttled.replicas", "0:0,1:0"), ("leader.replication.throttled.replicas", "*"),
        ("message.downconversion.enable", "false"), ("preallocate", "true"), ("file.delete.delay.ms", "1000"),
        ("flush.messages", "100"), ("min.compaction.lag.ms", "5"), ("max.compaction.lag.ms", "600000"),
        ("min.cleanable.dirty.ratio", "0.25"), ("delete.retention.ms", "1000"), ("segment.jitter.ms", "10"),
        ("message.timestamp.difference.max.ms", "3600000"), ("remote.storage.enable", "false"),
    ]

    @Test func topicConfigsWithoutEffectHereAreAcceptedStoredAndDescribed() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            let created = try connection.roundTrip(
                CreateTopicsRequest(topics: [
                    .init(
                        name: "legacy", numPartitions: 1, replicationFactor: 1,
                        configs: [.init(name: "message.format.version", value: "2.8-IV1")])
                ]), version: 7)
            #expect(created.topics.first?.errorCode == .noError)
            let altered = try connection.roundTrip(
                AlterConfigsRequest(resources: [
                    .init(
                        resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "legacy",
                        configs: Self.ignoredSettings.map { .init(name: $0.0, value: $0.1) })
                ]), version: 1)
            #expect(altered.responses.first?.errorCode == .noError)
            let described = try connection.roundTrip(
                DescribeConfigsRequest(resources: [
                    .init(resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "legacy")
                ]), version: 4)
            let values = Dictionary(
                uniqueKeysWithValues: (described.results.first?.configs ?? []).map { ($0.name, $0) })
            for (name, value) in Self.ignoredSettings {
                #expect(values[name]?.value == value, "\(name)")
                #expect(values[name]?.configSource == 1, "\(name)")
            }
            #expect(values["segment.jitter.ms"] != nil)
            #expect(values["compression.zstd.level"]?.value == "3")
            #expect(values["compression.zstd.level"]?.configSource == 5)

            for (name, value) in [
                ("message.format.version", "latest"), ("preallocate", "maybe"), ("min.cleanable.dirty.ratio", "2"),
                ("leader.replication.throttled.replicas", "0-1"), ("no.such.config", "1"),
            ] {
                let refused = try connection.roundTrip(
                    IncrementalAlterConfigsRequest(resources: [
                        .init(
                            resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "legacy",
                            configs: [
                                .init(
                                    name: name, configOperation: IncrementalAlterConfigsRequest.setOperation,
                                    value: value)
                            ])
                    ]), version: 1)
                #expect(refused.responses.first?.errorCode == .invalidConfig, "\(name)=\(value)")
            }
            let appended = try connection.roundTrip(
                IncrementalAlterConfigsRequest(resources: [
                    .init(
                        resourceType: DescribeConfigsRequest.topicResourceType, resourceName: "legacy",
                        configs: [
                            .init(
                                name: "follower.replication.throttled.replicas",
                                configOperation: IncrementalAlterConfigsRequest.appendOperation, value: "2:0")
                        ])
                ]), version: 1)
            #expect(appended.responses.first?.errorCode == .noError)
            #expect(
                broker.broker.topics.topic("legacy")?.configs["follower.replication.throttled.replicas"]
                    == "0:0,1:0,2:0")
        }
    }
}
