import CCRC32C

/// The fields of a RecordBatch v2 header the storage engine needs. The log stores batches as opaque bytes
/// (compressed as the producer sent them), so this header is all it ever parses, apart from the records of
/// uncompressed batches during a timestamp lookup.
public struct StoredBatchHeader: Equatable, Sendable {
    /// Bytes before the `length` field's count starts: baseOffset (8) + length (4).
    public static let logOverhead = 12
    /// Size of the full v2 header up to the first record.
    public static let size = 61
    public static let currentMagic: Int8 = 2
    /// Where the CRC-covered region starts (attributes).
    static let crcStart = 21

    public var baseOffset: Int64
    /// Bytes after the length field.
    public var length: Int32
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

    public var totalSize: Int { Self.logOverhead + Int(length) }
    public var lastOffset: Int64 { baseOffset + Int64(lastOffsetDelta) }
    public var nextOffset: Int64 { lastOffset + 1 }
    /// 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    public var compressionCodec: Int { Int(attributes & 0x07) }
    public var usesLogAppendTime: Bool { attributes & 0x08 != 0 }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var isControl: Bool { attributes & 0x20 != 0 }

    /// Parses the header at the start of `bytes`, which must hold at least `StoredBatchHeader.size` bytes.
    init(parsing bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= Self.size)
        baseOffset = bytes.bigEndian(at: 0)
        length = bytes.bigEndian(at: 8)
        magic = Int8(bitPattern: bytes[16])
        crc = bytes.bigEndian(at: 17)
        attributes = bytes.bigEndian(at: 21)
        lastOffsetDelta = bytes.bigEndian(at: 23)
        baseTimestamp = bytes.bigEndian(at: 27)
        maxTimestamp = bytes.bigEndian(at: 35)
        producerId = bytes.bigEndian(at: 43)
        producerEpoch = bytes.bigEndian(at: 51)
        baseSequence = bytes.bigEndian(at: 53)
        recordsCount = bytes.bigEndian(at: 57)
    }
}

/// Checks the records inside a stored batch, which the storage engine otherwise treats as opaque bytes. The
/// broker plugs in its record walker (it knows the codecs); recovery uses it so that a batch whose CRC holds
/// but whose records a consumer cannot parse is cut off like a torn write, not served.
public protocol StoredRecordsValidator: Sendable {
    /// Why the records of `batch` (exactly one whole batch, CRC already checked) cannot be read, or nil.
    func problem(inRecordsOf batch: UnsafeRawBufferPointer) -> String?
}

/// How strictly a batch is checked: producers get every rule; recovery only the ones stored data must meet.
enum BatchValidation {
    case fromClient(maxBatchBytes: Int)
    case stored
}

extension StoredBatchHeader {
    /// Checks the batch that starts at the beginning of `bytes` (which may hold more after it) and returns its
    /// header. Cheap checks run first, the CRC last.
    static func validate(_ bytes: UnsafeRawBufferPointer, _ validation: BatchValidation) throws(InvalidBatch) -> Self {
        guard bytes.count >= logOverhead else { throw .truncated(available: bytes.count, needed: logOverhead) }
        let length: Int32 = bytes.bigEndian(at: 8)
        guard length >= Int32(size - logOverhead) else { throw .invalidLength(length) }
        let total = logOverhead + Int(length)
        if case .fromClient(let limit) = validation, total > limit { throw .tooLarge(size: total, limit: limit) }
        guard bytes.count >= total else { throw .truncated(available: bytes.count, needed: total) }
        let header = StoredBatchHeader(parsing: bytes)
        guard header.magic == currentMagic else { throw .invalidMagic(header.magic) }
        switch validation {
        case .fromClient:
            guard header.recordsCount > 0, Int64(header.recordsCount) == Int64(header.lastOffsetDelta) + 1 else {
                throw .invalidRecordCount(recordsCount: header.recordsCount, lastOffsetDelta: header.lastOffsetDelta)
            }
            if header.isControl { throw .controlBatchFromClient }
        case .stored:
            guard header.lastOffsetDelta >= 0 else {
                throw .invalidRecordCount(recordsCount: header.recordsCount, lastOffsetDelta: header.lastOffsetDelta)
            }
        }
        let computed = crc32c(UnsafeRawBufferPointer(rebasing: bytes[crcStart..<total]))
        guard computed == header.crc else { throw .crcMismatch(stored: header.crc, computed: computed) }
        return header
    }
}

func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    skein_crc32c(0, bytes.baseAddress, bytes.count)
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func bigEndian<T: FixedWidthInteger>(at offset: Int) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}
