import NIOCore

/// The request header that precedes every request body.
///
/// The API key is kept raw (`Int16`) because the broker must read the header of requests it cannot
/// serve (an unknown key, a too-new ApiVersions) to answer them or log them with a correlation ID.
public struct RequestHeader: Equatable, Sendable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// Present from header v1 on, which is every version we speak.
    public var clientId: String?
    /// Only header v2 has tagged fields; none are defined today.
    public var unknownTaggedFields: [TaggedField]

    public init(
        apiKey: Int16, apiVersion: Int16, correlationId: Int32, clientId: String?,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
        self.unknownTaggedFields = unknownTaggedFields
    }

    public init(api: ApiKey, apiVersion: Int16, correlationId: Int32, clientId: String?) {
        self.init(apiKey: api.rawValue, apiVersion: apiVersion, correlationId: correlationId, clientId: clientId)
    }

    /// The API, if it is one we implement.
    public var api: ApiKey? { ApiKey(rawValue: apiKey) }

    /// v2 when the API is known and the version flexible, else v1. An unknown API gets v1: the
    /// fields we need (key, version, correlation ID) come first either way.
    public var headerVersion: Int16 {
        api?.requestHeaderVersion(apiVersion) ?? 1
    }

    /// Reads a header, choosing v1 or v2 from the key and version it finds.
    public static func decode(from buffer: inout ByteBuffer) throws(ProtocolError) -> RequestHeader {
        let apiKey = try buffer.readKafkaInt16()
        let apiVersion = try buffer.readKafkaInt16()
        let correlationId = try buffer.readKafkaInt32()
        // The client ID stays a classic int16-prefixed string even in header v2, so that any
        // broker can read the header of an ApiVersions request whatever its version.
        let clientId = try buffer.readKafkaNullableString()
        var header = RequestHeader(
            apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, clientId: clientId)
        if header.headerVersion >= 2 {
            header.unknownTaggedFields = try buffer.readTaggedFields()
        }
        return header
    }

    public func encode(into buffer: inout ByteBuffer) throws(ProtocolError) {
        buffer.writeInteger(apiKey)
        buffer.writeInteger(apiVersion)
        buffer.writeInteger(correlationId)
        try buffer.writeKafkaNullableString(clientId, flexible: false)
        if headerVersion >= 2 {
            buffer.writeTaggedFields(unknownTaggedFields)
        }
    }
}

/// The response header: the correlation ID, plus tagged fields in v1.
public struct ResponseHeader: Equatable, Sendable {
    public var correlationId: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(correlationId: Int32, unknownTaggedFields: [TaggedField] = []) {
        self.correlationId = correlationId
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// `headerVersion` comes from `ApiKey.responseHeaderVersion(_:)`; the response itself does not
    /// say which it is.
    public static func decode(from buffer: inout ByteBuffer, headerVersion: Int16) throws(ProtocolError)
        -> ResponseHeader
    {
        var header = ResponseHeader(correlationId: try buffer.readKafkaInt32())
        if headerVersion >= 1 {
            header.unknownTaggedFields = try buffer.readTaggedFields()
        }
        return header
    }

    public func encode(into buffer: inout ByteBuffer, headerVersion: Int16) {
        buffer.writeInteger(correlationId)
        if headerVersion >= 1 {
            buffer.writeTaggedFields(unknownTaggedFields)
        }
    }
}
