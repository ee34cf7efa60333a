/// A record decoded straight into arrays, for consumers that hand records to application code.
public struct RawRecord: Sendable, Equatable {
    public var timestampDelta: Int64
    public var offsetDelta: Int32
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [RawHeader]
}

public struct RawHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?
}

/// Decodes a RecordBatch payload (uncompressed records back to back) from raw bytes.
///
/// `Record.decodeAll` reads through ByteBuffer's generic integer readers, which dominated a
/// consumer's profile; this walks the bytes with a cursor, with the same validation: every length
/// is bounded by the record it sits in, and the payload must hold exactly `count` records.
public enum RecordPayloadReader {
    public static func decode(_ payload: UnsafeRawBufferPointer, count: Int) throws(ProtocolError) -> [RawRecord] {
        guard count >= 0, count <= payload.count else {
            throw .invalidRecordBatch("records count \(count) does not fit \(payload.count) bytes")
        }
        var cursor = Cursor(bytes: payload, position: 0, end: payload.count)
        var records: [RawRecord] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            let length = Int(try cursor.varLong())
            guard length >= 0, length <= cursor.remaining else {
                throw .lengthExceedsInput(declared: length, available: cursor.remaining)
            }
            var body = Cursor(bytes: payload, position: cursor.position, end: cursor.position + length)
            cursor.position += length
            _ = try body.byte()  // attributes, unused in v2 records
            let timestampDelta = try body.varLong()
            let offsetDelta = try body.varLong()
            guard let offsetDelta32 = Int32(exactly: offsetDelta) else {
                throw .invalidRecordBatch("offset delta \(offsetDelta) out of range")
            }
            let key = try body.nullableBytes()
            let value = try body.nullableBytes()
            let headerCount = Int(try body.varLong())
            guard headerCount >= 0, headerCount <= body.remaining else {
                throw .invalidRecordBatch("invalid header count \(headerCount)")
            }
            var headers: [RawHeader] = []
            if headerCount > 0 {
                headers.reserveCapacity(headerCount)
                for _ in 0..<headerCount {
                    guard let keyBytes = try body.nullableBytes() else {
                        throw .invalidRecordBatch("null header key")
                    }
                    headers.append(
                        RawHeader(key: String(decoding: keyBytes, as: UTF8.self), value: try body.nullableBytes()))
                }
            }
            guard body.remaining == 0 else {
                throw .invalidRecordBatch("\(body.remaining) bytes after the fields of a record")
            }
            records.append(
                RawRecord(
                    timestampDelta: timestampDelta, offsetDelta: offsetDelta32, key: key, value: value, headers: headers
                ))
        }
        guard cursor.remaining == 0 else {
            throw .invalidRecordBatch("\(cursor.remaining) bytes after the last record")
        }
        return records
    }

    private struct Cursor {
        let bytes: UnsafeRawBufferPointer
        var position: Int
        let end: Int

        var remaining: Int { end - position }

        mutating func byte() throws(ProtocolError) -> UInt8 {
            guard position < end else { throw .truncated(needed: 1, available: 0) }
            defer { position += 1 }
            return bytes[position]
        }

        /// A zigzag varint of up to 10 bytes.
        mutating func varLong() throws(ProtocolError) -> Int64 {
            var raw: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < end else { throw .malformedVarint }
                let byte = bytes[position]
                position += 1
                raw |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { break }
                shift += 7
                guard shift < 70 else { throw .malformedVarint }
            }
            return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
        }

        mutating func nullableBytes() throws(ProtocolError) -> [UInt8]? {
            let length = Int(try varLong())
            if length == -1 { return nil }
            guard length >= 0, length <= remaining else {
                throw .lengthExceedsInput(declared: length, available: Swift.max(remaining, 0))
            }
            defer { position += length }
            return Array(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)]))
        }
    }
}
