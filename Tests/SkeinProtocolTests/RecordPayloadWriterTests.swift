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
