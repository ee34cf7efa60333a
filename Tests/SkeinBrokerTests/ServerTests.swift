import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker

func batch(_ values: [String], producerId: Int64 = -1, epoch: Int16 = -1, sequence: Int32 = -1) throws -> ByteBuffer {
    let records = values.enumerated().map { index, value in
        Record(timestampDelta: Int64(index), offsetDelta: Int32(index), key: nil, value: ByteBuffer(string: value))
    }
    return try RecordBatch.encode(
        records: records, baseTimestamp: 1_700_000_000_000, producerId: producerId, producerEpoch: epoch,
        baseSequence: sequence)
}

func produce(_ topic: String, _ records: ByteBuffer, acks: Int16 = 1, partition: Int32 = 0) -> ProduceRequest {
    ProduceRequest(
        acks: acks, timeoutMs: 5000,
        topics: [.init(name: topic, partitions: [.init(index: partition, records: records)])])
}

func fetch(_ topic: String, offset: Int64, maxWaitMs: Int32 = 0) -> FetchRequest {
    FetchRequest(
        maxWaitMs: maxWaitMs, minBytes: 1,
        topics: [
            .init(topic: topic, partitions: [.init(partition: 0, fetchOffset: offset, partitionMaxBytes: 1 << 20)])
        ])
}

extension ProduceResponse {
    var first: ProduceResponse.Partition { topics[0].partitions[0] }
}

extension FetchResponse {
    var first: FetchResponse.Partition { topics[0].partitions[0] }

    var values: [String] {
        guard case .bytes(let records) = first.records, let batches = try? RecordBatch.readAll(from: records) else {
            return []
        }
        return batches.flatMap { (try? $0.records()) ?? [] }.map { String(buffer: $0.value ?? ByteBuffer()) }
    }
}

