import NIOCore
import SkeinProtocol
import Testing

struct VersionCase: CustomTestStringConvertible, Sendable {
    let api: ApiKey
    let version: Int16
    var testDescription: String { "\(api) v\(version)" }
}

let allVersionCases = Samples.allVersions.map { VersionCase(api: $0.0, version: $0.1) }

@Suite("Every supported version round-trips")
struct RoundTripTests {
    @Test("request", arguments: allVersionCases)
    func request(_ testCase: VersionCase) throws {
        let message = Samples.request(testCase.api, testCase.version)
        #expect(try roundTripMatches(message, version: testCase.version))
    }

    @Test("response", arguments: allVersionCases)
    func response(_ testCase: VersionCase) throws {
        let message = Samples.response(testCase.api, testCase.version)
        #expect(try roundTripMatches(message, version: testCase.version))
    }

    @Test("request frame through the KafkaRequest dispatch", arguments: allVersionCases)
    func requestFrame(_ testCase: VersionCase) throws {
        let message = Samples.request(testCase.api, testCase.version)
        var wire = ByteBuffer()
        try encodeRequestFrame(message, version: testCase.version, into: &wire)
        let payload = try #require(try FrameLength.readFrame(from: &wire))
        #expect(wire.readableBytes == 0)
        let frame = try RequestFrame.decode(payload: payload)
        #expect(frame.header.api == testCase.api)
        #expect(frame.header.apiVersion == testCase.version)
        #expect(frame.header.correlationId == 77)
        #expect(frame.header.clientId == "round-trip")
        #expect(frame.request.apiKey == testCase.api)
        let reencoded = try frame.request.message.encoded(version: testCase.version)
        #expect(reencoded == (try message.encoded(version: testCase.version)))
    }

    @Test("response frame with the right header version", arguments: allVersionCases)
    func responseFrame(_ testCase: VersionCase) throws {
        let message = Samples.response(testCase.api, testCase.version)
        var wire = ByteBuffer()
        try encodeResponseFrame(message, version: testCase.version, into: &wire)
        let payload = try #require(try FrameLength.readFrame(from: &wire))
        let (header, response) = try ResponseFrame.decode(
            payload: payload, apiKey: testCase.api, version: testCase.version)
        #expect(header.correlationId == 1234)
        #expect(response.apiKey == testCase.api)
        #expect(try response.message.encoded(version: testCase.version) == message.encoded(version: testCase.version))
    }

    @Test("versions outside the supported range are refused both ways")
    func unsupportedVersions() throws {
        for api in ApiKey.allCases {
            let tooNew = api.supportedVersions.upperBound + 1
            let request = Samples.request(api, api.supportedVersions.upperBound)
            #expect(throws: ProtocolError.unsupportedVersion(apiKey: api.rawValue, version: tooNew)) {
                _ = try request.encoded(version: tooNew)
            }
            var empty = ByteBuffer()
            #expect(throws: ProtocolError.self) {
                _ = try KafkaRequest.decode(apiKey: api, version: tooNew, from: &empty)
            }
        }
    }
}

private func encodeRequestFrame<M: KafkaRequestMessage>(_ message: M, version: Int16, into buffer: inout ByteBuffer)
    throws
{
    try RequestFrame.encode(message, version: version, correlationId: 77, clientId: "round-trip", into: &buffer)
}

private func encodeResponseFrame<M: KafkaResponseMessage>(_ message: M, version: Int16, into buffer: inout ByteBuffer)
    throws
{
    try ResponseFrame.encode(message, version: version, correlationId: 1234, into: &buffer)
}

@Suite("Version-specific semantics")
struct VersionSemanticsTests {
    @Test func metadataNullTopicsMeansAll() throws {
        for version in ApiKey.metadata.supportedVersions {
            let all = MetadataRequest(topics: nil, allowAutoTopicCreation: true)
            let (decoded, _, _) = try roundTrip(all, version: version)
            #expect(decoded.topics == nil, "v\(version)")
        }
        // v0 says "all topics" with an empty array, so it has no way to ask for none.
        let (v0, _, bytes) = try roundTrip(MetadataRequest(topics: nil), version: 0)
        #expect(v0.topics == nil)
        #expect(bytesOf(bytes) == [0, 0, 0, 0])
        #expect(throws: ProtocolError.self) { _ = try MetadataRequest(topics: []).encoded(version: 0) }
        let (v1, _, _) = try roundTrip(MetadataRequest(topics: []), version: 1)
        #expect(v1.topics == [])
    }

    @Test func nullInNonNullableVersionThrows() throws {
        let topic = MetadataResponse.Topic(name: nil, partitions: [])
        #expect(throws: ProtocolError.unexpectedNull(field: "Topics.Name")) {
            _ = try MetadataResponse(topics: [topic]).encoded(version: 11)
        }
        #expect(throws: ProtocolError.self) {
            _ = try JoinGroupResponse(protocolName: nil).encoded(version: 6)
        }
        let join = JoinGroupResponse(protocolName: nil)
        #expect(try roundTripMatches(join, version: 7))
    }

    @Test func singleKeyVersionsNeedExactlyOneKey() {
        #expect(throws: ProtocolError.self) {
            _ = try FindCoordinatorRequest(coordinatorKeys: ["a", "b"]).encoded(version: 3)
        }
        #expect(throws: ProtocolError.self) {
            _ = try LeaveGroupRequest(groupId: "g", members: []).encoded(version: 2)
        }
        #expect(throws: ProtocolError.self) {
            _ = try OffsetFetchRequest(groups: []).encoded(version: 7)
        }
        #expect(throws: ProtocolError.self) {
            _ = try OffsetFetchRequest(groups: [.init(groupId: "g", topics: nil)]).encoded(version: 1)
        }
    }

    @Test func offsetFetchNullTopicsFromV2() throws {
        let request = OffsetFetchRequest(groups: [.init(groupId: "g", topics: nil)])
        for version: Int16 in 2...8 {
            #expect(try roundTripMatches(request, version: version))
        }
    }

    @Test func apiVersionsErrorReplyFallsBackToV0() throws {
        // A broker rejecting our v4 request answers with a v0 body (KIP-511).
        let reply = ApiVersionsResponse(
            errorCode: .unsupportedVersion, apiKeys: [.init(apiKey: 18, minVersion: 0, maxVersion: 3)])
        let bytes = try reply.encoded(version: 0)
        let decoded = try ApiVersionsResponse.decodeAllowingFallback(from: bytes, version: 4)
        #expect(decoded == reply)
    }

    @Test func unknownErrorCodesDecodeAsUnknownServerError() throws {
        var bytes = ByteBuffer()
        bytes.writeInteger(Int16(9999))
        #expect(try bytes.readErrorCode() == .unknownServerError)
    }
}
