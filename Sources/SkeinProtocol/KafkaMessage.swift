import NIOCore

/// A request or response body of one API, decodable and encodable in every supported version.
///
/// Conventions shared by every message type:
/// - Fields that a version does not have are skipped when encoding and take their Kafka default
///   (the spec's `"default"`, usually -1, null or empty) when decoding. Encoding a non-default value
///   into a version without the field silently drops it, as Kafka's generated code does for
///   ignorable fields; the handful of cases where dropping would change the meaning throw instead.
/// - Encoding null into a field the version declares non-nullable throws `unexpectedNull`.
/// - Versions outside `apiKey.supportedVersions` throw `unsupportedVersion` both ways.
public protocol KafkaMessage: Equatable, Sendable {
    static var apiKey: ApiKey { get }
    static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self
    func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError)
}

public protocol KafkaRequestMessage: KafkaMessage {
    associatedtype Response: KafkaResponseMessage
}

public protocol KafkaResponseMessage: KafkaMessage {}

extension KafkaMessage {
    /// Encodes into a fresh buffer; convenient for tests and the client, not the hot path.
    public func encoded(version: Int16) throws(ProtocolError) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        try encode(into: &buffer, version: version)
        return buffer
    }
}

extension Optional {
    /// Unwraps a value the wire format needs non-null in this version.
    @inlinable
    func required(_ field: String) throws(ProtocolError) -> Wrapped {
        guard let self else { throw ProtocolError.unexpectedNull(field: field) }
        return self
    }
}

/// A structure nested inside a message (an array element, usually). Internal: it only removes the
/// boilerplate of reading and writing arrays of them, and public API stays the message types.
///
/// Implementations read and write their own trailing tagged-field section when `flexible`.
protocol WireStructure {
    init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError)
    func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError)
}

extension ByteBuffer {
    mutating func readStructures<T: WireStructure>(
        _: T.Type = T.self, version: Int16, flexible: Bool, field: String
    ) throws(ProtocolError) -> [T] {
        try readKafkaArray(flexible: flexible, field: field) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try T(from: &buffer, version: version, flexible: flexible)
        }
    }

    mutating func readNullableStructures<T: WireStructure>(
        _: T.Type = T.self, version: Int16, flexible: Bool
    ) throws(ProtocolError) -> [T]? {
        try readKafkaNullableArray(flexible: flexible) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try T(from: &buffer, version: version, flexible: flexible)
        }
    }

    mutating func writeStructures<T: WireStructure>(_ elements: [T], version: Int16, flexible: Bool)
        throws(ProtocolError)
    {
        try writeKafkaArray(elements, flexible: flexible) {
            (buffer: inout ByteBuffer, element: T) throws(ProtocolError) in
            try element.encode(into: &buffer, version: version, flexible: flexible)
        }
    }

    mutating func writeNullableStructures<T: WireStructure>(_ elements: [T]?, version: Int16, flexible: Bool)
        throws(ProtocolError)
    {
        try writeKafkaNullableArray(elements, flexible: flexible) {
            (buffer: inout ByteBuffer, element: T) throws(ProtocolError) in
            try element.encode(into: &buffer, version: version, flexible: flexible)
        }
    }

    /// Ends a nested structure: skips its tagged fields when flexible.
    mutating func finishStructure(flexible: Bool) throws(ProtocolError) {
        if flexible { try skipTaggedFields() }
    }

    /// Ends a nested structure we write: an empty tagged-field section when flexible.
    mutating func finishWritingStructure(flexible: Bool) {
        if flexible { writeEmptyTaggedFields() }
    }
}
