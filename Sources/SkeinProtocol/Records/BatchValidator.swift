import CCRC32C
import SkeinCompression

/// What a validated batch holds, computed from its records rather than taken from its header.
public struct BatchSummary: Equatable, Sendable {
    public var recordCount: Int
    /// The largest record timestamp (base timestamp plus delta). For CreateTime batches this is what the
    /// header's maxTimestamp must say: the time index and timestamp lookups read only the header.
    public var maxTimestamp: Int64
    /// The offset delta of the first record carrying `maxTimestamp`.
    public var maxTimestampOffsetDelta: Int32
    /// Bytes of records walked: the decompressed size for compressed batches.
    public var recordBytes: Int
}

/// Why a batch was refused, with the index of the offending record where one is to blame.
public struct BatchValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The batch's framing, CRC or compressed stream is damaged: CORRUPT_MESSAGE.
        case corrupt
        /// The bytes are intact but a record breaks the format: INVALID_RECORD where the version can say
        /// which record (Produce v8+), else CORRUPT_MESSAGE.
        case invalidRecord
        /// The records inflate past the decompression bound: RECORD_LIST_TOO_LARGE.
        case tooLarge
        /// Codec bits 5-7, which no Kafka version defines: UNSUPPORTED_COMPRESSION_TYPE.
        case unsupportedCodec
    }

    public var kind: Kind
    public var recordIndex: Int?
    public var reason: String

    public init(_ kind: Kind, recordIndex: Int? = nil, _ reason: String) {
        self.kind = kind
        self.recordIndex = recordIndex
        self.reason = reason
    }

    public var description: String {
        recordIndex.map { "record \($0): \(reason)" } ?? reason
    }
}

/// Checks a RecordBatch v2 the way Kafka's broker does before storing it: framing, CRC, and a walk over every
/// record (compressed batches are decompressed for the walk, under a bound). Consumers stop at the first
/// record they cannot parse and never see what follows it in the partition, so one bad batch stored would
/// hide every later one; nothing may be stored that this has not accepted.
///
/// The walk reads only lengths, varints and the timestamp and offset deltas; keys, values and header bytes are
/// skipped by their lengths, as Kafka's skip-key-value iteration does. Uncompressed batches, the common
/// case and the one with a cost budget, are walked in place without allocating; compressed ones are
/// decompressed into the caller's reused buffer when it passes one.
public struct BatchValidator {
    /// A records section may not inflate past this: it bounds what one small malicious batch can cost.
    /// Kafka's default batch limit is 1 MiB; even a 100:1 ratio on it stays far below.
    public static let defaultMaxDecompressedBytes = 128 * 1024 * 1024

    public let maxDecompressedBytes: Int
    /// Where compressed batches are decompressed for the walk; one per thread, kept across calls.
    public let buffer: DecompressionBuffer?

    public init(
        maxDecompressedBytes: Int = BatchValidator.defaultMaxDecompressedBytes,
        reusing buffer: DecompressionBuffer? = nil
    ) {
        self.maxDecompressedBytes = maxDecompressedBytes
        self.buffer = buffer
    }

    /// Validates one whole batch (exactly its bytes). `checkCRC` is false only where the caller has just
    /// verified the CRC itself.
    public func validate(_ batch: UnsafeRawBufferPointer, checkCRC: Bool = true) throws(BatchValidationError)
        -> BatchSummary
    {
        let header = try Self.checkFraming(batch)
        if checkCRC {
            let computed = skein_crc32c(
                0, batch.baseAddress! + RecordBatchHeader.crcCoverageStart,
                batch.count - RecordBatchHeader.crcCoverageStart)
            guard computed == header.crc else {
                throw BatchValidationError(
                    .corrupt, "CRC mismatch: batch says \(hex(header.crc)), bytes give \(hex(computed))")
            }
        }
        let records = UnsafeRawBufferPointer(rebasing: batch[RecordBatchHeader.size...])
        guard let codec = CompressionCodec(rawValue: Int(header.attributes & RecordBatchHeader.compressionMask)) else {
            throw BatchValidationError(
                .unsupportedCodec, "unknown compression codec \(header.attributes & RecordBatchHeader.compressionMask)")
        }
        if codec == .none {
            return try Self.walk(records, header: header)
        }
        // The walk's typed error crosses the decompressor's closure as a Result.
        func walk(_ plain: UnsafeRawBufferPointer) -> Result<BatchSummary, BatchValidationError> {
            do throws(BatchValidationError) { return .success(try Self.walk(plain, header: header)) } catch {
                return .failure(error)
            }
        }
        let result: Result<BatchSummary, BatchValidationError>
        do {
            if let buffer {
                result = try SkeinCompression.decompress(
                    records, codec: codec, maxOutputBytes: maxDecompressedBytes, reusing: buffer, walk)
            } else {
                let plain = try SkeinCompression.decompress(records, codec: codec, maxOutputBytes: maxDecompressedBytes)
                result = plain.withUnsafeBytes(walk)
            }
        } catch .outputLimitExceeded {
            throw BatchValidationError(.tooLarge, "\(codec) records inflate past \(maxDecompressedBytes) bytes")
        } catch {
            throw BatchValidationError(.corrupt, "\(codec) records cannot be decompressed: \(error)")
        }
        return try result.get()
    }

