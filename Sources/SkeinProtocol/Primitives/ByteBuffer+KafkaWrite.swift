import NIOCore

// Writing Kafka primitive types; the mirror image of ByteBuffer+KafkaRead.swift.
//
// Fixed-width integers need no helper: NIO's `writeInteger` is big-endian by default, which is
// Kafka's byte order. Writers throw only where a value has no encoding (a null in a non-nullable
// field is caught by the message encoders; here it is lengths too large for their prefix).

extension ByteBuffer {
    public mutating func writeKafkaBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }

    // MARK: Varints

    public mutating func writeUnsignedVarInt(_ value: UInt32) {
        writeUnsignedVarLong(UInt64(value))
    }

    public mutating func writeUnsignedVarLong(_ value: UInt64) {
        var remaining = value
        while remaining >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        writeInteger(UInt8(remaining))
    }

    /// Zigzag encoding maps small negative numbers to small unsigned ones (-1 → 1, 1 → 2).
    public mutating func writeVarInt(_ value: Int32) {
        writeUnsignedVarInt(UInt32(bitPattern: (value << 1) ^ (value >> 31)))
    }

    public mutating func writeVarLong(_ value: Int64) {
        writeUnsignedVarLong(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// How many bytes `writeUnsignedVarLong` would take; used to size tagged fields and records.
    public static func unsignedVarIntSize(_ value: UInt64) -> Int {
        var size = 1
        var remaining = value >> 7
        while remaining != 0 {
            size += 1
            remaining >>= 7
        }
        return size
    }

    public static func varIntSize(_ value: Int64) -> Int {
        unsignedVarIntSize(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    // MARK: Lengths

    private mutating func writeInt16Length(_ length: Int, field: String) throws(ProtocolError) {
        guard length <= Int(Int16.max) else {
            throw ProtocolError.unrepresentable(field: field, reason: "\(length) bytes exceed an int16 length")
        }
        writeInteger(Int16(length))
    }

    private mutating func writeInt32Length(_ length: Int, field: String) throws(ProtocolError) {
        guard length <= Int(Int32.max) else {
            throw ProtocolError.unrepresentable(field: field, reason: "\(length) exceeds an int32 length")
        }
        writeInteger(Int32(length))
    }

    /// Compact lengths carry N + 1 so that 0 can mean null.
    private mutating func writeCompactLength(_ length: Int, field: String) throws(ProtocolError) {
        guard length < Int(Int32.max) else {
            throw ProtocolError.unrepresentable(field: field, reason: "\(length) exceeds a compact length")
        }
        writeUnsignedVarInt(UInt32(length + 1))
    }

    // MARK: Strings

    public mutating func writeKafkaString(_ value: String, flexible: Bool) throws(ProtocolError) {
        let length = value.utf8.count
        if flexible {
            try writeCompactLength(length, field: "string")
        } else {
            try writeInt16Length(length, field: "string")
        }
        writeString(value)
    }

    public mutating func writeKafkaNullableString(_ value: String?, flexible: Bool) throws(ProtocolError) {
        guard let value else {
            if flexible { writeUnsignedVarInt(0) } else { writeInteger(Int16(-1)) }
            return
        }
        try writeKafkaString(value, flexible: flexible)
    }

    // MARK: Bytes

    public mutating func writeKafkaBytes(_ value: ByteBuffer, flexible: Bool) throws(ProtocolError) {
        if flexible {
            try writeCompactLength(value.readableBytes, field: "bytes")
        } else {
            try writeInt32Length(value.readableBytes, field: "bytes")
        }
        writeImmutableBuffer(value)
    }

    public mutating func writeKafkaNullableBytes(_ value: ByteBuffer?, flexible: Bool) throws(ProtocolError) {
        guard let value else {
            writeNullLength(flexible: flexible)
            return
        }
        try writeKafkaBytes(value, flexible: flexible)
    }

    /// Writes only the length prefix of a bytes field whose content the caller sends separately
    /// (the zero-copy path for Fetch records).
    public mutating func writeKafkaBytesLength(_ length: Int, flexible: Bool) throws(ProtocolError) {
        if flexible {
            try writeCompactLength(length, field: "bytes")
        } else {
            try writeInt32Length(length, field: "bytes")
        }
    }

    /// The null marker for bytes and arrays: int32 -1, or compact 0.
    public mutating func writeNullLength(flexible: Bool) {
        if flexible { writeUnsignedVarInt(0) } else { writeInteger(Int32(-1)) }
    }

    // MARK: Arrays

    public mutating func writeKafkaArray<C: Collection>(
        _ elements: C,
        flexible: Bool,
        _ writeElement: (inout ByteBuffer, C.Element) throws(ProtocolError) -> Void
    ) throws(ProtocolError) {
        if flexible {
            try writeCompactLength(elements.count, field: "array")
        } else {
            try writeInt32Length(elements.count, field: "array")
        }
        for element in elements {
            try writeElement(&self, element)
        }
    }

    public mutating func writeKafkaNullableArray<C: Collection>(
        _ elements: C?,
        flexible: Bool,
        _ writeElement: (inout ByteBuffer, C.Element) throws(ProtocolError) -> Void
    ) throws(ProtocolError) {
        guard let elements else {
            writeNullLength(flexible: flexible)
            return
        }
        try writeKafkaArray(elements, flexible: flexible, writeElement)
    }

    public mutating func writeKafkaInt32Array(_ elements: [Int32], flexible: Bool) throws(ProtocolError) {
        try writeKafkaArray(elements, flexible: flexible) {
            (buffer: inout ByteBuffer, value: Int32) throws(ProtocolError) in
            buffer.writeInteger(value)
        }
    }

    public mutating func writeKafkaStringArray(_ elements: [String], flexible: Bool) throws(ProtocolError) {
        try writeKafkaArray(elements, flexible: flexible) {
            (buffer: inout ByteBuffer, value: String) throws(ProtocolError) in
            try buffer.writeKafkaString(value, flexible: flexible)
        }
    }

    public mutating func writeKafkaNullableStringArray(_ elements: [String]?, flexible: Bool) throws(ProtocolError) {
        try writeKafkaNullableArray(elements, flexible: flexible) {
            (buffer: inout ByteBuffer, value: String) throws(ProtocolError) in
            try buffer.writeKafkaString(value, flexible: flexible)
        }
    }
}
