import Testing

@testable import SkeinProtocol

@Suite struct EncodedRecordsTests {
    typealias Case = (timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headers: [(String, [UInt8]?)])

    static let cases: [Case] = [
        (1_000, nil, Array("v".utf8), []),
        (995, Array("key".utf8), nil, [("h", Array("x".utf8)), ("empty", nil)]),
        (1_300_000, [], Array(repeating: 7, count: 200), []),
        (Int64(Int32.max) + 9, Array(repeating: 1, count: 70_000), [], [("ü", [])]),
        (1_000, Array("host".utf8), Array("{}".utf8), [("skein.seq", Array("12".utf8))]),
    ]

    /// Runs written ahead and placed in a batch give the bytes of the same records written in place, whatever
    /// the runs' boundaries and the records' offsets in the batch.
    @Test(arguments: [[5], [2, 3], [1, 1, 1, 1, 1], [4, 1]])
    func runsGiveTheBytesOfRecordsWrittenInPlace(split: [Int]) throws {
        let base: Int64 = 995
        var expected = RecordPayloadWriter(reservingCapacity: 0)
        for (index, record) in Self.cases.enumerated() {
            expected.append(
                timestampDelta: record.timestamp - base, offsetDelta: Int32(index + 3), key: record.key,
                value: record.value, headers: record.headers.map { (Array($0.0.utf8), $0.1) })
        }
        // Three records already in the batch, written the other way, and an empty run that adds nothing.
        var prefix = RecordPayloadWriter(reservingCapacity: 0)
        for offset in 0..<3 { prefix.append(timestampDelta: 0, offsetDelta: Int32(offset), key: nil, value: nil) }
        var writer = prefix
        writer.append(EncodedRecords(), firstOffsetDelta: 3, baseTimestamp: base)
        var next = 0
        for size in split {
            var run = EncodedRecords()
            for record in Self.cases[next..<(next + size)] {
                run.beginRecord(
                    timestamp: record.timestamp, key: record.key, value: record.value, headerCount: record.headers.count
                )
                for header in record.headers { run.appendHeader(key: header.0, value: header.1) }
            }
            #expect(run.count == size)
            writer.append(run, firstOffsetDelta: Int32(writer.count), baseTimestamp: base)
            next += size
        }
        #expect(Array(writer.bytes.dropFirst(prefix.bytes.count)) == expected.bytes)
        #expect(writer.count == 3 + Self.cases.count)
    }

    @Test func sizesPredictTheBytesWritten() {
        for record in Self.cases {
            var run = EncodedRecords()
            run.beginRecord(
                timestamp: record.timestamp, key: record.key, value: record.value, headerCount: record.headers.count)
            var headersBytes = 0
            for header in record.headers {
                run.appendHeader(key: header.0, value: header.1)
                headersBytes += EncodedRecords.headerSize(keyBytes: header.0.utf8.count, valueBytes: header.1?.count)
            }
            #expect(
                run.byteCount
                    == EncodedRecords.bodySize(
                        keyBytes: record.key?.count, valueBytes: record.value?.count, headersBytes: headersBytes,
                        headerCount: record.headers.count))
            #expect(run.body(0).count == run.byteCount)
        }
    }
}
