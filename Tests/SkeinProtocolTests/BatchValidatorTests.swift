import NIOCore
import SkeinCompression
import SkeinProtocol
import Testing

@Suite("BatchValidator")
struct BatchValidatorTests {
    static let baseTimestamp: Int64 = 1_700_000_000_000

    static func records(_ count: Int) -> [Record] {
        (0..<count).map { index in
            Record(
                timestampDelta: Int64((index * 7) % 11), offsetDelta: Int32(index),
                key: index % 3 == 0 ? nil : ByteBuffer(string: "k\(index)"),
                value: index % 5 == 4 ? nil : ByteBuffer(string: String(repeating: "v", count: index * 3)),
                headers: index % 2 == 0
                    ? [] : [.init(key: "h", value: ByteBuffer(string: "x")), .init(key: "n", value: nil)])
        }
    }

    static func batch(_ records: [Record], codec: CompressionCodec = .none) throws -> [UInt8] {
        let plain = Array(buffer: try Record.encodeAll(records))
        let payload = codec == .none ? plain : try compress(plain, codec: codec)
        let header = RecordBatchHeader(
            attributes: Int16(codec.rawValue), lastOffsetDelta: Int32(records.count - 1), baseTimestamp: baseTimestamp,
            maxTimestamp: baseTimestamp + (records.map(\.timestampDelta).max() ?? 0), recordsCount: Int32(records.count)
        )
        return Array(buffer: try RecordBatch.encode(header: header, recordsPayload: payload))
    }

