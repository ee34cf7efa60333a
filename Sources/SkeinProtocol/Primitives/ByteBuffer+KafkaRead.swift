import NIOCore

// Reading Kafka primitive types.
//
// Every reader consumes from `readerIndex` and throws `ProtocolError` instead of returning nil or
// trapping, so message decoders are straight-line code with `try`. Length-prefixed values are
// checked against `readableBytes` before anything is allocated: a peer can declare a 2 GiB string
// in five bytes, and we must not believe it.
//
// The `flexible:` variants pick the classic encoding (int16/int32 length prefixes) or the compact
// one used by flexible versions (unsigned varint holding length + 1, where 0 means null).

extension ByteBuffer {
    // MARK: Fixed-width integers

    /// Reads a big-endian integer, which is how Kafka writes every fixed-width integer.
    @inlinable
    public mutating func readKafkaInteger<T: FixedWidthInteger>(as: T.Type = T.self) throws(ProtocolError) -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else {
            throw ProtocolError.truncated(needed: MemoryLayout<T>.size, available: readableBytes)
        }
        return value
    }

    public mutating func readKafkaInt8() throws(ProtocolError) -> Int8 { try readKafkaInteger() }
    public mutating func readKafkaInt16() throws(ProtocolError) -> Int16 { try readKafkaInteger() }
    public mutating func readKafkaInt32() throws(ProtocolError) -> Int32 { try readKafkaInteger() }
    public mutating func readKafkaInt64() throws(ProtocolError) -> Int64 { try readKafkaInteger() }
    public mutating func readKafkaUInt32() throws(ProtocolError) -> UInt32 { try readKafkaInteger() }

    /// Kafka booleans are one byte; like the Java reader we take any non-zero byte as true.
    public mutating func readKafkaBool() throws(ProtocolError) -> Bool {
        try readKafkaInteger(as: UInt8.self) != 0
    }

    // MARK: Varints

    /// An unsigned LEB128 varint of at most 5 bytes, as used for compact lengths and tag numbers.
    public mutating func readUnsignedVarInt() throws(ProtocolError) -> UInt32 {
        let value = try readUnsignedVarLong(maximumBytes: 5)
        guard value <= UInt64(UInt32.max) else { throw ProtocolError.malformedVarint }
        return UInt32(value)
    }

    /// An unsigned LEB128 varint of at most 10 bytes.
    public mutating func readUnsignedVarLong() throws(ProtocolError) -> UInt64 {
        try readUnsignedVarLong(maximumBytes: 10)
    }

    /// A zigzag-encoded signed varint (record fields inside a RecordBatch use these).
    public mutating func readVarInt() throws(ProtocolError) -> Int32 {
        let raw = try readUnsignedVarInt()
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// A zigzag-encoded signed varlong.
    public mutating func readVarLong() throws(ProtocolError) -> Int64 {
        let raw = try readUnsignedVarLong()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    private mutating func readUnsignedVarLong(maximumBytes: Int) throws(ProtocolError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var index = readerIndex
        for _ in 0..<maximumBytes {
            guard let byte = getInteger(at: index, as: UInt8.self) else {
                throw ProtocolError.truncated(needed: index - readerIndex + 1, available: readableBytes)
            }
            index += 1
            let payload = UInt64(byte & 0x7F)
            // Reject bits that would fall off the top instead of silently dropping them.
            if shift == 63 && payload > 1 { throw ProtocolError.malformedVarint }
            result |= payload << shift
            if byte & 0x80 == 0 {
                moveReaderIndex(to: index)
                return result
            }
            shift += 7
        }
        throw ProtocolError.malformedVarint
    }

    // MARK: Lengths

    /// Reads a classic int16 string length. Returns nil for -1 (null).
    private mutating func readInt16Length() throws(ProtocolError) -> Int? {
        let length = Int(try readKafkaInt16())
        if length == -1 { return nil }
        guard length >= 0 else { throw ProtocolError.invalidLength(length) }
        return length
    }

    /// Reads a classic int32 bytes/array length. Returns nil for -1 (null).
    private mutating func readInt32Length() throws(ProtocolError) -> Int? {
        let length = Int(try readKafkaInt32())
        if length == -1 { return nil }
        guard length >= 0 else { throw ProtocolError.invalidLength(length) }
        return length
    }

    /// Reads a compact length (unsigned varint of N + 1). Returns nil for 0 (null).
    private mutating func readCompactLength() throws(ProtocolError) -> Int? {
        let encoded = try readUnsignedVarInt()
        if encoded == 0 { return nil }
        let length = Int(encoded) - 1
        guard length <= Int(Int32.max) else { throw ProtocolError.invalidLength(length) }
        return length
    }

    private func checkAvailable(_ length: Int) throws(ProtocolError) {
        guard length <= readableBytes else {
            throw ProtocolError.lengthExceedsInput(declared: length, available: readableBytes)
        }
    }

    private mutating func readStringBody(length: Int) throws(ProtocolError) -> String {
        try checkAvailable(length)
        // Invalid UTF-8 is replaced rather than rejected, as the Java broker does; names that matter
        // (topics, groups) are validated by the broker against Kafka's character rules anyway.
        return readString(length: length)!
    }

    private mutating func readBytesBody(length: Int) throws(ProtocolError) -> ByteBuffer {
        try checkAvailable(length)
        return readSlice(length: length)!
    }

    // MARK: Strings

    public mutating func readKafkaString() throws(ProtocolError) -> String {
        guard let length = try readInt16Length() else { throw ProtocolError.unexpectedNull(field: "string") }
        return try readStringBody(length: length)
    }

    public mutating func readKafkaNullableString() throws(ProtocolError) -> String? {
        guard let length = try readInt16Length() else { return nil }
        return try readStringBody(length: length)
    }

    public mutating func readCompactString() throws(ProtocolError) -> String {
        guard let length = try readCompactLength() else { throw ProtocolError.unexpectedNull(field: "string") }
        return try readStringBody(length: length)
    }

    public mutating func readCompactNullableString() throws(ProtocolError) -> String? {
        guard let length = try readCompactLength() else { return nil }
        return try readStringBody(length: length)
    }

    public mutating func readKafkaString(flexible: Bool) throws(ProtocolError) -> String {
        flexible ? try readCompactString() : try readKafkaString()
    }

    public mutating func readKafkaNullableString(flexible: Bool) throws(ProtocolError) -> String? {
        flexible ? try readCompactNullableString() : try readKafkaNullableString()
    }

    // MARK: Bytes

    /// Bytes come back as a slice of this buffer: no copy, and they share its storage.
    public mutating func readKafkaBytes() throws(ProtocolError) -> ByteBuffer {
        guard let length = try readInt32Length() else { throw ProtocolError.unexpectedNull(field: "bytes") }
        return try readBytesBody(length: length)
    }

    public mutating func readKafkaNullableBytes() throws(ProtocolError) -> ByteBuffer? {
        guard let length = try readInt32Length() else { return nil }
        return try readBytesBody(length: length)
    }

    public mutating func readCompactBytes() throws(ProtocolError) -> ByteBuffer {
        guard let length = try readCompactLength() else { throw ProtocolError.unexpectedNull(field: "bytes") }
        return try readBytesBody(length: length)
    }

    public mutating func readCompactNullableBytes() throws(ProtocolError) -> ByteBuffer? {
        guard let length = try readCompactLength() else { return nil }
        return try readBytesBody(length: length)
    }

    public mutating func readKafkaBytes(flexible: Bool) throws(ProtocolError) -> ByteBuffer {
        flexible ? try readCompactBytes() : try readKafkaBytes()
    }

    public mutating func readKafkaNullableBytes(flexible: Bool) throws(ProtocolError) -> ByteBuffer? {
        flexible ? try readCompactNullableBytes() : try readKafkaNullableBytes()
    }

    // MARK: Arrays

    /// Reads an array's length prefix; nil means a null array.
    ///
    /// Every element of every array in the messages we decode takes at least one byte, so a count
    /// above `readableBytes` is a lie we can reject before reserving storage for it.
    private mutating func readArrayCount(flexible: Bool) throws(ProtocolError) -> Int? {
        let count = flexible ? try readCompactLength() : try readInt32Length()
        if let count { try checkAvailable(count) }
        return count
    }

    public mutating func readKafkaNullableArray<Element>(
        flexible: Bool,
        _ readElement: (inout ByteBuffer) throws(ProtocolError) -> Element
    ) throws(ProtocolError) -> [Element]? {
        guard let count = try readArrayCount(flexible: flexible) else { return nil }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try readElement(&self))
        }
        return elements
    }

    public mutating func readKafkaArray<Element>(
        flexible: Bool,
        field: String = "array",
        _ readElement: (inout ByteBuffer) throws(ProtocolError) -> Element
    ) throws(ProtocolError) -> [Element] {
        guard let elements = try readKafkaNullableArray(flexible: flexible, readElement) else {
            throw ProtocolError.unexpectedNull(field: field)
        }
        return elements
    }

    public mutating func readKafkaInt32Array(flexible: Bool) throws(ProtocolError) -> [Int32] {
        try readKafkaArray(flexible: flexible) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try buffer.readKafkaInt32()
        }
    }

    public mutating func readKafkaStringArray(flexible: Bool) throws(ProtocolError) -> [String] {
        try readKafkaArray(flexible: flexible) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try buffer.readKafkaString(flexible: flexible)
        }
    }

    public mutating func readKafkaNullableStringArray(flexible: Bool) throws(ProtocolError) -> [String]? {
        try readKafkaNullableArray(flexible: flexible) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try buffer.readKafkaString(flexible: flexible)
        }
    }
}
