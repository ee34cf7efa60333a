import NIOCore

/// DeleteTopics (key 20), versions 1–6.
public struct DeleteTopicsRequest: KafkaRequestMessage {
    public typealias Response = DeleteTopicsResponse
    public static let apiKey = ApiKey.deleteTopics

    /// A topic to delete, by name or (v6+) by ID.
    ///
    /// v1–5 carry only a list of names; v6 a list of (name, ID) pairs. One type for both keeps
    /// handlers version-agnostic: decoding v1–5 gives zero IDs, and encoding v1–5 requires names.
    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String?
        public var topicId: KafkaUUID

        public init(name: String?, topicId: KafkaUUID = .zero) {
            self.name = name
            self.topicId = topicId
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaNullableString(flexible: flexible)
            topicId = try buffer.readKafkaUUID()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaNullableString(name, flexible: flexible)
            buffer.writeKafkaUUID(topicId)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var topics: [Topic]
    public var timeoutMs: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(topics: [Topic], timeoutMs: Int32, unknownTaggedFields: [TaggedField] = []) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let topics: [Topic]
        if version >= 6 {
            topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        } else {
            topics = try buffer.readKafkaStringArray(flexible: flexible).map { Topic(name: $0) }
        }
        let timeoutMs = try buffer.readKafkaInt32()
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DeleteTopicsRequest(topics: topics, timeoutMs: timeoutMs, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 6 {
            try buffer.writeStructures(topics, version: version, flexible: flexible)
        } else {
            var names: [String] = []
            for topic in topics { names.append(try topic.name.required("TopicNames")) }
            try buffer.writeKafkaStringArray(names, flexible: flexible)
        }
        buffer.writeInteger(timeoutMs)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DeleteTopicsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.deleteTopics

    public struct Result: Equatable, Sendable, WireStructure {
        /// Nullable from v6 (a topic named by an unknown ID).
        public var name: String?
        /// v6+.
        public var topicId: KafkaUUID
        public var errorCode: ErrorCode
        /// v5+.
        public var errorMessage: String?

        public init(
            name: String?, topicId: KafkaUUID = .zero, errorCode: ErrorCode = .noError,
            errorMessage: String? = nil
        ) {
            self.name = name
            self.topicId = topicId
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            if version >= 6 {
                name = try buffer.readKafkaNullableString(flexible: flexible)
                topicId = try buffer.readKafkaUUID()
            } else {
                name = try buffer.readKafkaString(flexible: flexible)
                topicId = .zero
            }
            errorCode = try buffer.readErrorCode()
            errorMessage = version >= 5 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            if version >= 6 {
                try buffer.writeKafkaNullableString(name, flexible: flexible)
                buffer.writeKafkaUUID(topicId)
            } else {
                try buffer.writeKafkaString(try name.required("Responses.Name"), flexible: flexible)
            }
            buffer.writeErrorCode(errorCode)
            if version >= 5 { try buffer.writeKafkaNullableString(errorMessage, flexible: flexible) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var responses: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, responses: [Result] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DeleteTopicsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()  // v1+, our range's start
        response.responses = try buffer.readStructures(version: version, flexible: flexible, field: "Responses")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(responses, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
