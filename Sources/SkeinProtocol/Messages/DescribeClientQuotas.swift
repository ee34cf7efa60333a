import NIOCore

/// One part of a quota entity: its type (`user`, `client-id`, `ip`) and name, null for the type's default.
/// Shared by DescribeClientQuotas and AlterClientQuotas.
public struct ClientQuotaEntityPart: Equatable, Hashable, Sendable, WireStructure {
    public var entityType: String
    /// Null names the default entity of the type (`/users/<default>`).
    public var entityName: String?

    public init(entityType: String, entityName: String?) {
        self.entityType = entityType
        self.entityName = entityName
    }

    init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
        entityType = try buffer.readKafkaString(flexible: flexible)
        entityName = try buffer.readKafkaNullableString(flexible: flexible)
        try buffer.finishStructure(flexible: flexible)
    }

    func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
        try buffer.writeKafkaString(entityType, flexible: flexible)
        try buffer.writeKafkaNullableString(entityName, flexible: flexible)
        buffer.finishWritingStructure(flexible: flexible)
    }
}

extension ByteBuffer {
    /// Kafka's float64: an IEEE 754 double, big-endian, as its bit pattern.
    mutating func readKafkaFloat64() throws(ProtocolError) -> Double {
        Double(bitPattern: try readKafkaInteger(as: UInt64.self))
    }

    mutating func writeKafkaFloat64(_ value: Double) {
        writeInteger(value.bitPattern)
    }
}

/// DescribeClientQuotas (key 48), versions 0–1 (KIP-546): the quotas set on entities that match a filter.
public struct DescribeClientQuotasRequest: KafkaRequestMessage {
    public typealias Response = DescribeClientQuotasResponse
    public static let apiKey = ApiKey.describeClientQuotas

    /// How a filter component matches an entity type's name.
    public enum MatchType: Int8, Sendable {
        case exact = 0
        case defaultEntity = 1
        case any = 2
    }

    public struct Component: Equatable, Sendable, WireStructure {
        public var entityType: String
        /// Kept raw: an unknown value is the handler's INVALID_REQUEST to give, not a decoding failure.
        public var matchType: Int8
        /// The name for `exact`; null otherwise.
        public var match: String?

        public init(entityType: String, matchType: Int8, match: String? = nil) {
            self.entityType = entityType
            self.matchType = matchType
            self.match = match
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            entityType = try buffer.readKafkaString(flexible: flexible)
            matchType = try buffer.readKafkaInt8()
            match = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(entityType, flexible: flexible)
            buffer.writeInteger(matchType)
            try buffer.writeKafkaNullableString(match, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var components: [Component]
    /// Only entities made of exactly the filtered types match; otherwise entities with further types do too.
    public var strict: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(components: [Component], strict: Bool = false, unknownTaggedFields: [TaggedField] = []) {
        self.components = components
        self.strict = strict
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let components: [Component] = try buffer.readStructures(
            version: version, flexible: flexible, field: "Components")
        let strict = try buffer.readKafkaBool()
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DescribeClientQuotasRequest(components: components, strict: strict, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(components, version: version, flexible: flexible)
        buffer.writeKafkaBool(strict)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DescribeClientQuotasResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeClientQuotas

    public struct Value: Equatable, Sendable, WireStructure {
        public var key: String
        public var value: Double

        public init(key: String, value: Double) {
            self.key = key
            self.value = value
        }

        /// By bit pattern, so a NaN off the wire still equals itself after a round trip.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.key == rhs.key && lhs.value.bitPattern == rhs.value.bitPattern
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            key = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaFloat64()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(key, flexible: flexible)
            buffer.writeKafkaFloat64(value)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Entry: Equatable, Sendable, WireStructure {
        public var entity: [ClientQuotaEntityPart]
        public var values: [Value]

        public init(entity: [ClientQuotaEntityPart], values: [Value]) {
            self.entity = entity
            self.values = values
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            entity = try buffer.readStructures(version: version, flexible: flexible, field: "Entity")
            values = try buffer.readStructures(version: version, flexible: flexible, field: "Values")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeStructures(entity, version: version, flexible: flexible)
            try buffer.writeStructures(values, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// Null with an error.
    public var entries: [Entry]?
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
        entries: [Entry]? = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.entries = entries
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DescribeClientQuotasResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.errorCode = try buffer.readErrorCode()
        response.errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
        response.entries = try buffer.readNullableStructures(version: version, flexible: flexible)
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
        try buffer.writeNullableStructures(entries, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
