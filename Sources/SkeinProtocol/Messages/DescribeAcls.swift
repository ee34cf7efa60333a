import NIOCore

/// Which ACLs a DescribeAcls or DeleteAcls request means. A null name, principal or host matches any;
/// the pattern type may also be ANY or MATCH (see `AclPatternType`), and operation and permission ANY.
/// The same fields in the same order in both APIs: DescribeAcls carries one at the top level, DeleteAcls
/// an array of them.
public struct AclFilter: Equatable, Sendable, WireStructure {
    public var resourceType: Int8
    public var resourceName: String?
    /// v1+; v0 filters are LITERAL.
    public var patternType: Int8
    public var principal: String?
    public var host: String?
    public var operation: Int8
    public var permissionType: Int8

    public init(
        resourceType: Int8 = AclResourceType.any.rawValue, resourceName: String? = nil,
        patternType: Int8 = AclPatternType.any.rawValue, principal: String? = nil, host: String? = nil,
        operation: Int8 = AclOperation.any.rawValue, permissionType: Int8 = AclPermissionType.any.rawValue
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permissionType = permissionType
    }

    /// Reads the fields without a trailing tagged-field section (DescribeAcls has the request's own).
    static func readFields(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError)
        -> AclFilter
    {
        let resourceType = try buffer.readKafkaInt8()
        let resourceName = try buffer.readKafkaNullableString(flexible: flexible)
        let patternType = version >= 1 ? try buffer.readKafkaInt8() : AclPatternType.literal.rawValue
        let principal = try buffer.readKafkaNullableString(flexible: flexible)
        let host = try buffer.readKafkaNullableString(flexible: flexible)
        let operation = try buffer.readKafkaInt8()
        let permissionType = try buffer.readKafkaInt8()
        return AclFilter(
            resourceType: resourceType, resourceName: resourceName, patternType: patternType, principal: principal,
            host: host, operation: operation, permissionType: permissionType)
    }

    func writeFields(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
        buffer.writeInteger(resourceType)
        try buffer.writeKafkaNullableString(resourceName, flexible: flexible)
        if version >= 1 {
            buffer.writeInteger(patternType)
        } else if patternType != AclPatternType.literal.rawValue {
            // A v0 peer would read it as LITERAL and match (or delete) other ACLs than meant.
            throw .unrepresentable(field: "PatternTypeFilter", reason: "v0 filters are LITERAL only")
        }
        try buffer.writeKafkaNullableString(principal, flexible: flexible)
        try buffer.writeKafkaNullableString(host, flexible: flexible)
        buffer.writeInteger(operation)
        buffer.writeInteger(permissionType)
    }

    init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
        self = try Self.readFields(from: &buffer, version: version, flexible: flexible)
        try buffer.finishStructure(flexible: flexible)
    }

    func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
        try writeFields(into: &buffer, version: version, flexible: flexible)
        buffer.finishWritingStructure(flexible: flexible)
    }
}

/// DescribeAcls (key 29), versions 0–3: v1 adds pattern types, v2 is flexible, v3 admits USER resources.
public struct DescribeAclsRequest: KafkaRequestMessage {
    public typealias Response = DescribeAclsResponse
    public static let apiKey = ApiKey.describeAcls

    public var filter: AclFilter
    public var unknownTaggedFields: [TaggedField]

    public init(filter: AclFilter = AclFilter(), unknownTaggedFields: [TaggedField] = []) {
        self.filter = filter
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let filter = try AclFilter.readFields(from: &buffer, version: version, flexible: flexible)
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DescribeAclsRequest(filter: filter, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try filter.writeFields(into: &buffer, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DescribeAclsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeAcls

    /// One principal's rule on the enclosing resource pattern.
    public struct AclDescription: Equatable, Sendable, WireStructure {
        public var principal: String
        public var host: String
        public var operation: Int8
        public var permissionType: Int8

        public init(principal: String, host: String, operation: Int8, permissionType: Int8) {
            self.principal = principal
            self.host = host
            self.operation = operation
            self.permissionType = permissionType
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            principal = try buffer.readKafkaString(flexible: flexible)
            host = try buffer.readKafkaString(flexible: flexible)
            operation = try buffer.readKafkaInt8()
            permissionType = try buffer.readKafkaInt8()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(principal, flexible: flexible)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(operation)
            buffer.writeInteger(permissionType)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// A resource pattern and the ACLs on it.
    public struct Resource: Equatable, Sendable, WireStructure {
        public var resourceType: Int8
        public var resourceName: String
        /// v1+.
        public var patternType: Int8
        public var acls: [AclDescription]

        public init(
            resourceType: Int8, resourceName: String, patternType: Int8 = AclPatternType.literal.rawValue,
            acls: [AclDescription]
        ) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.patternType = patternType
            self.acls = acls
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            patternType = version >= 1 ? try buffer.readKafkaInt8() : AclPatternType.literal.rawValue
            acls = try buffer.readStructures(version: version, flexible: flexible, field: "Acls")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            if version >= 1 {
                buffer.writeInteger(patternType)
            } else if patternType != AclPatternType.literal.rawValue {
                throw .unrepresentable(field: "PatternType", reason: "v0 has only LITERAL patterns")
            }
            try buffer.writeStructures(acls, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var resources: [Resource]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
        resources: [Resource] = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.resources = resources
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DescribeAclsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.errorCode = try buffer.readErrorCode()
        response.errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
        response.resources = try buffer.readStructures(version: version, flexible: flexible, field: "Resources")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
        try buffer.writeStructures(resources, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
