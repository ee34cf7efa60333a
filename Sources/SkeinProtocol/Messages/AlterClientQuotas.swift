import NIOCore

/// AlterClientQuotas (key 49), versions 0–1 (KIP-546): sets or removes quota values of entities.
public struct AlterClientQuotasRequest: KafkaRequestMessage {
    public typealias Response = AlterClientQuotasResponse
    public static let apiKey = ApiKey.alterClientQuotas

    public struct Op: Equatable, Sendable, WireStructure {
        public var key: String
        /// Ignored when `remove`.
        public var value: Double
        public var remove: Bool

        public init(key: String, value: Double, remove: Bool = false) {
            self.key = key
            self.value = value
            self.remove = remove
        }

        /// By bit pattern, so a NaN off the wire still equals itself after a round trip.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.key == rhs.key && lhs.value.bitPattern == rhs.value.bitPattern && lhs.remove == rhs.remove
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            key = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaFloat64()
            remove = try buffer.readKafkaBool()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(key, flexible: flexible)
            buffer.writeKafkaFloat64(value)
            buffer.writeKafkaBool(remove)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Entry: Equatable, Sendable, WireStructure {
        public var entity: [ClientQuotaEntityPart]
        public var ops: [Op]

        public init(entity: [ClientQuotaEntityPart], ops: [Op]) {
            self.entity = entity
            self.ops = ops
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            entity = try buffer.readStructures(version: version, flexible: flexible, field: "Entity")
            ops = try buffer.readStructures(version: version, flexible: flexible, field: "Ops")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeStructures(entity, version: version, flexible: flexible)
            try buffer.writeStructures(ops, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var entries: [Entry]
    public var validateOnly: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(entries: [Entry], validateOnly: Bool = false, unknownTaggedFields: [TaggedField] = []) {
        self.entries = entries
        self.validateOnly = validateOnly
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let entries: [Entry] = try buffer.readStructures(version: version, flexible: flexible, field: "Entries")
        let validateOnly = try buffer.readKafkaBool()
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return AlterClientQuotasRequest(entries: entries, validateOnly: validateOnly, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(entries, version: version, flexible: flexible)
        buffer.writeKafkaBool(validateOnly)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct AlterClientQuotasResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.alterClientQuotas

    public struct Entry: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var entity: [ClientQuotaEntityPart]

        public init(errorCode: ErrorCode = .noError, errorMessage: String? = nil, entity: [ClientQuotaEntityPart]) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.entity = entity
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            entity = try buffer.readStructures(version: version, flexible: flexible, field: "Entity")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            try buffer.writeStructures(entity, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var entries: [Entry]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, entries: [Entry] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.entries = entries
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = AlterClientQuotasResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.entries = try buffer.readStructures(version: version, flexible: flexible, field: "Entries")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(entries, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
