import NIOCore

/// One record inside a v2 RecordBatch.
///
/// Records use zigzag varints for every length and number, unlike the rest of the protocol (whose
/// compact lengths are unsigned varints of N + 1). A length of -1 means null for keys and values.
public struct Record: Equatable, Sendable {
    public struct Header: Equatable, Sendable {
        public var key: String
        public var value: ByteBuffer?

        public init(key: String, value: ByteBuffer?) {
            self.key = key
            self.value = value
        }
    }

    /// Unused by Kafka so far; kept so a record re-encodes byte for byte.
    public var attributes: Int8
    /// Milliseconds after the batch's base timestamp.
    public var timestampDelta: Int64
    /// Position after the batch's base offset.
    public var offsetDelta: Int32
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [Header]

    public init(
        attributes: Int8 = 0, timestampDelta: Int64 = 0, offsetDelta: Int32, key: ByteBuffer? = nil,
        value: ByteBuffer?, headers: [Header] = []
    ) {
        self.attributes = attributes
        self.timestampDelta = timestampDelta
        self.offsetDelta = offsetDelta
        self.key = key
        self.value = value
        self.headers = headers
    }

    // MARK: Encoding

    /// The size of everything after the record's own length prefix.
    var bodySize: Int {
        var size = 1  // attributes
        size += ByteBuffer.varIntSize(timestampDelta)
        size += ByteBuffer.varIntSize(Int64(offsetDelta))
        size += Self.nullableBytesSize(key)
        size += Self.nullableBytesSize(value)
        size += ByteBuffer.varIntSize(Int64(headers.count))
        for header in headers {
            let keyLength = header.key.utf8.count
            size += ByteBuffer.varIntSize(Int64(keyLength)) + keyLength
            size += Self.nullableBytesSize(header.value)
        }
        return size
    }

    private static func nullableBytesSize(_ bytes: ByteBuffer?) -> Int {
        guard let bytes else { return ByteBuffer.varIntSize(-1) }
        return ByteBuffer.varIntSize(Int64(bytes.readableBytes)) + bytes.readableBytes
    }

    public func encode(into buffer: inout ByteBuffer) throws(ProtocolError) {
        let size = bodySize
        guard size <= Int(Int32.max) else {
            throw ProtocolError.invalidRecordBatch("record of \(size) bytes is too large")
        }
        buffer.writeVarInt(Int32(size))
        buffer.writeInteger(attributes)
        buffer.writeVarLong(timestampDelta)
        buffer.writeVarInt(offsetDelta)
        Self.writeNullableBytes(key, into: &buffer)
        Self.writeNullableBytes(value, into: &buffer)
        buffer.writeVarInt(Int32(headers.count))
        for header in headers {
            buffer.writeVarInt(Int32(header.key.utf8.count))
            buffer.writeString(header.key)
            Self.writeNullableBytes(header.value, into: &buffer)
        }
    }

    private static func writeNullableBytes(_ bytes: ByteBuffer?, into buffer: inout ByteBuffer) {
        guard let bytes else {
            buffer.writeVarInt(-1)
            return
        }
        buffer.writeVarInt(Int32(bytes.readableBytes))
        buffer.writeImmutableBuffer(bytes)
    }

    /// Encodes records back to back: an uncompressed batch payload, or the input to a compressor.
    public static func encodeAll(_ records: [Record]) throws(ProtocolError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: records.reduce(0) { $0 + $1.bodySize + 5 })
        for record in records { try record.encode(into: &buffer) }
        return buffer
    }

    // MARK: Decoding

    /// Reads one record. Keys, values and header values are slices of `buffer` (no copy).
    public static func decode(from buffer: inout ByteBuffer) throws(ProtocolError) -> Record {
        let length = Int(try buffer.readVarInt())
        guard length >= 0 else { throw ProtocolError.invalidRecordBatch("negative record length \(length)") }
        guard length <= buffer.readableBytes else {
            throw ProtocolError.lengthExceedsInput(declared: length, available: buffer.readableBytes)
        }
        var body = buffer.readSlice(length: length)!
        let attributes = try body.readKafkaInt8()
        let timestampDelta = try body.readVarLong()
        let offsetDelta = try body.readVarInt()
        let key = try readNullableBytes(from: &body)
        let value = try readNullableBytes(from: &body)
        let headerCount = Int(try body.readVarInt())
        guard headerCount >= 0, headerCount <= body.readableBytes else {
            throw ProtocolError.invalidRecordBatch("invalid header count \(headerCount)")
        }
        var headers: [Header] = []
        headers.reserveCapacity(headerCount)
        for _ in 0..<headerCount {
            let keyLength = Int(try body.readVarInt())
            guard keyLength >= 0 else { throw ProtocolError.invalidRecordBatch("null or negative header key length") }
            guard keyLength <= body.readableBytes else {
                throw ProtocolError.lengthExceedsInput(declared: keyLength, available: body.readableBytes)
            }
            let headerKey = body.readString(length: keyLength)!
            headers.append(Header(key: headerKey, value: try readNullableBytes(from: &body)))
        }
        // A record whose declared length disagrees with its fields is corrupt, and leaving the
        // difference unread would desynchronise every record after it.
        guard body.readableBytes == 0 else {
            throw ProtocolError.invalidRecordBatch("record has \(body.readableBytes) bytes beyond its fields")
        }
        return Record(
            attributes: attributes, timestampDelta: timestampDelta, offsetDelta: offsetDelta, key: key, value: value,
            headers: headers)
    }

    private static func readNullableBytes(from buffer: inout ByteBuffer) throws(ProtocolError) -> ByteBuffer? {
        let length = Int(try buffer.readVarInt())
        if length == -1 { return nil }
        guard length >= 0 else { throw ProtocolError.invalidRecordBatch("invalid length \(length)") }
        guard length <= buffer.readableBytes else {
            throw ProtocolError.lengthExceedsInput(declared: length, available: buffer.readableBytes)
        }
        return buffer.readSlice(length: length)!
    }

    /// Decodes exactly `count` records filling `payload` (an uncompressed or decompressed batch
    /// payload); a count that disagrees with the bytes is corrupt either way.
    public static func decodeAll(from payload: ByteBuffer, count: Int) throws(ProtocolError) -> [Record] {
        guard count >= 0, count <= payload.readableBytes else {
            throw ProtocolError.invalidRecordBatch("records count \(count) does not fit \(payload.readableBytes) bytes")
        }
        var buffer = payload
        var records: [Record] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            records.append(try decode(from: &buffer))
        }
        guard buffer.readableBytes == 0 else {
            throw ProtocolError.invalidRecordBatch("\(buffer.readableBytes) bytes after the last record")
        }
        return records
    }
}
