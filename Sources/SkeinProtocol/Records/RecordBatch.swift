import CCRC32C
import NIOCore
// The codec enum (bits 0-2 of a batch's attributes) is shared with the compression module; this
// module only reads and writes the bits and never compresses.
import SkeinCompression

public enum TimestampType: Sendable, Equatable {
    case createTime
    case logAppendTime
}

/// The fixed 61-byte header of a v2 RecordBatch (magic 2), the unit Kafka stores and sends.
///
/// Field order and offsets follow DESIGN.md §2. The CRC-32C covers everything from `attributes`
/// (byte 21) to the end of the batch, so the broker may rewrite `baseOffset`,
/// `partitionLeaderEpoch` (and the length, never needed) without recomputing it.
public struct RecordBatchHeader: Equatable, Sendable {
    public static let size = 61
    /// Bytes before the region that `batchLength` counts (baseOffset and the length itself).
    public static let logOverhead = 12
    public static let crcOffset = 17
    /// The first byte the CRC covers.
    public static let crcCoverageStart = 21
    public static let attributesOffset = 21
    public static let maxTimestampOffset = 35
    public static let currentMagic: Int8 = 2

    public static let compressionMask: Int16 = 0x07
    public static let logAppendTimeFlag: Int16 = 0x08
    public static let transactionalFlag: Int16 = 0x10
    public static let controlFlag: Int16 = 0x20

    public var baseOffset: Int64
    /// Bytes after this field: the whole batch is `logOverhead + batchLength` bytes.
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordsCount: Int32

    public init(
        baseOffset: Int64 = 0, batchLength: Int32 = 0, partitionLeaderEpoch: Int32 = -1,
        magic: Int8 = RecordBatchHeader.currentMagic, crc: UInt32 = 0, attributes: Int16 = 0,
        lastOffsetDelta: Int32 = 0, baseTimestamp: Int64 = 0, maxTimestamp: Int64 = 0, producerId: Int64 = -1,
        producerEpoch: Int16 = -1, baseSequence: Int32 = -1, recordsCount: Int32 = 0
    ) {
        self.baseOffset = baseOffset
        self.batchLength = batchLength
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.magic = magic
        self.crc = crc
        self.attributes = attributes
        self.lastOffsetDelta = lastOffsetDelta
        self.baseTimestamp = baseTimestamp
        self.maxTimestamp = maxTimestamp
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.recordsCount = recordsCount
    }

    /// The whole batch's size in bytes, header included.
    public var totalSize: Int { Self.logOverhead + Int(batchLength) }
    /// The offset of the batch's last record.
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }

    /// nil for codec bits 5–7, which no Kafka version defines.
    public var compression: CompressionCodec? { CompressionCodec(attributes: attributes) }
    public var timestampType: TimestampType {
        attributes & Self.logAppendTimeFlag != 0 ? .logAppendTime : .createTime
    }
    public var isTransactional: Bool { attributes & Self.transactionalFlag != 0 }
    public var isControl: Bool { attributes & Self.controlFlag != 0 }

    /// Parses the header at `buffer.readerIndex` without consuming anything.
    ///
    /// Checks only what is needed to trust the header's framing: enough bytes for a header, magic
    /// 2, and a length at least as large as the header. CRC and record checks are separate
    /// because they cost a pass over the data.
    public init(parsing buffer: ByteBuffer) throws(ProtocolError) {
        guard buffer.readableBytes >= Self.size else {
            throw ProtocolError.truncated(needed: Self.size, available: buffer.readableBytes)
        }
        var reader = buffer.getSlice(at: buffer.readerIndex, length: Self.size)!
        baseOffset = try reader.readKafkaInt64()
        batchLength = try reader.readKafkaInt32()
        partitionLeaderEpoch = try reader.readKafkaInt32()
        magic = try reader.readKafkaInt8()
        crc = try reader.readKafkaUInt32()
        attributes = try reader.readKafkaInt16()
        lastOffsetDelta = try reader.readKafkaInt32()
        baseTimestamp = try reader.readKafkaInt64()
        maxTimestamp = try reader.readKafkaInt64()
        producerId = try reader.readKafkaInt64()
        producerEpoch = try reader.readKafkaInt16()
        baseSequence = try reader.readKafkaInt32()
        recordsCount = try reader.readKafkaInt32()
        guard magic == Self.currentMagic else {
            throw ProtocolError.invalidRecordBatch("magic \(magic), only 2 is supported")
        }
        guard Int(batchLength) >= Self.size - Self.logOverhead else {
            throw ProtocolError.invalidRecordBatch("batch length \(batchLength) is shorter than the header")
        }
    }

    public func write(into buffer: inout ByteBuffer) {
        buffer.writeInteger(baseOffset)
        buffer.writeInteger(batchLength)
        buffer.writeInteger(partitionLeaderEpoch)
        buffer.writeInteger(magic)
        buffer.writeInteger(crc)
        buffer.writeInteger(attributes)
        buffer.writeInteger(lastOffsetDelta)
        buffer.writeInteger(baseTimestamp)
        buffer.writeInteger(maxTimestamp)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        buffer.writeInteger(baseSequence)
        buffer.writeInteger(recordsCount)
    }
}

