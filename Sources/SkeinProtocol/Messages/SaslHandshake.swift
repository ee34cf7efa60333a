import NIOCore

/// SaslHandshake (key 17), versions 0–1, never flexible: the client names its mechanism, and the broker
/// answers with the ones it has enabled.
///
/// After a v0 handshake the SASL tokens travel as bare size-prefixed frames instead of SaslAuthenticate
/// requests (the broker handles that framing). v0 must be advertised anyway: librdkafka 2.0.2 (kcat,
/// rsyslog's omkafka) refuses SASL unless the SaslHandshake range includes 0, and then uses v1.
public struct SaslHandshakeRequest: KafkaRequestMessage {
    public typealias Response = SaslHandshakeResponse
    public static let apiKey = ApiKey.saslHandshake

    public var mechanism: String

    public init(mechanism: String) {
        self.mechanism = mechanism
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        return SaslHandshakeRequest(mechanism: try buffer.readKafkaString())
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeKafkaString(mechanism, flexible: false)
    }
}

public struct SaslHandshakeResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.saslHandshake

    public var errorCode: ErrorCode
    /// The mechanisms the broker has enabled, so a client with the wrong one can say which would do.
    public var mechanisms: [String]

    public init(errorCode: ErrorCode = .noError, mechanisms: [String] = []) {
        self.errorCode = errorCode
        self.mechanisms = mechanisms
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let errorCode = try buffer.readErrorCode()
        return SaslHandshakeResponse(errorCode: errorCode, mechanisms: try buffer.readKafkaStringArray(flexible: false))
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaStringArray(mechanisms, flexible: false)
    }
}
