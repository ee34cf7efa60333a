import NIOCore
import SkeinProtocol
import Testing

/// Byte layouts written out by hand from the protocol guide and the message JSON specs, so a
/// symmetric bug in encoder and decoder cannot hide behind a passing round trip.
@Suite("Hand-checked byte fixtures")
struct FixtureTests {
    private func ascii(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func apiVersionsV0RequestFrame() throws {
        let expected: [UInt8] =
            [0, 0, 0, 14]  // frame size
            + [0, 18]  // api_key ApiVersions
            + [0, 0]  // api_version 0
            + [0, 0, 0, 1]  // correlation_id
            + [0, 4] + ascii("kcat")  // client_id, classic nullable string
        // v0 has no body fields.
        var wire = ByteBuffer()
        try RequestFrame.encode(ApiVersionsRequest(), version: 0, correlationId: 1, clientId: "kcat", into: &wire)
        #expect(bytesOf(wire) == expected)

        let payload = try #require(try FrameLength.readFrame(from: &wire))
        let frame = try RequestFrame.decode(payload: payload)
        #expect(frame.header == RequestHeader(api: .apiVersions, apiVersion: 0, correlationId: 1, clientId: "kcat"))
        #expect(frame.request == .apiVersions(ApiVersionsRequest()))
    }

    @Test func apiVersionsV3RequestFrame() throws {
        let header: [UInt8] =
            [0, 18, 0, 3, 0, 0, 0, 2]
            + [0, 7] + ascii("rdkafka")  // client_id stays a classic string in header v2
            + [0]  // header tagged fields
        let body: [UInt8] =
            [11] + ascii("librdkafka")  // compact string: length + 1
            + [6] + ascii("2.0.2")
            + [0]  // body tagged fields
        let expected: [UInt8] = [0, 0, 0, UInt8(header.count + body.count)] + header + body
        let request = ApiVersionsRequest(clientSoftwareName: "librdkafka", clientSoftwareVersion: "2.0.2")
        var wire = ByteBuffer()
        try RequestFrame.encode(request, version: 3, correlationId: 2, clientId: "rdkafka", into: &wire)
        #expect(bytesOf(wire) == expected)

        let payload = try #require(try FrameLength.readFrame(from: &wire))
        let frame = try RequestFrame.decode(payload: payload)
        #expect(frame.header.headerVersion == 2)
        #expect(frame.request == .apiVersions(request))
    }

    @Test func metadataV0RequestFrame() throws {
        let expected: [UInt8] =
            [0, 0, 0, 21]
            + [0, 3, 0, 0, 0, 0, 0, 3]
            + [0xFF, 0xFF]  // null client_id
            + [0, 0, 0, 1]  // one topic (int32 count)
            + [0, 5] + ascii("topic")
        var wire = ByteBuffer()
        try RequestFrame.encode(
            MetadataRequest(topics: [.init(name: "topic")]), version: 0, correlationId: 3, clientId: nil, into: &wire)
        #expect(bytesOf(wire) == expected)
    }

    @Test func flexibleRequestHeaderV2() throws {
        let header = RequestHeader(api: .metadata, apiVersion: 9, correlationId: 0x0102_0304, clientId: "c")
        var out = ByteBuffer()
        try header.encode(into: &out)
        #expect(bytesOf(out) == [0, 3, 0, 9, 1, 2, 3, 4, 0, 1, 0x63, 0])
        #expect(header.headerVersion == 2)
        #expect(try RequestHeader.decode(from: &out) == header)
        #expect(out.readableBytes == 0)

        let classic = RequestHeader(api: .metadata, apiVersion: 8, correlationId: 0x0102_0304, clientId: "c")
        var classicOut = ByteBuffer()
        try classic.encode(into: &classicOut)
        #expect(bytesOf(classicOut) == [0, 3, 0, 8, 1, 2, 3, 4, 0, 1, 0x63])
    }

    @Test func apiVersionsV3ResponseUsesHeaderV0() throws {
        let response = ApiVersionsResponse(apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        var wire = ByteBuffer()
        try ResponseFrame.encode(response, version: 3, correlationId: 5, into: &wire)
        let expected: [UInt8] =
            [0, 0, 0, 19]
            + [0, 0, 0, 5]  // correlation_id, and no header tagged fields
            + [0, 0]  // error_code
            + [2, 0, 18, 0, 0, 0, 4, 0]  // compact array of one entry with its tagged fields
            + [0, 0, 0, 0]  // throttle_time_ms
            + [0]  // tagged fields
        #expect(bytesOf(wire) == expected)
    }

    @Test func apiVersionsV0ResponseBody() throws {
        let response = ApiVersionsResponse(
            errorCode: .unsupportedVersion, apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        let body = try response.encoded(version: 0)
        #expect(bytesOf(body) == [0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4])
    }

    @Test func flexibleResponseHeaderV1() throws {
        var wire = ByteBuffer()
        try ResponseFrame.encode(HeartbeatResponse(), version: 4, correlationId: 9, into: &wire)
        // size, correlation id, header tagged fields, throttle, error, body tagged fields
        #expect(bytesOf(wire) == [0, 0, 0, 12, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func headerVersionTable() {
        #expect(ApiKey.apiVersions.requestHeaderVersion(3) == 2)
        #expect(ApiKey.apiVersions.responseHeaderVersion(3) == 0)
        #expect(ApiKey.apiVersions.responseHeaderVersion(4) == 0)
        #expect(ApiKey.produce.requestHeaderVersion(8) == 1)
        #expect(ApiKey.produce.requestHeaderVersion(9) == 2)
        #expect(ApiKey.produce.responseHeaderVersion(9) == 1)
        #expect(ApiKey.fetch.isFlexible(11) == false)
        #expect(ApiKey.fetch.isFlexible(12))
        // A newer client's ApiVersions request (v5) still has a readable v2 header.
        #expect(RequestHeader(apiKey: 18, apiVersion: 5, correlationId: 0, clientId: nil).headerVersion == 2)
        #expect(RequestHeader(apiKey: 999, apiVersion: 0, correlationId: 0, clientId: nil).headerVersion == 1)
    }

    @Test func advertisedRangesMatchTheDesign() {
        let table: [ApiKey: (ClosedRange<Int16>, Int16)] = [
            .produce: (0...9, 9), .fetch: (4...12, 12), .listOffsets: (1...7, 6), .metadata: (0...12, 9),
            .offsetCommit: (2...9, 8), .offsetFetch: (1...8, 6), .findCoordinator: (0...4, 3),
            .joinGroup: (0...7, 6), .heartbeat: (0...4, 4), .leaveGroup: (0...5, 4), .syncGroup: (0...5, 4),
            .describeGroups: (0...5, 5), .listGroups: (0...4, 3), .apiVersions: (0...4, 3),
            .createTopics: (2...7, 5), .deleteTopics: (1...6, 4), .initProducerId: (0...4, 2),
            .offsetForLeaderEpoch: (2...4, 4), .describeConfigs: (1...4, 4),
            .alterConfigs: (0...2, 2), .deleteGroups: (0...2, 2), .incrementalAlterConfigs: (0...1, 1),
            .offsetDelete: (0...0, 1), .addPartitionsToTxn: (0...3, 3), .addOffsetsToTxn: (0...3, 3),
            .endTxn: (0...3, 3), .txnOffsetCommit: (0...3, 3), .describeTransactions: (0...0, 0),
            .listTransactions: (0...1, 0),
            .deleteRecords: (0...2, 2), .describeLogDirs: (0...4, 2), .createPartitions: (0...3, 2),
            .describeCluster: (0...2, 0), .describeProducers: (0...0, 0),
            .describeAcls: (0...3, 2), .createAcls: (0...3, 2), .deleteAcls: (0...3, 2),
            .saslHandshake: (0...1, 2), .saslAuthenticate: (0...2, 2), .describeUserScramCredentials: (0...0, 0),
            .alterUserScramCredentials: (0...0, 0),
            .describeClientQuotas: (0...1, 1), .alterClientQuotas: (0...1, 1),
        ]
        #expect(Set(table.keys) == Set(ApiKey.allCases))
        for (api, (range, flexibleFrom)) in table {
            #expect(api.supportedVersions == range, "\(api)")
            #expect(api.firstFlexibleVersion == flexibleFrom, "\(api)")
        }
        #expect(ApiVersionsResponse.advertisedApiKeys.count == ApiKey.allCases.count)
    }

    @Test func unknownApiKeyIsReportedAfterTheHeader() throws {
        var payload = ByteBuffer()
        try RequestHeader(apiKey: 71, apiVersion: 0, correlationId: 8, clientId: nil).encode(into: &payload)
        #expect(throws: ProtocolError.unknownApiKey(71)) { _ = try RequestFrame.decode(payload: payload) }
        // The header alone still decodes, so the broker can log the correlation ID.
        #expect(try RequestHeader.decode(from: &payload).correlationId == 8)
    }

    @Test func frameLengthGuards() throws {
        var partial = buffer([0, 0, 0, 5, 1, 2])
        #expect(try FrameLength.readFrame(from: &partial) == nil)
        #expect(partial.readableBytes == 6)
        var short = buffer([0, 0])
        #expect(try FrameLength.readFrame(from: &short) == nil)
        var negative = buffer([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ProtocolError.invalidFrameSize(-1, maximum: FrameLength.defaultMaximum)) {
            _ = try FrameLength.readFrame(from: &negative)
        }
        var huge = buffer([0x10, 0, 0, 0])
        #expect(throws: ProtocolError.self) { _ = try FrameLength.readFrame(from: &huge, maximum: 1024) }
        var two = buffer([0, 0, 0, 1, 0xAA, 0, 0, 0, 0])
        #expect(try FrameLength.readFrame(from: &two).map(bytesOf) == [0xAA])
        #expect(try FrameLength.readFrame(from: &two).map(bytesOf) == [])
        #expect(two.readableBytes == 0)
    }
}