/// A view of one complete v2 RecordBatch: its parsed header and its bytes (a slice, no copy).
public struct RecordBatch: Equatable, Sendable {
    public let header: RecordBatchHeader
    /// The whole batch, header included.
    public let bytes: ByteBuffer

    /// Takes one whole batch off the front of `buffer`.
    ///
    /// Returns nil, consuming nothing, when fewer bytes than a header or than the declared batch
    /// remain: a Fetch response may legally end with a partial batch. Callers that require whole
    /// batches (the broker reading a Produce request) treat leftover bytes as corrupt.
    public static func read(from buffer: inout ByteBuffer) throws(ProtocolError) -> RecordBatch? {
        guard buffer.readableBytes >= RecordBatchHeader.size else { return nil }
        let header = try RecordBatchHeader(parsing: buffer)
        guard buffer.readableBytes >= header.totalSize else { return nil }
        return RecordBatch(header: header, bytes: buffer.readSlice(length: header.totalSize)!)
    }

    /// Splits a records field (as in a Produce request) into batches, requiring it to hold whole
    /// batches only.
    public static func readAll(from records: ByteBuffer) throws(ProtocolError) -> [RecordBatch] {
        var buffer = records
        var batches: [RecordBatch] = []
        while buffer.readableBytes > 0 {
            guard let batch = try read(from: &buffer) else {
                throw ProtocolError.invalidRecordBatch("\(buffer.readableBytes) trailing bytes are not a whole batch")
            }
            batches.append(batch)
        }
        return batches
    }

    /// The CRC-32C of the bytes the stored CRC covers.
    public func computeCRC() -> UInt32 {
        RecordBatch.crc32c(bytes, from: RecordBatchHeader.crcCoverageStart)
    }

    public func verifyCRC() throws(ProtocolError) {
        let computed = computeCRC()
        guard computed == header.crc else { throw ProtocolError.crcMismatch(stored: header.crc, computed: computed) }
    }

    /// The bytes after the header: the records, compressed or not.
    public var recordsPayload: ByteBuffer {
        bytes.getSlice(
            at: bytes.readerIndex + RecordBatchHeader.size, length: bytes.readableBytes - RecordBatchHeader.size)!
    }

    /// Decodes the records of an uncompressed batch. Compressed batches throw: decompress
    /// `recordsPayload` elsewhere and call `Record.decodeAll(from:count:)` on the result.
    public func records() throws(ProtocolError) -> [Record] {
        guard header.compression == CompressionCodec.none else {
            throw ProtocolError.invalidRecordBatch("records are compressed; decompress the payload first")
        }
        return try Record.decodeAll(from: recordsPayload, count: Int(header.recordsCount))
    }

    // MARK: Building

