import NIOCore
import SkeinCompression
import SkeinProtocol
import Testing

@Suite("RecordBatch v2")
struct RecordBatchTests {
    static let records: [Record] = [
        Record(timestampDelta: 0, offsetDelta: 0, key: nil, value: ByteBuffer(string: "first")),
        Record(
            timestampDelta: 5, offsetDelta: 1, key: ByteBuffer(string: "k"), value: ByteBuffer(string: "second"),
            headers: [.init(key: "h1", value: ByteBuffer(string: "v1")), .init(key: "h2", value: nil)]),
        Record(timestampDelta: 3, offsetDelta: 2, key: ByteBuffer(), value: nil),
    ]

    @Test func crc32cCheckValues() {
        #expect(RecordBatch.crc32c(ByteBuffer(string: "123456789")) == 0xE306_9283)
        #expect(RecordBatch.crc32c(buffer(Array(repeating: 0, count: 32))) == 0x8A91_36AA)
    }

    @Test func buildParseVerify() throws {
        let bytes = try RecordBatch.encode(
            records: Self.records, baseTimestamp: 1_700_000_000_000, producerId: 7, producerEpoch: 1,
            baseSequence: 10)
        var reader = bytes
        let batch = try #require(try RecordBatch.read(from: &reader))
        #expect(reader.readableBytes == 0)
        let header = batch.header
        #expect(header.baseOffset == 0)
        #expect(header.totalSize == bytes.readableBytes)
        #expect(header.magic == 2)
        #expect(header.lastOffsetDelta == 2)
        #expect(header.recordsCount == 3)
        #expect(header.baseTimestamp == 1_700_000_000_000)
        #expect(header.maxTimestamp == 1_700_000_000_005)
        #expect(header.producerId == 7)
        #expect(header.producerEpoch == 1)
        #expect(header.baseSequence == 10)
        #expect(header.compression == CompressionCodec.none)
        #expect(header.timestampType == .createTime)
        #expect(!header.isTransactional && !header.isControl)
        try batch.verifyCRC()
        #expect(try batch.records() == Self.records)
    }

