/// Builds an uncompressed RecordBatch payload (records back to back) in a byte array.
///
/// Producers encode every record they send, so this path avoids the per-field generic ByteBuffer
/// calls of `Record.encode` (which cost a producer of small records two thirds of its CPU) and
/// writes the same bytes with plain array appends.
public struct RecordPayloadWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var count = 0

    public init(reservingCapacity capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends one record (attributes 0). `timestampDelta` and `offsetDelta` are relative to the batch.
    public mutating func append(
        timestampDelta: Int64, offsetDelta: Int32, key: [UInt8]?, value: [UInt8]?,
        headers: [(key: [UInt8], value: [UInt8]?)] = []
    ) {
        var size = 1 + Self.varLongSize(timestampDelta) + Self.varLongSize(Int64(offsetDelta))
        size += Self.nullableSize(key) + Self.nullableSize(value) + Self.varLongSize(Int64(headers.count))
        for header in headers {
            size += Self.varLongSize(Int64(header.key.count)) + header.key.count + Self.nullableSize(header.value)
        }
        appendVarLong(Int64(size))
        bytes.append(0)
        appendVarLong(timestampDelta)
        appendVarLong(Int64(offsetDelta))
        appendNullable(key)
        appendNullable(value)
        appendVarLong(Int64(headers.count))
        for header in headers {
            appendVarLong(Int64(header.key.count))
            bytes.append(contentsOf: header.key)
            appendNullable(header.value)
        }
        count += 1
    }

    /// Appends one record's fields up to its headers; the caller then adds exactly `headerCount` headers
    /// with `appendHeader`, whose sizes (`headerSize`) it summed into `headersSize`. Lets a producer write
    /// string-keyed headers without building a byte array per header of every record.
    public mutating func appendRecord(
        timestampDelta: Int64, offsetDelta: Int32, key: [UInt8]?, value: [UInt8]?, headerCount: Int, headersSize: Int
    ) {
        var size = 1 + Self.varLongSize(timestampDelta) + Self.varLongSize(Int64(offsetDelta))
        size += Self.nullableSize(key) + Self.nullableSize(value) + Self.varLongSize(Int64(headerCount)) + headersSize
        appendVarLong(Int64(size))
        bytes.append(0)
        appendVarLong(timestampDelta)
        appendVarLong(Int64(offsetDelta))
        appendNullable(key)
        appendNullable(value)
        appendVarLong(Int64(headerCount))
        count += 1
    }

    /// One header of the record begun by `appendRecord`.
    public mutating func appendHeader(key: String, value: [UInt8]?) {
        // Read in place: copying the key to call the mutating `withUTF8` cost a retain and release per header.
        let written = key.utf8.withContiguousStorageIfAvailable { utf8 in
            appendVarLong(Int64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
        if written == nil {
            appendVarLong(Int64(key.utf8.count))
            bytes.append(contentsOf: key.utf8)
        }
        appendNullable(value)
    }

    /// A record's length, attributes and deltas, for a body written elsewhere (`EncodedRecords`).
    mutating func appendRecordPrefix(bodySize: Int, timestampDelta: Int64, offsetDelta: Int64) {
        let size = 1 + Self.varLongSize(timestampDelta) + Self.varLongSize(offsetDelta) + bodySize
        appendVarLong(Int64(size))
        bytes.append(0)
        appendVarLong(timestampDelta)
        appendVarLong(offsetDelta)
        count += 1
    }

    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// The encoded size of a header with a key of `keyBytes` UTF-8 bytes.
    public static func headerSize(keyBytes: Int, value: [UInt8]?) -> Int {
        varLongSize(Int64(keyBytes)) + keyBytes + nullableSize(value)
    }

    private mutating func appendNullable(_ field: [UInt8]?) {
        guard let field else {
            appendVarLong(-1)
            return
        }
        appendVarLong(Int64(field.count))
        bytes.append(contentsOf: field)
    }

    private mutating func appendVarLong(_ value: Int64) {
        var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        if zigzag < 0x80 {
            bytes.append(UInt8(zigzag))
            return
        }
        while zigzag >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
            zigzag >>= 7
        }
        bytes.append(UInt8(zigzag))
    }

    private static func nullableSize(_ field: [UInt8]?) -> Int {
        guard let field else { return 1 }
        return varLongSize(Int64(field.count)) + field.count
    }

    static func varLongSize(_ value: Int64) -> Int {
        var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var size = 1
        while zigzag >= 0x80 {
            zigzag >>= 7
            size += 1
        }
        return size
    }
}