    /// Sets a CreateTime batch's maxTimestamp to the one computed from its records, recomputing the CRC, as
    /// Kafka does (Sarama before 2025 writes -1 there). Returns whether anything changed.
    ///
    /// The batch's CRC is checked before it is replaced, so a batch validated with `checkCRC: false` cannot
    /// have a damaged CRC made good here; when nothing changes, the CRC is left for the caller (the log checks
    /// it on append, which is why Produce skips it in `validate`: one pass over the bytes instead of two).
    @discardableResult
    public static func correctMaxTimestamp(_ batch: UnsafeMutableRawBufferPointer, to summary: BatchSummary)
        throws(BatchValidationError) -> Bool
    {
        let attributes = Int16(bigEndian: batch.loadUnaligned(fromByteOffset: 21, as: Int16.self))
        guard attributes & RecordBatchHeader.logAppendTimeFlag == 0 else { return false }
        let stored = Int64(
            bigEndian: batch.loadUnaligned(fromByteOffset: RecordBatchHeader.maxTimestampOffset, as: Int64.self))
        guard stored != summary.maxTimestamp else { return false }
        let storedCRC = UInt32(
            bigEndian: batch.loadUnaligned(fromByteOffset: RecordBatchHeader.crcOffset, as: UInt32.self))
        let computed = skein_crc32c(
            0, batch.baseAddress! + RecordBatchHeader.crcCoverageStart, batch.count - RecordBatchHeader.crcCoverageStart
        )
        guard computed == storedCRC else {
            throw BatchValidationError(
                .corrupt, "CRC mismatch: batch says \(hex(storedCRC)), bytes give \(hex(computed))")
        }
        batch.storeBytes(
            of: summary.maxTimestamp.bigEndian, toByteOffset: RecordBatchHeader.maxTimestampOffset, as: Int64.self)
        let crc = skein_crc32c(
            0, batch.baseAddress! + RecordBatchHeader.crcCoverageStart, batch.count - RecordBatchHeader.crcCoverageStart
        )
        batch.storeBytes(of: crc.bigEndian, toByteOffset: RecordBatchHeader.crcOffset, as: UInt32.self)
        return true
    }

    // MARK: Framing

    struct Framing {
        var crc: UInt32
        var attributes: Int16
        var lastOffsetDelta: Int32
        var baseTimestamp: Int64
        var recordsCount: Int32
    }

