import NIOCore

/// LeaveGroup (key 13), versions 0–5.
///
/// v0–2 remove one member named at the top level; v3+ remove a batch (KIP-345). Both are modelled
/// as a member list: v0–2 requests decode to one member, encoding v0–2 requires exactly one, and
/// v0–2 responses carry only the top-level error code (`members` is dropped and decodes empty).
public struct LeaveGroupRequest: KafkaRequestMessage {
    public typealias Response = LeaveGroupResponse
    public static let apiKey = ApiKey.leaveGroup

    public struct Member: Equatable, Sendable, WireStructure {
        public var memberId: String
        /// v3+.
        public var groupInstanceId: String?
        /// v5+.
        public var reason: String?

        public init(memberId: String, groupInstanceId: String? = nil, reason: String? = nil) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.reason = reason
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            memberId = try buffer.readKafkaString(flexible: flexible)
            groupInstanceId = try buffer.readKafkaNullableString(flexible: flexible)
            reason = version >= 5 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(memberId, flexible: flexible)
            try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible)
            if version >= 5 { try buffer.writeKafkaNullableString(reason, flexible: flexible) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var groupId: String
    public var members: [Member]
    public var unknownTaggedFields: [TaggedField]

    public init(groupId: String, members: [Member], unknownTaggedFields: [TaggedField] = []) {
        self.groupId = groupId
        self.members = members
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = LeaveGroupRequest(groupId: try buffer.readKafkaString(flexible: flexible), members: [])
        if version <= 2 {
            request.members = [Member(memberId: try buffer.readKafkaString(flexible: flexible))]
        } else {
            request.members = try buffer.readStructures(version: version, flexible: flexible, field: "Members")
        }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(groupId, flexible: flexible)
        if version <= 2 {
            guard members.count == 1 else {
                throw ProtocolError.unrepresentable(field: "MemberId", reason: "v\(version) carries exactly one member")
            }
            try buffer.writeKafkaString(members[0].memberId, flexible: flexible)
        } else {
            try buffer.writeStructures(members, version: version, flexible: flexible)
        }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct LeaveGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.leaveGroup

    public struct Member: Equatable, Sendable, WireStructure {
        public var memberId: String
        public var groupInstanceId: String?
        public var errorCode: ErrorCode

        public init(memberId: String, groupInstanceId: String? = nil, errorCode: ErrorCode = .noError) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            memberId = try buffer.readKafkaString(flexible: flexible)
            groupInstanceId = try buffer.readKafkaNullableString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(memberId, flexible: flexible)
            try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    /// v3+.
    public var members: [Member]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, members: [Member] = [],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.members = members
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = LeaveGroupResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.errorCode = try buffer.readErrorCode()
        if version >= 3 {
            response.members = try buffer.readStructures(version: version, flexible: flexible, field: "Members")
        }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        buffer.writeErrorCode(errorCode)
        if version >= 3 { try buffer.writeStructures(members, version: version, flexible: flexible) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
