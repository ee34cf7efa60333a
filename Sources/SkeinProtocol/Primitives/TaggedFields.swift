import NIOCore

/// One tagged field of a flexible-version structure, kept as raw bytes.
///
/// Flexible versions end every structure with a list of (tag, size, bytes). Receivers skip tags they
/// do not know, which is how Kafka adds optional fields without bumping a version. Decoders here
/// parse the tags this codec knows into typed properties and keep the rest of a message's top-level
/// tags in `unknownTaggedFields`, so a proxy or a test can see and re-emit them. Unknown tags in
/// nested structures are skipped: nothing we do needs them, and keeping them would put a noise
/// property on every nested type.
public struct TaggedField: Hashable, Sendable {
    public var tag: UInt32
    public var data: ByteBuffer

    public init(tag: UInt32, data: ByteBuffer) {
        self.tag = tag
        self.data = data
    }
}

extension ByteBuffer {
    /// Reads a tagged-field section. `readKnown` gets each field's bytes as its own buffer and
    /// returns true if it consumed the tag; it may leave bytes unread (a newer peer may have
    /// appended to a known struct). Fields it declines are returned.
    public mutating func readTaggedFields(
        _ readKnown: (UInt32, inout ByteBuffer) throws(ProtocolError) -> Bool = { _, _ in false }
    ) throws(ProtocolError) -> [TaggedField] {
        let count = try readUnsignedVarInt()
        guard count <= readableBytes else {
            throw ProtocolError.lengthExceedsInput(declared: Int(count), available: readableBytes)
        }
        var unknown: [TaggedField] = []
        var previousTag: UInt32?
        for _ in 0..<count {
            let tag = try readUnsignedVarInt()
            // The spec requires strictly ascending tags; duplicates would make "which value wins"
            // ambiguous between implementations.
            if let previousTag, tag <= previousTag {
                throw ProtocolError.malformedTaggedFields("tagged fields out of order: \(tag) after \(previousTag)")
            }
            previousTag = tag
            var data = try readKafkaBytesOfLength(Int(try readUnsignedVarInt()))
            if try !readKnown(tag, &data) {
                unknown.append(TaggedField(tag: tag, data: data))
            }
        }
        return unknown
    }

    /// Reads and discards a tagged-field section (nested structures whose tags we do not use).
    public mutating func skipTaggedFields() throws(ProtocolError) {
        _ = try readTaggedFields()
    }

    private mutating func readKafkaBytesOfLength(_ length: Int) throws(ProtocolError) -> ByteBuffer {
        guard length <= readableBytes else {
            throw ProtocolError.lengthExceedsInput(declared: length, available: readableBytes)
        }
        return readSlice(length: length)!
    }

    /// Writes a tagged-field section from fields that must already be in ascending tag order.
    public mutating func writeTaggedFields(_ fields: [TaggedField]) {
        writeUnsignedVarInt(UInt32(fields.count))
        for field in fields {
            writeUnsignedVarInt(field.tag)
            writeUnsignedVarInt(UInt32(field.data.readableBytes))
            writeImmutableBuffer(field.data)
        }
    }

    /// The common case: a structure with no tagged fields is one zero byte.
    public mutating func writeEmptyTaggedFields() {
        writeInteger(UInt8(0))
    }
}

/// Collects tagged fields for writing, merging typed ones with unknown ones kept from decoding.
struct TaggedFieldWriter {
    private(set) var fields: [TaggedField] = []

    init(preserving unknown: [TaggedField] = []) {
        fields = unknown
    }

    /// Adds a field whose body `write` produces; bodies are small, so a scratch buffer is fine.
    mutating func add(tag: UInt32, _ write: (inout ByteBuffer) throws(ProtocolError) -> Void) throws(ProtocolError) {
        var body = ByteBufferAllocator().buffer(capacity: 16)
        try write(&body)
        fields.removeAll { $0.tag == tag }
        fields.append(TaggedField(tag: tag, data: body))
    }

    func write(into buffer: inout ByteBuffer) {
        buffer.writeTaggedFields(fields.sorted { $0.tag < $1.tag })
    }
}