    /// Rewrites the length and CRC after a test changed the batch, so only the change under test is wrong.
    static func reseal(_ bytes: inout [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        buffer.setInteger(Int32(bytes.count - RecordBatchHeader.logOverhead), at: 8)
        RecordBatch.rewriteCRC(in: &buffer, batchStart: 0, batchSize: bytes.count)
        bytes = Array(buffer: buffer)
    }

    static func validate(_ bytes: [UInt8], limit: Int = BatchValidator.defaultMaxDecompressedBytes)
        throws(BatchValidationError) -> BatchSummary
    {
        let result: Result<BatchSummary, BatchValidationError> = bytes.withUnsafeBytes { raw in
            do throws(BatchValidationError) {
                return .success(try BatchValidator(maxDecompressedBytes: limit).validate(raw))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func failure(_ bytes: [UInt8], limit: Int = BatchValidator.defaultMaxDecompressedBytes)
        -> BatchValidationError?
    {
        do {
            _ = try validate(bytes, limit: limit)
            return nil
        } catch { return error }
    }

    @Test(arguments: CompressionCodec.allCases)
    func soundBatchesPassWithComputedSummary(codec: CompressionCodec) throws {
        let records = Self.records(40)
        let summary = try Self.validate(try Self.batch(records, codec: codec))
        #expect(summary.recordCount == 40)
        let maxDelta = records.map(\.timestampDelta).max()!
        #expect(summary.maxTimestamp == Self.baseTimestamp + maxDelta)
        #expect(summary.maxTimestampOffsetDelta == records.first { $0.timestampDelta == maxDelta }!.offsetDelta)
    }

    /// The fuzzer's first find: a valid CRC over a second record that claims 200 bytes it does not have.
    @Test func recordClaimingMissingBytesIsRefusedWithItsIndex() throws {
        let frame = hexBytes(
            "000000800000000700000003000472656c69ffffffff00001388000000010002756e00000001000000000000005600000000000000000000004affffffff02e6534e90000000000002000001a24225a153000001a24225a153ffffffffffffffffffffffffffff000000030e000000010261009003000002010262000e00000401026300"
        )
        // The batch starts after the records length field: the request's last 0x56 bytes.
        let batch = Array(frame.suffix(0x56))
        let error = try #require(Self.failure(batch))
        #expect(error.kind == .invalidRecord)
        #expect(error.recordIndex == 1)
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func compressedBatchCutInHalfIsCorrupt(codec: CompressionCodec) throws {
        var bytes = try Self.batch(Self.records(200), codec: codec)
        bytes.removeLast((bytes.count - RecordBatchHeader.size) / 2)
        Self.reseal(&bytes)
        let error = try #require(Self.failure(bytes))
        #expect(error.kind == .corrupt || error.kind == .invalidRecord)
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func zipBombIsTooLargeWithoutInflating(codec: CompressionCodec) throws {
        // 4 MiB of zeros as one record's value compresses to a few KiB; the bound here is 1 MiB.
        let record = Record(
            timestampDelta: 0, offsetDelta: 0, key: nil, value: ByteBuffer(repeating: 0, count: 4 << 20))
        let bytes = try Self.batch([record], codec: codec)
        #expect(bytes.count < 1 << 20)
        let error = try #require(Self.failure(bytes, limit: 1 << 20))
        #expect(error.kind == .tooLarge)
    }

    /// One buffer across batches of every codec, a large one and a bomb among them: the same answers as fresh
    /// allocations, and neither the large one's nor the bomb's allocation is kept.
    @Test func reusedDecompressionBufferGivesTheSameAnswers() throws {
        let buffer = DecompressionBuffer()
        let large = try Self.batch(
            [Record(timestampDelta: 0, offsetDelta: 0, key: nil, value: ByteBuffer(repeating: 0, count: 12 << 20))],
            codec: .zstd)
        for round in 0..<3 {
            for codec in CompressionCodec.allCases {
                let bytes = try Self.batch(Self.records(20 + round * 30 + codec.rawValue), codec: codec)
                let reused = try bytes.withUnsafeBytes { try BatchValidator(reusing: buffer).validate($0) }
                #expect(reused == (try Self.validate(bytes)))
            }
            let summary = try large.withUnsafeBytes { try BatchValidator(reusing: buffer).validate($0) }
            #expect(summary.recordBytes > 12 << 20)
            #expect(buffer.capacity <= DecompressionBuffer.retainedBytesLimit)
            #expect(throws: BatchValidationError.self) {
                try large.withUnsafeBytes {
                    try BatchValidator(maxDecompressedBytes: 4 << 20, reusing: buffer).validate($0)
                }
            }
            #expect(buffer.capacity <= DecompressionBuffer.retainedBytesLimit)
            #expect(buffer.capacity > 0)
        }
    }

    @Test func everyTruncationOfTheRecordsIsRefused() throws {
        let sound = try Self.batch(Self.records(12))
        for cut in RecordBatchHeader.size..<sound.count {
            var bytes = Array(sound[..<cut])
            Self.reseal(&bytes)
            #expect(Self.failure(bytes) != nil, "cut at \(cut) accepted")
        }
    }

    @Test func trailingBytesAfterTheLastRecordAreRefused() throws {
        var bytes = try Self.batch(Self.records(3))
        bytes.append(0)
        Self.reseal(&bytes)
        #expect(Self.failure(bytes)?.kind == .invalidRecord)
    }

    @Test func offsetDeltasMustNumberTheRecords() throws {
        var records = Self.records(3)
        records[2].offsetDelta = 5
        let error = try #require(Self.failure(try Self.batch(records)))
        #expect(error.kind == .invalidRecord)
        #expect(error.recordIndex == 2)
    }

    @Test func countMustMatchLastOffsetDelta() throws {
        var bytes = try Self.batch(Self.records(3))
        bytes.replaceSubrange(57..<61, with: [0, 0, 0, 4])
        Self.reseal(&bytes)
        #expect(Self.failure(bytes)?.kind == .corrupt)
    }

    @Test func crcMismatchIsCorrupt() throws {
        var bytes = try Self.batch(Self.records(3))
        bytes[bytes.count - 1] ^= 0x40
        #expect(Self.failure(bytes)?.kind == .corrupt)
    }

    @Test func negativeHeaderKeyLengthIsRefused() throws {
        // One record: length, attributes, ts delta 0, offset delta 0, key -1, value -1, 1 header, key -1.
        var bytes = try Self.batch([Record(timestampDelta: 0, offsetDelta: 0, key: nil, value: nil)])
        bytes.removeSubrange(RecordBatchHeader.size...)
        bytes += [0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x01, 0x01]
        Self.reseal(&bytes)
        let error = try #require(Self.failure(bytes))
        #expect(error.kind == .invalidRecord)
        #expect(error.recordIndex == 0)
    }

    @Test func unknownCodecBitsAreUnsupported() throws {
        var bytes = try Self.batch(Self.records(2))
        bytes[22] |= 0x07
        Self.reseal(&bytes)
        #expect(Self.failure(bytes)?.kind == .unsupportedCodec)
    }

    /// Sarama before 2025 writes -1 as the batch's maxTimestamp; the broker stores the real one.
    @Test func maxTimestampIsCorrectedWithItsCRC() throws {
        var bytes = try Self.batch(Self.records(5))
        bytes.replaceSubrange(35..<43, with: [UInt8](repeating: 0xFF, count: 8))
        Self.reseal(&bytes)
        let summary = try Self.validate(bytes)
        let changed = try bytes.withUnsafeMutableBytes { try BatchValidator.correctMaxTimestamp($0, to: summary) }
        #expect(changed)
        var buffer = ByteBuffer(bytes: bytes)
        let batch = try #require(try RecordBatch.read(from: &buffer))
        #expect(batch.header.maxTimestamp == summary.maxTimestamp)
        try batch.verifyCRC()
        let again = try bytes.withUnsafeMutableBytes { try BatchValidator.correctMaxTimestamp($0, to: summary) }
        #expect(!again)
    }

    /// Produce validates without the CRC (the log checks it); a damaged batch must not get a fresh CRC here.
    @Test func correctionRefusesABatchWhoseCRCIsAlreadyWrong() throws {
        var bytes = try Self.batch([
            Record(timestampDelta: 0, offsetDelta: 0, key: nil, value: ByteBuffer(string: "abcdef"))
        ])
        bytes.replaceSubrange(35..<43, with: [UInt8](repeating: 0xFF, count: 8))
        Self.reseal(&bytes)
        bytes[bytes.count - 3] ^= 0x01  // an "e" of the value, after sealing: the walk passes, the CRC does not
        let summary = try bytes.withUnsafeBytes { try BatchValidator().validate($0, checkCRC: false) }
        #expect(throws: BatchValidationError.self) {
            try bytes.withUnsafeMutableBytes { try BatchValidator.correctMaxTimestamp($0, to: summary) }
        }
    }

    @Test func logAppendTimeBatchesKeepTheirHeader() throws {
        var bytes = try Self.batch(Self.records(2))
        bytes[22] |= 0x08
        Self.reseal(&bytes)
        var summary = try Self.validate(bytes)
        summary.maxTimestamp += 1
        #expect(try !bytes.withUnsafeMutableBytes { try BatchValidator.correctMaxTimestamp($0, to: summary) })
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}
