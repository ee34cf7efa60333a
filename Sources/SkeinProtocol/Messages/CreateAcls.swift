import NIOCore

/// CreateAcls (key 30), versions 0–3: v1 adds the resource pattern type (KIP-290), v2 is flexible, v3 only
/// admits the USER resource type, so its layout is v2's.
public struct CreateAclsRequest: KafkaRequestMessage {
    public typealias Response = CreateAclsResponse
    public static let apiKey = ApiKey.createAcls

    public struct Creation: Equatable, Sendable, WireStructure {
        public var resourceType: Int8
        public var resourceName: String
        /// v1+; v0 creations are LITERAL.
        public var patternType: Int8
        public var principal: String
        public var host: String
        public var operation: Int8
        public var permissionType: Int8

        public init(
            resourceType: Int8, resourceName: String, patternType: Int8 = AclPatternType.literal.rawValue,
            principal: String, host: String = "*", operation: Int8, permissionType: Int8
        ) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.patternType = patternType
            self.principal = principal
            self.host = host
            self.operation = operation
            self.permissionType = permissionType
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            patternType = version >= 1 ? try buffer.readKafkaInt8() : AclPatternType.literal.rawValue
            principal = try buffer.readKafkaString(flexible: flexible)
            host = try buffer.readKafkaString(flexible: flexible)
            operation = try buffer.readKafkaInt8()
            permissionType = try buffer.readKafkaInt8()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            if version >= 1 {
                buffer.writeInteger(patternType)
            } else if patternType != AclPatternType.literal.rawValue {
                // Dropping it would turn a prefixed ACL into a literal one.
                throw .unrepresentable(field: "ResourcePatternType", reason: "v0 has only LITERAL patterns")
            }
            try buffer.writeKafkaString(principal, flexible: flexible)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(operation)
            buffer.writeInteger(permissionType)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var creations: [Creation]
    public var unknownTaggedFields: [TaggedField]

    public init(creations: [Creation], unknownTaggedFields: [TaggedField] = []) {
        self.creations = creations
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let creations: [Creation] = try buffer.readStructures(version: version, flexible: flexible, field: "Creations")
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return CreateAclsRequest(creations: creations, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(creations, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct CreateAclsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.createAcls

    /// One per creation, in the request's order.
    public struct Result: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?

        public init(errorCode: ErrorCode = .noError, errorMessage: String? = nil) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, results: [Result] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = CreateAclsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.results = try buffer.readStructures(version: version, flexible: flexible, field: "Results")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(results, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
