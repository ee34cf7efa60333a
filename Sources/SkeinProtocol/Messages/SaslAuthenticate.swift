import NIOCore

/// SaslAuthenticate (key 36), versions 0–2 (flexible from 2): one SASL token each way, as many rounds as
/// the mechanism needs (one for PLAIN, two for SCRAM).
public struct SaslAuthenticateRequest: KafkaRequestMessage {
    public typealias Response = SaslAuthenticateResponse
    public static let apiKey = ApiKey.saslAuthenticate

    public var authBytes: [UInt8]
    public var unknownTaggedFields: [TaggedField]

    public init(authBytes: [UInt8], unknownTaggedFields: [TaggedField] = []) {
        self.authBytes = authBytes
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let bytes = try buffer.readKafkaBytes(flexible: flexible)
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return SaslAuthenticateRequest(authBytes: Array(bytes.readableBytesView), unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaBytes(ByteBuffer(bytes: authBytes), flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct SaslAuthenticateResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.saslAuthenticate

    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var authBytes: [UInt8]
    /// v1+: how long the session may last before the client must authenticate again (KIP-368); 0 is
    /// no limit, which is what this broker answers.
    public var sessionLifetimeMs: Int64
    public var unknownTaggedFields: [TaggedField]

    public init(
        errorCode: ErrorCode = .noError, errorMessage: String? = nil, authBytes: [UInt8] = [],
        sessionLifetimeMs: Int64 = 0, unknownTaggedFields: [TaggedField] = []
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.authBytes = authBytes
        self.sessionLifetimeMs = sessionLifetimeMs
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = SaslAuthenticateResponse()
        response.errorCode = try buffer.readErrorCode()
        response.errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
        response.authBytes = Array(try buffer.readKafkaBytes(flexible: flexible).readableBytesView)
        if version >= 1 { response.sessionLifetimeMs = try buffer.readKafkaInt64() }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
        try buffer.writeKafkaBytes(ByteBuffer(bytes: authBytes), flexible: flexible)
        if version >= 1 { buffer.writeInteger(sessionLifetimeMs) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
