import NIOCore
import SkeinProtocol
import Testing

/// The zero-copy Fetch path: the broker encodes metadata and leaves gaps for record bytes.
@Suite("Fetch response segments")
struct FetchSegmentTests {
    /// Record bytes per (topic, partition), standing in for file regions.
    static let stored: [[ByteBuffer?]] = [
        [ByteBuffer(string: "partition-zero-records"), nil, ByteBuffer(string: "p2")],
        [ByteBuffer(string: "other-topic")],
    ]

    static func response(external: Bool, version: Int16) -> FetchResponse {
        let topics = stored.enumerated().map { topicIndex, partitions in
            FetchResponse.Topic(
                topic: "topic-\(topicIndex)",
                partitions: partitions.enumerated().map { partitionIndex, bytes in
                    let records: FetchResponse.Records
                    if let bytes {
                        records = external ? .external(byteCount: bytes.readableBytes) : .bytes(bytes)
                    } else {
                        records = .null
                    }
                    return FetchResponse.Partition(
                        partitionIndex: Int32(partitionIndex), highWatermark: 10, lastStableOffset: 10,
                        logStartOffset: 0, currentLeader: version >= 12 ? .init(leaderId: 1, leaderEpoch: 0) : nil,
                        records: records)
                })
        }
        return FetchResponse(sessionId: 0, topics: topics)
    }

    /// Does what the broker's writer does: buffers as they are, gaps from "files".
    static func splice(_ segments: [FetchResponse.Segment]) -> ByteBuffer {
        var out = ByteBuffer()
        for segment in segments {
            switch segment {
            case .bytes(let bytes):
                out.writeImmutableBuffer(bytes)
            case .records(let topicIndex, let partitionIndex, let byteCount):
                let bytes = stored[topicIndex][partitionIndex]!
                precondition(bytes.readableBytes == byteCount)
                out.writeImmutableBuffer(bytes)
            }
        }
        return out
    }

    @Test("spliced segments equal the inline encoding", arguments: ApiKey.fetch.supportedVersions)
    func splicedEqualsInline(version: Int16) throws {
        var inline = ByteBuffer()
        try ResponseFrame.encode(
            Self.response(external: false, version: version), version: version, correlationId: 42, into: &inline)

        let external = Self.response(external: true, version: version)
        let segments = try ResponseFrame.encodeFetch(external, version: version, correlationId: 42)
        #expect(segments.count(where: { if case .records = $0 { true } else { false } }) == 3)
        #expect(external.externalRecordByteCount == 22 + 2 + 11)
        #expect(Self.splice(segments) == inline)

        // And the body-only variant matches the body of the inline encoding.
        let body = try Self.response(external: false, version: version).encoded(version: version)
        #expect(Self.splice(try external.encodeSegments(version: version)) == body)
    }

    @Test func gapsFollowTheirLengthPrefix() throws {
        let response = FetchResponse(topics: [
            .init(
                topic: "t", partitions: [.init(partitionIndex: 0, highWatermark: 1, records: .external(byteCount: 300))]
            )
        ])
        let segments = try response.encodeSegments(version: 12)
        guard case .bytes(let before) = segments[0], case .records(0, 0, 300) = segments[1],
            case .bytes(let after) = segments[2]
        else {
            Issue.record("unexpected segments \(segments)")
            return
        }
        // Compact length of 300 bytes is the unsigned varint 301 = [0xAD, 0x02].
        #expect(Array(bytesOf(before).suffix(2)) == [0xAD, 0x02])
        // After the gap: the partition's tagged fields, the topic's, the response's.
        #expect(bytesOf(after) == [0, 0, 0])
    }

    @Test func singleBufferEncodingRefusesGaps() {
        let response = Self.response(external: true, version: 12)
        #expect(throws: ProtocolError.externalRecordsNeedSegmentedEncoding) { _ = try response.encoded(version: 12) }
    }

    @Test func decodedRecordsAreSlices() throws {
        let response = Self.response(external: false, version: 11)
        var bytes = try response.encoded(version: 11)
        let decoded = try FetchResponse.decode(from: &bytes, version: 11)
        #expect(decoded.topics[0].partitions[0].records == .bytes(ByteBuffer(string: "partition-zero-records")))
        #expect(decoded.topics[0].partitions[1].records == .null)
    }
}