    private static func checkFraming(_ batch: UnsafeRawBufferPointer) throws(BatchValidationError) -> Framing {
        guard batch.count >= RecordBatchHeader.size else {
            throw BatchValidationError(.corrupt, "\(batch.count) bytes cannot hold a batch header")
        }
        func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
            T(bigEndian: batch.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let length = load(8, as: Int32.self)
        guard Int(length) + RecordBatchHeader.logOverhead == batch.count else {
            throw BatchValidationError(
                .corrupt,
                "batch length \(length) does not match the \(batch.count - RecordBatchHeader.logOverhead) bytes present"
            )
        }
        let magic = Int8(bitPattern: batch[16])
        guard magic == RecordBatchHeader.currentMagic else {
            // Produce v3+ may carry only magic 2; Kafka answers other formats with INVALID_RECORD.
            throw BatchValidationError(.invalidRecord, "magic \(magic), only 2 is supported")
        }
        let framing = Framing(
            crc: load(17, as: UInt32.self), attributes: load(21, as: Int16.self),
            lastOffsetDelta: load(23, as: Int32.self),
            baseTimestamp: load(27, as: Int64.self), recordsCount: load(57, as: Int32.self))
        guard framing.recordsCount > 0, Int64(framing.recordsCount) == Int64(framing.lastOffsetDelta) + 1 else {
            throw BatchValidationError(
                .corrupt,
                "records count \(framing.recordsCount) does not match last offset delta \(framing.lastOffsetDelta)")
        }
        return framing
    }

    // MARK: Records

    /// Walks `count` records back to back, which must fill `records` exactly. Each record's fields must fit
    /// inside the length it declares, and its offset delta must be its index: consumers number records by it.
    private static func walk(_ records: UnsafeRawBufferPointer, header: Framing) throws(BatchValidationError)
        -> BatchSummary
    {
        let count = Int(header.recordsCount)
        // Every record takes at least 7 bytes (length, attributes, two deltas, key, value, header count).
        guard count <= records.count / 7 else {
            throw BatchValidationError(
                .invalidRecord, "records count \(count) cannot fit in \(records.count) bytes of records")
        }
        var cursor = VarintCursor(base: records.baseAddress!, position: 0, end: records.count)
        var maxTimestamp = Int64.min
        var maxTimestampDelta: Int32 = 0
        for index in 0..<count {
            let length = try cursor.varint(index, "record length")
            guard length > 0, length <= cursor.end - cursor.position else {
                throw BatchValidationError(
                    .invalidRecord, recordIndex: index,
                    "record claims \(length) bytes, \(cursor.end - cursor.position) remain in the batch")
            }
            var record = VarintCursor(base: cursor.base, position: cursor.position, end: cursor.position + Int(length))
            cursor.position = record.end
            record.position += 1  // attributes: unused in v2 records
            let timestampDelta = try record.varlong(index, "timestamp delta")
            let offsetDelta = try record.varint(index, "offset delta")
            guard offsetDelta == index else {
                throw BatchValidationError(
                    .invalidRecord, recordIndex: index, "offset delta \(offsetDelta) where \(index) was expected")
            }
            try record.skipBytes(index, "key", nullable: true)
            try record.skipBytes(index, "value", nullable: true)
            let headerCount = try record.varint(index, "header count")
            guard headerCount >= 0, Int(headerCount) <= (record.end - record.position) / 2 else {
                throw BatchValidationError(.invalidRecord, recordIndex: index, "invalid header count \(headerCount)")
            }
            for _ in 0..<Int(headerCount) {
                try record.skipBytes(index, "header key", nullable: false)
                try record.skipBytes(index, "header value", nullable: true)
            }
            guard record.position == record.end else {
                throw BatchValidationError(
                    .invalidRecord, recordIndex: index,
                    "record declares \(length) bytes but its fields take \(Int(length) - (record.end - record.position))"
                )
            }
            let timestamp = header.baseTimestamp &+ timestampDelta
            if timestamp > maxTimestamp {
                maxTimestamp = timestamp
                maxTimestampDelta = offsetDelta
            }
        }
        guard cursor.position == cursor.end else {
            throw BatchValidationError(
                .invalidRecord, "\(cursor.end - cursor.position) bytes follow the last of \(count) records")
        }
        return BatchSummary(
            recordCount: count, maxTimestamp: maxTimestamp, maxTimestampOffsetDelta: maxTimestampDelta,
            recordBytes: records.count)
    }
}

/// Zigzag varints over raw memory, bounds-checked against `end`; the one-byte case, which covers every
/// small record's fields, takes a single branch.
private struct VarintCursor {
    let base: UnsafeRawPointer
    var position: Int
    let end: Int

    @inline(__always)
    mutating func varlong(_ index: Int, _ field: StaticString) throws(BatchValidationError) -> Int64 {
        guard position < end else { throw truncated(index, field) }
        let first = base.load(fromByteOffset: position, as: UInt8.self)
        position += 1
        if first & 0x80 == 0 {
            return Int64(first >> 1) ^ -Int64(first & 1)
        }
        var raw = UInt64(first & 0x7F)
        var shift: UInt64 = 7
        while true {
            guard position < end else { throw truncated(index, field) }
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            position += 1
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 64 else {
                throw BatchValidationError(.invalidRecord, recordIndex: index, "\(field): varint longer than 10 bytes")
            }
        }
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// A varint that must fit 32 bits, as Kafka reads lengths, offset deltas and counts.
    @inline(__always)
    mutating func varint(_ index: Int, _ field: StaticString) throws(BatchValidationError) -> Int32 {
        let value = try varlong(index, field)
        guard let narrow = Int32(exactly: value) else {
            throw BatchValidationError(.invalidRecord, recordIndex: index, "\(field) \(value) does not fit 32 bits")
        }
        return narrow
    }

    @inline(__always)
    mutating func skipBytes(_ index: Int, _ field: StaticString, nullable: Bool) throws(BatchValidationError) {
        let length = try varint(index, field)
        if length == -1 && nullable { return }
        guard length >= 0, Int(length) <= end - position else {
            throw BatchValidationError(
                .invalidRecord, recordIndex: index,
                "\(field) length \(length) with \(end - position) bytes left in the record")
        }
        position += Int(length)
    }

    func truncated(_ index: Int, _ field: StaticString) -> BatchValidationError {
        BatchValidationError(.invalidRecord, recordIndex: index, "record ends inside its \(field)")
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
