import NIOCore

/// AlterUserScramCredentials (key 51), version 0, flexible (KIP-554): deletes and sets SCRAM credentials.
/// The client salts and iterates the password itself and sends only the result, so the password never
/// crosses the wire; the broker derives StoredKey and ServerKey from it.
public struct AlterUserScramCredentialsRequest: KafkaRequestMessage {
    public typealias Response = AlterUserScramCredentialsResponse
    public static let apiKey = ApiKey.alterUserScramCredentials

    public struct Deletion: Equatable, Sendable, WireStructure {
        public var name: String
        /// Kafka's mechanism numbers: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512 (0 is unknown).
        public var mechanism: Int8

        public init(name: String, mechanism: Int8) {
            self.name = name
            self.mechanism = mechanism
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            mechanism = try buffer.readKafkaInt8()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(mechanism)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Upsertion: Equatable, Sendable, WireStructure {
        public var name: String
        public var mechanism: Int8
        public var iterations: Int32
        public var salt: [UInt8]
        public var saltedPassword: [UInt8]

        public init(name: String, mechanism: Int8, iterations: Int32, salt: [UInt8], saltedPassword: [UInt8]) {
            self.name = name
            self.mechanism = mechanism
            self.iterations = iterations
            self.salt = salt
            self.saltedPassword = saltedPassword
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            mechanism = try buffer.readKafkaInt8()
            iterations = try buffer.readKafkaInt32()
            salt = Array(try buffer.readKafkaBytes(flexible: flexible).readableBytesView)
            saltedPassword = Array(try buffer.readKafkaBytes(flexible: flexible).readableBytesView)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(mechanism)
            buffer.writeInteger(iterations)
            try buffer.writeKafkaBytes(ByteBuffer(bytes: salt), flexible: flexible)
            try buffer.writeKafkaBytes(ByteBuffer(bytes: saltedPassword), flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var deletions: [Deletion]
    public var upsertions: [Upsertion]
    public var unknownTaggedFields: [TaggedField]

    public init(deletions: [Deletion] = [], upsertions: [Upsertion] = [], unknownTaggedFields: [TaggedField] = []) {
        self.deletions = deletions
        self.upsertions = upsertions
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var request = AlterUserScramCredentialsRequest()
        request.deletions = try buffer.readStructures(version: version, flexible: true, field: "Deletions")
        request.upsertions = try buffer.readStructures(version: version, flexible: true, field: "Upsertions")
        request.unknownTaggedFields = try buffer.readTaggedFields()
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeStructures(deletions, version: version, flexible: true)
        try buffer.writeStructures(upsertions, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct AlterUserScramCredentialsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.alterUserScramCredentials

    public struct Result: Equatable, Sendable, WireStructure {
        public var userName: String
        public var errorCode: ErrorCode
        public var errorMessage: String?

        public init(userName: String, errorCode: ErrorCode = .noError, errorMessage: String? = nil) {
            self.userName = userName
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            userName = try buffer.readKafkaString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(userName, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, results: [Result] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = AlterUserScramCredentialsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.results = try buffer.readStructures(version: version, flexible: true, field: "Results")
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(results, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
