import NIOCore

/// JoinGroup (key 11), versions 0–7: the first step of the classic group rebalance protocol.
public struct JoinGroupRequest: KafkaRequestMessage {
    public typealias Response = JoinGroupResponse
    public static let apiKey = ApiKey.joinGroup

    /// One assignment strategy the member supports, with its opaque subscription metadata.
    public struct GroupProtocol: Equatable, Sendable, WireStructure {
        public var name: String
        public var metadata: ByteBuffer

        public init(name: String, metadata: ByteBuffer) {
            self.name = name
            self.metadata = metadata
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            metadata = try buffer.readKafkaBytes(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaBytes(metadata, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var groupId: String
    public var sessionTimeoutMs: Int32
    /// v1+; -1 means "use the session timeout", which is what v0 implies.
    public var rebalanceTimeoutMs: Int32
    /// Empty on the first join; from v4 the coordinator answers MEMBER_ID_REQUIRED with an ID.
    public var memberId: String
    /// v5+: static membership.
    public var groupInstanceId: String?
    public var protocolType: String
    public var protocols: [GroupProtocol]
    public var unknownTaggedFields: [TaggedField]

    public init(
        groupId: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32 = -1, memberId: String = "",
        groupInstanceId: String? = nil, protocolType: String, protocols: [GroupProtocol],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.groupId = groupId
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocols = protocols
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let groupId = try buffer.readKafkaString(flexible: flexible)
        let sessionTimeoutMs = try buffer.readKafkaInt32()
        let rebalanceTimeoutMs = version >= 1 ? try buffer.readKafkaInt32() : -1
        let memberId = try buffer.readKafkaString(flexible: flexible)
        let groupInstanceId = version >= 5 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
        let protocolType = try buffer.readKafkaString(flexible: flexible)
        let protocols: [GroupProtocol] = try buffer.readStructures(
            version: version, flexible: flexible, field: "Protocols")
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return JoinGroupRequest(
            groupId: groupId, sessionTimeoutMs: sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeoutMs,
            memberId: memberId, groupInstanceId: groupInstanceId, protocolType: protocolType, protocols: protocols,
            unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(groupId, flexible: flexible)
        buffer.writeInteger(sessionTimeoutMs)
        if version >= 1 { buffer.writeInteger(rebalanceTimeoutMs) }
        try buffer.writeKafkaString(memberId, flexible: flexible)
        if version >= 5 { try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible) }
        try buffer.writeKafkaString(protocolType, flexible: flexible)
        try buffer.writeStructures(protocols, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct JoinGroupResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.joinGroup

    /// Sent to the leader only: every member's subscription, so it can compute the assignment.
    public struct Member: Equatable, Sendable, WireStructure {
        public var memberId: String
        /// v5+.
        public var groupInstanceId: String?
        public var metadata: ByteBuffer

        public init(memberId: String, groupInstanceId: String? = nil, metadata: ByteBuffer) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.metadata = metadata
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            memberId = try buffer.readKafkaString(flexible: flexible)
            groupInstanceId = version >= 5 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            metadata = try buffer.readKafkaBytes(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(memberId, flexible: flexible)
            if version >= 5 { try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible) }
            try buffer.writeKafkaBytes(metadata, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var generationId: Int32
    /// v7+.
    public var protocolType: String?
    /// Nullable from v7; earlier versions need a string (empty on errors).
    public var protocolName: String?
    public var leader: String
    public var memberId: String
    public var members: [Member]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, generationId: Int32 = -1,
        protocolType: String? = nil, protocolName: String? = "", leader: String = "", memberId: String = "",
        members: [Member] = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.generationId = generationId
        self.protocolType = protocolType
        self.protocolName = protocolName
        self.leader = leader
        self.memberId = memberId
        self.members = members
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = JoinGroupResponse()
        if version >= 2 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.errorCode = try buffer.readErrorCode()
        response.generationId = try buffer.readKafkaInt32()
        if version >= 7 {
            response.protocolType = try buffer.readKafkaNullableString(flexible: flexible)
            response.protocolName = try buffer.readKafkaNullableString(flexible: flexible)
        } else {
            response.protocolName = try buffer.readKafkaString(flexible: flexible)
        }
        response.leader = try buffer.readKafkaString(flexible: flexible)
        response.memberId = try buffer.readKafkaString(flexible: flexible)
        response.members = try buffer.readStructures(version: version, flexible: flexible, field: "Members")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 2 { buffer.writeInteger(throttleTimeMs) }
        buffer.writeErrorCode(errorCode)
        buffer.writeInteger(generationId)
        if version >= 7 {
            try buffer.writeKafkaNullableString(protocolType, flexible: flexible)
            try buffer.writeKafkaNullableString(protocolName, flexible: flexible)
        } else {
            try buffer.writeKafkaString(try protocolName.required("ProtocolName"), flexible: flexible)
        }
        try buffer.writeKafkaString(leader, flexible: flexible)
        try buffer.writeKafkaString(memberId, flexible: flexible)
        try buffer.writeStructures(members, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