    /// Builds a complete batch around an already-encoded (possibly compressed) records payload,
    /// filling in `batchLength` and the CRC. Other header fields are taken as given.
    public static func encode(header: RecordBatchHeader, recordsPayload: ByteBuffer) throws(ProtocolError) -> ByteBuffer
    {
        try encode(header: header, payloadSize: recordsPayload.readableBytes) {
            $0.writeImmutableBuffer(recordsPayload)
        }
    }

    /// The same, from a payload in a byte array (the producer's `RecordPayloadWriter` output), copied once.
    public static func encode(header: RecordBatchHeader, recordsPayload: [UInt8]) throws(ProtocolError) -> ByteBuffer {
        try encode(header: header, payloadSize: recordsPayload.count) { $0.writeBytes(recordsPayload) }
    }

    private static func encode(
        header: RecordBatchHeader, payloadSize: Int, writePayload: (inout ByteBuffer) -> Void
    ) throws(ProtocolError) -> ByteBuffer {
        let total = RecordBatchHeader.size + payloadSize
        guard total - RecordBatchHeader.logOverhead <= Int(Int32.max) else {
            throw ProtocolError.invalidRecordBatch("batch of \(total) bytes is too large")
        }
        var header = header
        header.batchLength = Int32(total - RecordBatchHeader.logOverhead)
        header.crc = 0
        var buffer = ByteBufferAllocator().buffer(capacity: total)
        header.write(into: &buffer)
        writePayload(&buffer)
        let crc = crc32c(buffer, from: RecordBatchHeader.crcCoverageStart)
        buffer.setInteger(crc, at: buffer.readerIndex + RecordBatchHeader.crcOffset)
        return buffer
    }

    /// Builds an uncompressed batch from records, deriving `recordsCount`, `lastOffsetDelta` and
    /// `maxTimestamp` from them. Records should carry offset deltas 0, 1, 2 … in order; the
    /// broker's validation rejects anything else.
    public static func encode(
        records: [Record], baseOffset: Int64 = 0, baseTimestamp: Int64, partitionLeaderEpoch: Int32 = -1,
        timestampType: TimestampType = .createTime, isTransactional: Bool = false, producerId: Int64 = -1,
        producerEpoch: Int16 = -1, baseSequence: Int32 = -1
    ) throws(ProtocolError) -> ByteBuffer {
        var attributes = Int16(CompressionCodec.none.rawValue)
        if timestampType == .logAppendTime { attributes |= RecordBatchHeader.logAppendTimeFlag }
        if isTransactional { attributes |= RecordBatchHeader.transactionalFlag }
        let header = RecordBatchHeader(
            baseOffset: baseOffset, partitionLeaderEpoch: partitionLeaderEpoch, attributes: attributes,
            lastOffsetDelta: records.map(\.offsetDelta).max() ?? 0, baseTimestamp: baseTimestamp,
            maxTimestamp: baseTimestamp + (records.map(\.timestampDelta).max() ?? 0), producerId: producerId,
            producerEpoch: producerEpoch, baseSequence: baseSequence, recordsCount: Int32(records.count))
        return try encode(header: header, recordsPayload: try Record.encodeAll(records))
    }

    /// Recomputes and stores the CRC of the batch starting at `batchStart` in `buffer`, after an
    /// in-place change to covered bytes (LogAppendTime stamping sets attributes and maxTimestamp).
    public static func rewriteCRC(in buffer: inout ByteBuffer, batchStart: Int, batchSize: Int) {
        let batch = buffer.getSlice(at: batchStart, length: batchSize)!
        let crc = crc32c(batch, from: RecordBatchHeader.crcCoverageStart)
        buffer.setInteger(crc, at: batchStart + RecordBatchHeader.crcOffset)
    }

    /// CRC-32C (Castagnoli) over `buffer`'s readable bytes from `offset` on.
    public static func crc32c(_ buffer: ByteBuffer, from offset: Int = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { raw in
            let covered = UnsafeRawBufferPointer(rebasing: raw[min(offset, raw.count)...])
            return skein_crc32c(0, covered.baseAddress, covered.count)
        }
    }
}
