import NIOCore

/// CreatePartitions (key 37), versions 0–3: grows topics to a new partition count.
public struct CreatePartitionsRequest: KafkaRequestMessage {
    public typealias Response = CreatePartitionsResponse
    public static let apiKey = ApiKey.createPartitions

    /// The brokers of one new partition's replicas.
    public struct Assignment: Equatable, Sendable, WireStructure {
        public var brokerIds: [Int32]

        public init(brokerIds: [Int32]) {
            self.brokerIds = brokerIds
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            brokerIds = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaInt32Array(brokerIds, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        /// The partition count the topic must have afterwards, not the number to add.
        public var count: Int32
        /// One entry per new partition, or null to let the broker place them.
        public var assignments: [Assignment]?

        public init(name: String, count: Int32, assignments: [Assignment]? = nil) {
            self.name = name
            self.count = count
            self.assignments = assignments
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            count = try buffer.readKafkaInt32()
            assignments = try buffer.readNullableStructures(version: version, flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(count)
            try buffer.writeNullableStructures(assignments, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var topics: [Topic]
    public var timeoutMs: Int32
    public var validateOnly: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        topics: [Topic], timeoutMs: Int32 = 60_000, validateOnly: Bool = false,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.validateOnly = validateOnly
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = CreatePartitionsRequest(topics: [])
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        request.timeoutMs = try buffer.readKafkaInt32()
        request.validateOnly = try buffer.readKafkaBool()
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        buffer.writeInteger(timeoutMs)
        buffer.writeKafkaBool(validateOnly)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct CreatePartitionsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.createPartitions

    public struct Result: Equatable, Sendable, WireStructure {
        public var name: String
        public var errorCode: ErrorCode
        public var errorMessage: String?

        public init(name: String, errorCode: ErrorCode = .noError, errorMessage: String? = nil) {
            self.name = name
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
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
        let flexible = apiKey.isFlexible(version)
        var response = CreatePartitionsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.results = try buffer.readStructures(version: version, flexible: flexible, field: "Results")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(results, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
