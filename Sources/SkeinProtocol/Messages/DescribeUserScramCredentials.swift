import NIOCore

/// DescribeUserScramCredentials (key 50), version 0, flexible (KIP-554): which users have SCRAM
/// credentials, for which mechanisms and with how many iterations. Never the salts or keys.
public struct DescribeUserScramCredentialsRequest: KafkaRequestMessage {
    public typealias Response = DescribeUserScramCredentialsResponse
    public static let apiKey = ApiKey.describeUserScramCredentials

    public struct User: Equatable, Sendable, WireStructure {
        public var name: String

        public init(name: String) { self.name = name }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// Nil (or empty, for Kafka's tools) asks for every user.
    public var users: [User]?
    public var unknownTaggedFields: [TaggedField]

    public init(users: [User]? = nil, unknownTaggedFields: [TaggedField] = []) {
        self.users = users
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var request = DescribeUserScramCredentialsRequest()
        request.users = try buffer.readNullableStructures(version: version, flexible: true)
        request.unknownTaggedFields = try buffer.readTaggedFields()
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeNullableStructures(users, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct DescribeUserScramCredentialsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeUserScramCredentials

    public struct CredentialInfo: Equatable, Sendable, WireStructure {
        public var mechanism: Int8
        public var iterations: Int32

        public init(mechanism: Int8, iterations: Int32) {
            self.mechanism = mechanism
            self.iterations = iterations
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            mechanism = try buffer.readKafkaInt8()
            iterations = try buffer.readKafkaInt32()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(mechanism)
            buffer.writeInteger(iterations)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Result: Equatable, Sendable, WireStructure {
        public var user: String
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var credentialInfos: [CredentialInfo]

        public init(
            user: String, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
            credentialInfos: [CredentialInfo] = []
        ) {
            self.user = user
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.credentialInfos = credentialInfos
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            user = try buffer.readKafkaString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            credentialInfos = try buffer.readStructures(version: version, flexible: flexible, field: "CredentialInfos")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(user, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            try buffer.writeStructures(credentialInfos, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var results: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
        results: [Result] = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.results = results
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = DescribeUserScramCredentialsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.errorCode = try buffer.readErrorCode()
        response.errorMessage = try buffer.readKafkaNullableString(flexible: true)
        response.results = try buffer.readStructures(version: version, flexible: true, field: "Results")
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaNullableString(errorMessage, flexible: true)
        try buffer.writeStructures(results, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
