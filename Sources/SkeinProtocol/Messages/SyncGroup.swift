import NIOCore

/// SyncGroup (key 14), versions 0–5: the leader hands in the assignment, every member gets its own.
public struct SyncGroupRequest: KafkaRequestMessage {
    public typealias Response = SyncGroupResponse
    public static let apiKey = ApiKey.syncGroup

    public struct Assignment: Equatable, Sendable, WireStructure {
        public var memberId: String
        public var assignment: ByteBuffer

        public init(memberId: String, assignment: ByteBuffer) {
            self.memberId = memberId
            self.assignment = assignment
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            memberId = try buffer.readKafkaString(flexible: flexible)
            assignment = try buffer.readKafkaBytes(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(memberId, flexible: flexible)
            try buffer.writeKafkaBytes(assignment, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    /// v3+.
    public var groupInstanceId: String?
    /// v5+: checked against what the member joined with.
    public var protocolType: String?
    public var protocolName: String?
    /// Only the leader's request carries assignments; followers send an empty list.
    public var assignments: [Assignment]
    public var unknownTaggedFields: [TaggedField]

    public init(
        groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil,
        protocolType: String? = nil, protocolName: String? = nil, assignments: [Assignment] = [],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignments = assignments
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = SyncGroupRequest(
            groupId: try buffer.readKafkaString(flexible: flexible), generationId: try buffer.readKafkaInt32(),
            memberId: try buffer.readKafkaString(flexible: flexible))
        if version >= 3 { request.groupInstanceId = try buffer.readKafkaNullableString(flexible: flexible) }
        if version >= 5 {
            request.protocolType = try buffer.readKafkaNullableString(flexible: flexible)
            request.protocolName = try buffer.readKafkaNullableString(flexible: flexible)
        }
        request.assignments = try buffer.readStructures(version: version, flexible: flexible, field: "Assignments")
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(groupId, flexible: flexible)
        buffer.writeInteger(generationId)
        try buffer.writeKafkaString(memberId, flexible: flexible)
        if version >= 3 { try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible) }
        if version >= 5 {
            try buffer.writeKafkaNullableString(protocolType, flexible: flexible)
            try buffer.writeKafkaNullableString(protocolName, flexible: flexible)
        }
        try buffer.writeStructures(assignments, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct SyncGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.syncGroup

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    /// v5+.
    public var protocolType: String?
    public var protocolName: String?
    public var assignment: ByteBuffer
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, protocolType: String? = nil,
        protocolName: String? = nil, assignment: ByteBuffer = ByteBuffer(), unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.assignment = assignment
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = SyncGroupResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.errorCode = try buffer.readErrorCode()
        if version >= 5 {
            response.protocolType = try buffer.readKafkaNullableString(flexible: flexible)
            response.protocolName = try buffer.readKafkaNullableString(flexible: flexible)
        }
        response.assignment = try buffer.readKafkaBytes(flexible: flexible)
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        buffer.writeErrorCode(errorCode)
        if version >= 5 {
            try buffer.writeKafkaNullableString(protocolType, flexible: flexible)
            try buffer.writeKafkaNullableString(protocolName, flexible: flexible)
        }
        try buffer.writeKafkaBytes(assignment, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
