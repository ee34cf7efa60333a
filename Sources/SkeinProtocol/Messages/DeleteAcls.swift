import NIOCore

/// DeleteAcls (key 31), versions 0–3: v1 adds pattern types, v2 is flexible, v3 admits USER resources.
/// Each filter deletes every ACL it matches; the response lists them per filter.
public struct DeleteAclsRequest: KafkaRequestMessage {
    public typealias Response = DeleteAclsResponse
    public static let apiKey = ApiKey.deleteAcls

    public var filters: [AclFilter]
    public var unknownTaggedFields: [TaggedField]

    public init(filters: [AclFilter], unknownTaggedFields: [TaggedField] = []) {
        self.filters = filters
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let filters: [AclFilter] = try buffer.readStructures(version: version, flexible: flexible, field: "Filters")
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DeleteAclsRequest(filters: filters, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(filters, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DeleteAclsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.deleteAcls

    /// One ACL a filter matched, and whether deleting it worked.
    public struct MatchingAcl: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var resourceType: Int8
        public var resourceName: String
        /// v1+.
        public var patternType: Int8
        public var principal: String
        public var host: String
        public var operation: Int8
        public var permissionType: Int8

        public init(
            errorCode: ErrorCode = .noError, errorMessage: String? = nil, resourceType: Int8, resourceName: String,
            patternType: Int8 = AclPatternType.literal.rawValue, principal: String, host: String, operation: Int8,
            permissionType: Int8
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.patternType = patternType
            self.principal = principal
            self.host = host
            self.operation = operation
            self.permissionType = permissionType
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
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
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            if version >= 1 {
                buffer.writeInteger(patternType)
            } else if patternType != AclPatternType.literal.rawValue {
                throw .unrepresentable(field: "PatternType", reason: "v0 has only LITERAL patterns")
            }
            try buffer.writeKafkaString(principal, flexible: flexible)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(operation)
            buffer.writeInteger(permissionType)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct FilterResult: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var matchingAcls: [MatchingAcl]

        public init(errorCode: ErrorCode = .noError, errorMessage: String? = nil, matchingAcls: [MatchingAcl] = []) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.matchingAcls = matchingAcls
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            matchingAcls = try buffer.readStructures(version: version, flexible: flexible, field: "MatchingAcls")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            try buffer.writeStructures(matchingAcls, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var filterResults: [FilterResult]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, filterResults: [FilterResult] = [], unknownTaggedFields: [TaggedField] = [])
    {
        self.throttleTimeMs = throttleTimeMs
        self.filterResults = filterResults
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DeleteAclsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.filterResults = try buffer.readStructures(version: version, flexible: flexible, field: "FilterResults")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(filterResults, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
