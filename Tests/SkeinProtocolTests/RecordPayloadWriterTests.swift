import NIOCore
import Testing

@testable import SkeinProtocol

@Suite struct RecordPayloadWriterTests {
    /// The producer's array writer and the codec's Record encoder must produce identical bytes.
    @Test func matchesRecordEncodeByteForByte() throws {
        var writer = RecordPayloadWriter(reservingCapacity: 0)
        var records: [Record] = []
        let cases: [(Int64, [UInt8]?, [UInt8]?, [(String, [UInt8]?)])] = [
            (0, nil, Array("v".utf8), []),
            (-5, Array("key".utf8), nil, [("h", Array("x".utf8)), ("empty", nil)]),
            (300_000, [], Array(repeating: 7, count: 200), []),
            (Int64(Int32.max) + 9, Array(repeating: 1, count: 70_000), [], [("ü", [])]),
        ]
        for (index, (delta, key, value, headers)) in cases.enumerated() {
            writer.append(
                timestampDelta: delta, offsetDelta: Int32(index), key: key, value: value,
                headers: headers.map { (Array($0.0.utf8), $0.1) })
            records.append(
                Record(
                    timestampDelta: delta, offsetDelta: Int32(index), key: key.map { ByteBuffer(bytes: $0) },
                    value: value.map { ByteBuffer(bytes: $0) },
                    headers: headers.map { Record.Header(key: $0.0, value: $0.1.map { ByteBuffer(bytes: $0) }) }))
        }
        let expected = try Record.encodeAll(records)
        #expect(writer.bytes == Array(expected.readableBytesView))
        #expect(writer.count == cases.count)
        let decoded = try Record.decodeAll(from: ByteBuffer(bytes: writer.bytes), count: cases.count)
        #expect(decoded == records)
    }
}

@Suite struct RecordPayloadWriterHeaderTests {
    /// Headers written one by one from string keys (the producer's path) give the same bytes as byte-array headers.
    @Test func stringKeyedHeadersMatchTheArrayForm() {
        let headers: [(String, [UInt8]?)] = [
            ("skein.agent", Array("agent-1".utf8)), ("ü-key", nil), ("", []), ("long", Array(repeating: 9, count: 300)),
        ]
        for count in [0, 1, headers.count] {
            var expected = RecordPayloadWriter(reservingCapacity: 0)
            expected.append(
                timestampDelta: -3, offsetDelta: 2, key: Array("k".utf8), value: Array("value".utf8),
                headers: headers.prefix(count).map { (Array($0.0.utf8), $0.1) })
            var writer = RecordPayloadWriter(reservingCapacity: 0)
            var size = 0
            for header in headers.prefix(count) {
                size += RecordPayloadWriter.headerSize(keyBytes: header.0.utf8.count, value: header.1)
            }
            writer.appendRecord(
                timestampDelta: -3, offsetDelta: 2, key: Array("k".utf8), value: Array("value".utf8),
                headerCount: count, headersSize: size)
            for header in headers.prefix(count) { writer.appendHeader(key: header.0, value: header.1) }
            #expect(writer.bytes == expected.bytes)
            #expect(writer.count == 1)
        }
    }
}

@Suite struct RecordPayloadReaderTests {
    @Test func readsWhatTheWriterWrote() throws {
        var writer = RecordPayloadWriter(reservingCapacity: 0)
        writer.append(timestampDelta: 5, offsetDelta: 0, key: nil, value: Array("a".utf8))
        writer.append(
            timestampDelta: -1, offsetDelta: 1, key: [], value: nil,
            headers: [(Array("h".utf8), nil), (Array("k".utf8), [9])])
        let records = try writer.bytes.withUnsafeBytes { try RecordPayloadReader.decode($0, count: 2) }
        #expect(records.count == 2)
        #expect(
            records[0] == RawRecord(timestampDelta: 5, offsetDelta: 0, key: nil, value: Array("a".utf8), headers: []))
        #expect(
            records[1]
                == RawRecord(
                    timestampDelta: -1, offsetDelta: 1, key: [], value: nil,
                    headers: [RawHeader(key: "h", value: nil), RawHeader(key: "k", value: [9])]))
    }

    /// Every truncation and every single-byte corruption either decodes or throws; none crashes.
    @Test func rejectsTruncatedAndCorruptPayloads() throws {
        var writer = RecordPayloadWriter(reservingCapacity: 0)
        for index in 0..<3 {
            writer.append(
                timestampDelta: Int64(index), offsetDelta: Int32(index), key: [1, 2], value: [3, 4, 5],
                headers: [(Array("x".utf8), [6])])
        }
        let bytes = writer.bytes
        for cut in 0..<bytes.count {
            #expect(throws: ProtocolError.self) {
                try Array(bytes[0..<cut]).withUnsafeBytes { try RecordPayloadReader.decode($0, count: 3) }
            }
        }
        for position in bytes.indices {
            for value: UInt8 in [0x00, 0x7F, 0x80, 0xFF] {
                var corrupt = bytes
                corrupt[position] = value
                _ = try? corrupt.withUnsafeBytes { try RecordPayloadReader.decode($0, count: 3) }
            }
        }
        #expect(throws: ProtocolError.self) {
            try bytes.withUnsafeBytes { try RecordPayloadReader.decode($0, count: 2) }
        }
    }
}
