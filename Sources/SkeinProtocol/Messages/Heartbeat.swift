import NIOCore

/// Heartbeat (key 12), versions 0–4: keeps a member alive and tells it when to rejoin.
public struct HeartbeatRequest: KafkaRequestMessage {
    public typealias Response = HeartbeatResponse
    public static let apiKey = ApiKey.heartbeat

    public var groupId: String
    public var generationId: Int32
    public var memberId: String
    /// v3+.
    public var groupInstanceId: String?
    public var unknownTaggedFields: [TaggedField]

    public init(
        groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = HeartbeatRequest(
            groupId: try buffer.readKafkaString(flexible: flexible), generationId: try buffer.readKafkaInt32(),
            memberId: try buffer.readKafkaString(flexible: flexible))
        if version >= 3 { request.groupInstanceId = try buffer.readKafkaNullableString(flexible: flexible) }
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
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct HeartbeatResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.heartbeat

    /// v1+.
    public var throttleTimeMs: Int32
    /// REBALANCE_IN_PROGRESS is how a member learns it must rejoin.
    public var errorCode: ErrorCode
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = HeartbeatResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.errorCode = try buffer.readErrorCode()
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        buffer.writeErrorCode(errorCode)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