@Suite(.serialized) struct ServerTests {
    @Test func apiVersionsListsOnlyWhatIsImplementedInEveryVersion() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            for version: Int16 in 0...4 {
                let response = try connection.roundTrip(
                    ApiVersionsRequest(clientSoftwareName: "t", clientSoftwareVersion: "1"), version: version)
                #expect(response.errorCode == .noError)
                #expect(Set(response.apiKeys.map(\.apiKey)) == Set(RequestRouter.implemented.map(\.rawValue)))
                let produce = try #require(response.apiKeys.first { $0.apiKey == ApiKey.produce.rawValue })
                #expect(produce.minVersion == 0 && produce.maxVersion == 9)
            }
        }
    }

    @Test func aTooNewApiVersionsGetsTheV0ErrorWithOurRanges() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            var frame = ByteBuffer()
            frame.writeInteger(Int32(0))
            frame.writeInteger(Int16(18))
            frame.writeInteger(Int16(9))
            frame.writeInteger(Int32(77))
            frame.writeInteger(Int16(1))
            frame.writeString("x")
            frame.writeInteger(UInt8(0))  // header tagged fields
            frame.writeBytes([0, 0, 0])  // a body we cannot know the layout of
            frame.setInteger(Int32(frame.readableBytes - 4), at: 0)
            connection.send(frame)
            let payload = try #require(connection.receiveFrame())
            let (header, response) = try ResponseFrame.decode(payload: payload, apiKey: .apiVersions, version: 0)
            #expect(header.correlationId == 77)
            guard case .apiVersions(let versions) = response else { Issue.record("not ApiVersions"); return }
            #expect(versions.errorCode == .unsupportedVersion)
            #expect(versions.apiKeys.contains { $0.apiKey == ApiKey.apiVersions.rawValue && $0.maxVersion == 4 })
        }
    }

    @Test func unknownApiKeysAndUnsupportedVersionsCloseTheConnectionAfterEarlierAnswers() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            // An ApiVersions, then key 9999 pipelined behind it: the first is answered, then the close.
            var frames = try connection.frame(ApiVersionsRequest(), version: 3)
            frames.writeBytes([0, 0, 0, 10, 0x27, 0x0F, 0, 0, 0, 0, 0, 5, 0xFF, 0xFF])
            connection.send(frames)
            let answer = try #require(connection.receiveFrame())
            #expect(answer.getInteger(at: 0, as: Int32.self) == 1)
            #expect(connection.isClosedByPeer())
            let metadataV99 = try broker.connect()
            metadataV99.send([0, 0, 0, 11, 0, 3, 0, 99, 0, 0, 0, 6, 0xFF, 0xFF, 0])  // flexible header: tagged fields
            #expect(metadataV99.isClosedByPeer())
            #expect(try broker.connect().roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            let metrics = broker.broker.metrics.render()
            #expect(metrics.contains("skein_connections_closed_by_broker_total{reason=\"unsupported_request\"} 2"))
            #expect(metrics.contains("skein_requests_total{api=\"Unknown\",outcome=\"error\"} 1"))
        }
    }

    @Test(arguments: [
        ("oversized frame", [0x7F, 0xFF, 0xFF, 0xFF] as [UInt8]),
        ("negative frame size", [0xFF, 0xFF, 0xFF, 0xFE]),
        ("frame too short for a header", [0, 0, 0, 3, 1, 2, 3]),
        ("garbage body of a known API", [0, 0, 0, 12, 0, 3, 0, 5, 0, 0, 0, 1, 0, 0, 0x7F, 0xFF]),
    ])
    func malformedFramesCloseOnlyTheirConnection(name: String, bytes: [UInt8]) async throws {
        try await withBroker { broker in
            let bystander = try broker.connect()
            #expect(try bystander.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            let bad = try broker.connect()
            bad.send(bytes)
            #expect(bad.isClosedByPeer(), "\(name)")
            #expect(try bystander.roundTrip(MetadataRequest(topics: nil), version: 9).brokers.count == 1)
        }
    }

    @Test func badBatchesGetKafkaErrorCodesAndStoreNothing() async throws {
        try await withBroker(settings: ["message.max.bytes": "2000"]) { broker in
            let connection = try broker.connect()
            var corruptCRC = try batch(["a", "b"])
            corruptCRC.setInteger(UInt8(0xEE), at: corruptCRC.writerIndex - 1)
            var wrongMagic = try batch(["a"])
            wrongMagic.setInteger(Int8(3), at: 16)
            let oversized = try batch([String(repeating: "x", count: 3000)])
            let cases: [(String, ProduceRequest, ErrorCode)] = [
                ("bad CRC", produce("strict", corruptCRC), .corruptMessage),
                ("wrong magic", produce("strict", wrongMagic), .invalidRecord),
                ("oversized", produce("strict", oversized), .messageTooLarge),
                ("invalid topic name", produce("bad topic!", try batch(["a"])), .invalidTopicException),
                ("unknown partition", produce("strict", try batch(["a"]), partition: 7), .unknownTopicOrPartition),
            ]
            for (name, request, expected) in cases {
                let response = try connection.roundTrip(request, version: 9)
                #expect(response.first.errorCode == expected, "\(name)")
            }
            let good = try connection.roundTrip(produce("strict", try batch(["ok"])), version: 9)
            #expect(good.first.errorCode == .noError)
            #expect(good.first.baseOffset == 0)
            #expect(try connection.roundTrip(fetch("strict", offset: 0), version: 12).values == ["ok"])
        }
    }

    @Test func produceVersionsBeforeMessageFormatTwoAreRefused() async throws {
        try await withBroker { broker in
            let response = try broker.connect().roundTrip(produce("old", try batch(["a"])), version: 2)
            #expect(response.first.errorCode == .unsupportedVersion)
        }
    }

    @Test func idempotentRetriesAreAcknowledgedWithTheOriginalOffset() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            let identity = try connection.roundTrip(InitProducerIdRequest(transactionTimeoutMs: -1), version: 4)
            #expect(identity.errorCode == .noError)
            let pid = identity.producerId
            _ = try connection.roundTrip(produce("idem", try batch(["warm-up"])), version: 9)
            let first = try connection.roundTrip(
                produce("idem", try batch(["a", "b"], producerId: pid, epoch: 0, sequence: 0), acks: -1), version: 9)
            let retry = try connection.roundTrip(
                produce("idem", try batch(["a", "b"], producerId: pid, epoch: 0, sequence: 0), acks: -1), version: 9)
            #expect(first.first.errorCode == .noError)
            #expect(retry.first.errorCode == .noError)
            #expect(retry.first.baseOffset == first.first.baseOffset)
            let gap = try connection.roundTrip(
                produce("idem", try batch(["c"], producerId: pid, epoch: 0, sequence: 5)), version: 9)
            #expect(gap.first.errorCode == .outOfOrderSequenceNumber)
            #expect(try connection.roundTrip(fetch("idem", offset: 0), version: 12).values == ["warm-up", "a", "b"])
        }
    }

    @Test func aFetchAtTheEndWaitsAndReturnsAsSoonAsDataArrives() async throws {
        try await withBroker { broker in
            let setup = try broker.connect()
            _ = try setup.roundTrip(produce("waiting", try batch(["first"])), version: 9)
            let consumer = try broker.connect()
            consumer.send(try consumer.frame(fetch("waiting", offset: 1, maxWaitMs: 30_000), version: 12))
            // Produce only once the fetch is parked, so the answer must come from the wake-up, not the first read.
            #expect(eventually { broker.broker.purgatory.waitingCount == 1 })
            _ = try setup.roundTrip(produce("waiting", try batch(["second"])), version: 9)
            let response = try consumer.receive(FetchRequest.self, version: 12)
            #expect(response.values == ["second"])
            #expect(response.first.highWatermark == 2)
        }
    }

    @Test func fetchBeyondTheEndIsOffsetOutOfRange() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            _ = try connection.roundTrip(produce("range", try batch(["a"])), version: 9)
            let response = try connection.roundTrip(fetch("range", offset: 5), version: 12)
            #expect(response.first.errorCode == .offsetOutOfRange)
            #expect(response.first.highWatermark == 1)
            #expect(response.first.logStartOffset == 0)
        }
    }

    @Test func acksZeroGetsNoResponseAndLaterResponsesStayInOrder() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            var frame = ByteBuffer()
            try RequestFrame.encode(
                produce("quiet", try batch(["silent"]), acks: 0), version: 9, correlationId: 900, clientId: nil,
                into: &frame)
            connection.send(frame)
            // The next response on the connection belongs to the next request, not the acks=0 produce.
            let metadata = try connection.roundTrip(MetadataRequest(topics: [.init(name: "quiet")]), version: 12)
            #expect(metadata.topics.first?.errorCode == .noError)
            // The acks=0 produce ran before the Metadata request on the same connection, so it is already in.
            #expect(try connection.roundTrip(fetch("quiet", offset: 0), version: 12).values == ["silent"])
        }
    }

    @Test func committedOffsetsComeBackWithMetadataAndGiveTheLag() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            _ = try connection.roundTrip(produce("lagging", try batch(["a", "b", "c", "d", "e"])), version: 9)
            let commit = OffsetCommitRequest(
                groupId: "readers",
                topics: [
                    .init(
                        name: "lagging",
                        partitions: [.init(partitionIndex: 0, committedOffset: 2, committedMetadata: "checkpoint")])
                ])
            let committed = try connection.roundTrip(commit, version: 8)
            #expect(committed.topics.first?.partitions.first?.errorCode == .noError)
            let unknown = try connection.roundTrip(
                OffsetCommitRequest(
                    groupId: "readers",
                    topics: [.init(name: "missing", partitions: [.init(partitionIndex: 0, committedOffset: 1)])]),
                version: 8)
            #expect(unknown.topics.first?.partitions.first?.errorCode == .unknownTopicOrPartition)
            let fetched = try connection.roundTrip(
                OffsetFetchRequest(groups: [
                    .init(groupId: "readers", topics: [.init(name: "lagging", partitionIndexes: [0, 1])])
                ]), version: 8)
            let partitions = try #require(fetched.groups.first?.topics.first?.partitions)
            #expect(partitions.first?.committedOffset == 2)
            #expect(partitions.first?.metadata == "checkpoint")
            #expect(partitions.last?.committedOffset == -1)
            #expect(broker.broker.consumerLag(groupId: "readers").map(\.lag) == [3])
            let listed = try connection.roundTrip(ListGroupsRequest(), version: 4)
            #expect(listed.groups.map(\.groupId) == ["readers"])
            #expect(listed.groups.first?.groupState == "Empty")
        }
    }

    @Test func requestsPipelinedBehindAPendingJoinGroupWaitForIt() async throws {
        try await withBroker(settings: ["group.initial.rebalance.delay.ms": "0"]) { broker in
            func join(_ memberId: String) -> JoinGroupRequest {
                JoinGroupRequest(
                    groupId: "held", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, memberId: memberId,
                    protocolType: "consumer", protocols: [.init(name: "range", metadata: ByteBuffer())])
            }
            let first = try broker.connect()
            let firstId = try first.roundTrip(join(""), version: 7).memberId
            let generation = try first.roundTrip(join(firstId), version: 7).generationId
            _ = try first.roundTrip(
                SyncGroupRequest(
                    groupId: "held", generationId: generation, memberId: firstId,
                    assignments: [.init(memberId: firstId, assignment: ByteBuffer())]),
                version: 5)

            // The second member's join waits for the first to rejoin; a Metadata request pipelined behind it
            // (it would auto-create its topic) must not run before the join is answered, as in Kafka.
            let second = try broker.connect()
            let secondId = try second.roundTrip(join(""), version: 7).memberId
            var frames = try second.frame(join(secondId), version: 7)
            var metadata = try second.frame(MetadataRequest(topics: [.init(name: "created-after-join")]), version: 12)
            frames.writeBuffer(&metadata)
            second.send(frames)
            #expect(eventually { broker.broker.groups.describe("held").state == .preparingRebalance })
            #expect(eventually { broker.broker.groups.describe("held").members.count == 2 })
            #expect(broker.broker.topics.topic("created-after-join") == nil)

            #expect(try first.roundTrip(join(firstId), version: 7).generationId == generation + 1)
            #expect(try second.receive(JoinGroupRequest.self, version: 7).generationId == generation + 1)
            #expect(try second.receive(MetadataRequest.self, version: 12).topics.first?.errorCode == .noError)
            #expect(broker.broker.topics.topic("created-after-join") != nil)
        }
    }

    @Test func topicsAndTheirRecordsSurviveARestart() async throws {
        let first = try await TestBroker()
        let directory = first.directory
        let connection = try first.connect()
        let created = try connection.roundTrip(
            CreateTopicsRequest(topics: [
                .init(
                    name: "kept", numPartitions: 3, replicationFactor: 1,
                    configs: [.init(name: "retention.ms", value: "3600000")])
            ]),
            version: 7)
        #expect(created.topics.first?.errorCode == .noError)
        _ = try connection.roundTrip(produce("kept", try batch(["x", "y"]), acks: -1), version: 9)
        try await first.server.close()
        first.broker.shutdown()
        try await first.group.shutdownGracefully()

        var config = BrokerConfig()
        config.dataDirectory = directory
        let reopened = try Broker(config: config)
        defer { reopened.shutdown(); try? FileManager.default.removeItem(atPath: directory) }
        #expect(reopened.topics.topic("kept")?.partitionCount == 3)
        #expect(reopened.topics.topic("kept")?.configs == ["retention.ms": "3600000"])
        #expect(reopened.log("kept", 0)?.logEndOffset == 2)
        #expect(reopened.logs.recoveryReport.cleanShutdown)
    }
}

/// Runs `body` against a fresh broker and always stops it, pass or fail.
func withBroker(settings: [String: String] = [:], _ body: (TestBroker) async throws -> Void) async throws {
    let broker = try await TestBroker(settings: settings)
    do {
        try await body(broker)
    } catch {
        try await broker.stop()
        throw error
    }
    try await broker.stop()
}

func eventually(within seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}