    @Test func headerLayoutMatchesTheSpec() throws {
        let bytes = try RecordBatch.encode(
            records: [Record(offsetDelta: 0, value: ByteBuffer(string: "v"))], baseOffset: 0x0102_0304_0506_0708,
            baseTimestamp: 0x11, partitionLeaderEpoch: 0x0A0B_0C0D, timestampType: .logAppendTime,
            isTransactional: true, producerId: 0x21, producerEpoch: 0x31, baseSequence: 0x41)
        let raw = bytesOf(bytes)
        #expect(Array(raw[0..<8]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(
            Int(UInt32(raw[8]) << 24 | UInt32(raw[9]) << 16 | UInt32(raw[10]) << 8 | UInt32(raw[11])) == raw.count - 12)
        #expect(Array(raw[12..<16]) == [0x0A, 0x0B, 0x0C, 0x0D])
        #expect(raw[16] == 2)
        #expect(Array(raw[21..<23]) == [0, 0x18])  // LogAppendTime | transactional
        #expect(Array(raw[43..<51]) == [0, 0, 0, 0, 0, 0, 0, 0x21])
        #expect(Array(raw[51..<53]) == [0, 0x31])
        #expect(Array(raw[53..<57]) == [0, 0, 0, 0x41])
        #expect(Array(raw[57..<61]) == [0, 0, 0, 1])
        // The record: length 7 (zigzag → 14), attributes 0, timestampDelta 0, offsetDelta 0, key null (-1 → 1),
        // value length 1 (→ 2), "v", no headers.
        #expect(Array(raw[61...]) == [14, 0, 0, 0, 1, 2, 0x76, 0])
        let storedCRC = UInt32(raw[17]) << 24 | UInt32(raw[18]) << 16 | UInt32(raw[19]) << 8 | UInt32(raw[20])
        #expect(storedCRC == RecordBatch.crc32c(buffer(Array(raw[21...]))))
    }

    @Test func corruptionIsDetected() throws {
        let bytes = try RecordBatch.encode(records: Self.records, baseTimestamp: 1000)
        var raw = bytesOf(bytes)
        raw[raw.count - 1] ^= 0xFF
        var reader = buffer(raw)
        let batch = try #require(try RecordBatch.read(from: &reader))
        #expect(throws: ProtocolError.self) { try batch.verifyCRC() }
    }

    @Test func baseOffsetIsOutsideTheCRC() throws {
        var bytes = try RecordBatch.encode(records: Self.records, baseTimestamp: 1000)
        bytes.setInteger(Int64(12_345), at: bytes.readerIndex)
        var reader = bytes
        let batch = try #require(try RecordBatch.read(from: &reader))
        #expect(batch.header.baseOffset == 12_345)
        try batch.verifyCRC()
    }

    @Test func rewriteCRCAfterStampingLogAppendTime() throws {
        var bytes = try RecordBatch.encode(records: Self.records, baseTimestamp: 1000)
        let start = bytes.readerIndex
        bytes.setInteger(RecordBatchHeader.logAppendTimeFlag, at: start + RecordBatchHeader.attributesOffset)
        bytes.setInteger(Int64(99_999), at: start + RecordBatchHeader.maxTimestampOffset)
        var stale = bytes
        #expect(throws: ProtocolError.self) { try RecordBatch.read(from: &stale)!.verifyCRC() }
        RecordBatch.rewriteCRC(in: &bytes, batchStart: start, batchSize: bytes.readableBytes)
        var reader = bytes
        let batch = try #require(try RecordBatch.read(from: &reader))
        try batch.verifyCRC()
        #expect(batch.header.timestampType == .logAppendTime)
        #expect(batch.header.maxTimestamp == 99_999)
    }

    @Test func partialBatchesAndSequences() throws {
        let one = try RecordBatch.encode(records: Self.records, baseTimestamp: 1)
        let two = try RecordBatch.encode(records: [Record(offsetDelta: 0, value: nil)], baseOffset: 3, baseTimestamp: 2)
        var both = one
        both.writeImmutableBuffer(two)
        let batches = try RecordBatch.readAll(from: both)
        #expect(batches.map(\.header.baseOffset) == [0, 3])

        var partial = both.getSlice(at: both.readerIndex, length: both.readableBytes - 1)!
        #expect(try RecordBatch.read(from: &partial) != nil)
        #expect(try RecordBatch.read(from: &partial) == nil, "a partial trailing batch is not an error for fetch")
        #expect(throws: ProtocolError.self) {
            _ = try RecordBatch.readAll(from: both.getSlice(at: both.readerIndex, length: both.readableBytes - 1)!)
        }
    }

    @Test func invalidHeadersAreRejected() throws {
        var raw = bytesOf(try RecordBatch.encode(records: Self.records, baseTimestamp: 1))
        raw[16] = 1  // magic 1
        #expect(throws: ProtocolError.self) { _ = try RecordBatchHeader(parsing: buffer(raw)) }
        raw[16] = 2
        raw[8...11] = [0, 0, 0, 10]  // length shorter than the header
        #expect(throws: ProtocolError.self) { _ = try RecordBatchHeader(parsing: buffer(raw)) }
    }

    @Test func compressedBatchesRefuseRecordDecoding() throws {
        let payload = try Record.encodeAll(Self.records)
        var header = RecordBatchHeader(
            attributes: Int16(CompressionCodec.zstd.rawValue), lastOffsetDelta: 2, recordsCount: 3)
        header.baseTimestamp = 5
        let bytes = try RecordBatch.encode(header: header, recordsPayload: payload)
        var reader = bytes
        let batch = try #require(try RecordBatch.read(from: &reader))
        try batch.verifyCRC()
        #expect(batch.header.compression == .zstd)
        #expect(throws: ProtocolError.self) { _ = try batch.records() }
        // What a caller does after decompressing (here the payload was never compressed).
        #expect(try Record.decodeAll(from: batch.recordsPayload, count: 3) == Self.records)
    }

    @Test func malformedRecordsThrow() throws {
        let payload = bytesOf(try Record.encodeAll(Self.records))
        for length in 0..<payload.count {
            #expect(throws: ProtocolError.self) {
                _ = try Record.decodeAll(from: buffer(Array(payload[0..<length])), count: 3)
            }
        }
        #expect(throws: ProtocolError.self) { _ = try Record.decodeAll(from: buffer(payload), count: 2) }
        #expect(throws: ProtocolError.self) { _ = try Record.decodeAll(from: buffer(payload), count: 1_000_000) }
        // A record whose length prefix covers more than its fields.
        var padded = ByteBuffer()
        padded.writeVarInt(9)
        padded.writeBytes([0, 0, 0, 1, 2, 0x76, 0, 0xEE, 0xEE])
        #expect(throws: ProtocolError.self) { _ = try Record.decodeAll(from: padded, count: 1) }
        // Random garbage must not crash.
        var random = SplitMix64(state: 42)
        for _ in 0..<2000 {
            let garbage = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            _ = try? Record.decodeAll(from: buffer(garbage), count: Int.random(in: 0...3, using: &random))
            _ = try? RecordBatchHeader(parsing: buffer(garbage + Array(repeating: 0, count: 61)))
        }
    }
}
