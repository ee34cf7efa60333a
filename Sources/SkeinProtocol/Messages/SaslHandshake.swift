import NIOCore

/// SaslHandshake (key 17), versions 1–1, never flexible: the client names its mechanism, and the broker
/// answers with the ones it has enabled.
///
/// Version 0 is not advertised. After a v0 handshake the SASL tokens travel as bare length-prefixed
/// blobs instead of SaslAuthenticate requests, a second framing on the same connection; every client
/// we test (librdkafka, kafka-python, aiokafka, the Java clients since 1.0) uses v1 with SaslAuthenticate
/// when the broker advertises it.
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
