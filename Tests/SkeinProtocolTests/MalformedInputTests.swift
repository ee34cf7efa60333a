import NIOCore
import SkeinProtocol
import Testing

/// Decoding attacker-controlled bytes must throw `ProtocolError`, never trap.
@Suite("Truncated and corrupted input")
struct MalformedInputTests {
    /// Messages chosen to cover classic and flexible encodings, tagged fields, nullable arrays and
    /// opaque bytes.
    static let cases: [VersionCase] = [
        VersionCase(api: .apiVersions, version: 0), VersionCase(api: .apiVersions, version: 3),
        VersionCase(api: .metadata, version: 1), VersionCase(api: .metadata, version: 12),
        VersionCase(api: .produce, version: 3), VersionCase(api: .produce, version: 9),
        VersionCase(api: .fetch, version: 4), VersionCase(api: .fetch, version: 12),
        VersionCase(api: .createTopics, version: 7), VersionCase(api: .offsetFetch, version: 8),
        VersionCase(api: .describeConfigs, version: 4), VersionCase(api: .joinGroup, version: 7),
        VersionCase(api: .incrementalAlterConfigs, version: 1), VersionCase(api: .alterConfigs, version: 0),
        VersionCase(api: .deleteGroups, version: 2), VersionCase(api: .offsetDelete, version: 0),
        VersionCase(api: .addPartitionsToTxn, version: 0), VersionCase(api: .addPartitionsToTxn, version: 3),
        VersionCase(api: .txnOffsetCommit, version: 3), VersionCase(api: .describeTransactions, version: 0),
        VersionCase(api: .listTransactions, version: 1),
        VersionCase(api: .createPartitions, version: 0), VersionCase(api: .createPartitions, version: 3),
        VersionCase(api: .deleteRecords, version: 2), VersionCase(api: .describeCluster, version: 2),
        VersionCase(api: .describeLogDirs, version: 4), VersionCase(api: .describeProducers, version: 0),
        VersionCase(api: .describeAcls, version: 1), VersionCase(api: .createAcls, version: 3),
        VersionCase(api: .deleteAcls, version: 2),
        VersionCase(api: .saslHandshake, version: 1), VersionCase(api: .saslAuthenticate, version: 0),
        VersionCase(api: .saslAuthenticate, version: 2), VersionCase(api: .describeUserScramCredentials, version: 0),
        VersionCase(api: .alterUserScramCredentials, version: 0),
        VersionCase(api: .describeClientQuotas, version: 0), VersionCase(api: .alterClientQuotas, version: 1),
    ]

    @Test("every strict prefix of a request throws", arguments: cases)
    func truncatedRequests(_ testCase: VersionCase) throws {
        let full = try Samples.request(testCase.api, testCase.version).encoded(version: testCase.version)
        for length in 0..<full.readableBytes {
            var prefix = full.getSlice(at: full.readerIndex, length: length)!
            #expect(throws: ProtocolError.self, "prefix of \(length) bytes") {
                _ = try KafkaRequest.decode(apiKey: testCase.api, version: testCase.version, from: &prefix)
            }
        }
    }

    @Test("every strict prefix of a response throws", arguments: cases)
    func truncatedResponses(_ testCase: VersionCase) throws {
        let full = try Samples.response(testCase.api, testCase.version).encoded(version: testCase.version)
        for length in 0..<full.readableBytes {
            var prefix = full.getSlice(at: full.readerIndex, length: length)!
            #expect(throws: ProtocolError.self, "prefix of \(length) bytes") {
                _ = try KafkaResponse.decode(apiKey: testCase.api, version: testCase.version, from: &prefix)
            }
        }
    }

    @Test("truncated request frames throw at every length")
    func truncatedFrames() throws {
        var wire = ByteBuffer()
        try RequestFrame.encode(
            Samples.request(.produce, 9) as! ProduceRequest, version: 9, correlationId: 1, clientId: "c", into: &wire)
        let payload = try #require(try FrameLength.readFrame(from: &wire))
        for length in 0..<payload.readableBytes {
            #expect(throws: ProtocolError.self) {
                _ = try RequestFrame.decode(payload: payload.getSlice(at: payload.readerIndex, length: length)!)
            }
        }
    }

    /// Random byte flips and random garbage: the decoder may accept or reject, but must return.
    @Test("corrupted bytes never crash", arguments: allVersionCases)
    func corruptedBytes(_ testCase: VersionCase) throws {
        var random = SplitMix64(state: UInt64(testCase.api.rawValue) << 16 | UInt64(testCase.version))
        let encodings = [
            try Samples.request(testCase.api, testCase.version).encoded(version: testCase.version),
            try Samples.response(testCase.api, testCase.version).encoded(version: testCase.version),
        ]
        for (index, original) in encodings.enumerated() {
            var bytes = bytesOf(original)
            for _ in 0..<(bytes.isEmpty ? 0 : 200) {
                var mutated = bytes
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let position = Int.random(in: 0..<mutated.count, using: &random)
                    mutated[position] = UInt8.random(in: 0...255, using: &random)
                }
                var input = buffer(mutated)
                if index == 0 {
                    _ = try? KafkaRequest.decode(apiKey: testCase.api, version: testCase.version, from: &input)
                } else {
                    _ = try? KafkaResponse.decode(apiKey: testCase.api, version: testCase.version, from: &input)
                }
            }
            bytes = (0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }
            var garbage = buffer(bytes)
            _ = try? KafkaRequest.decode(apiKey: testCase.api, version: testCase.version, from: &garbage)
        }
    }
}
