import NIOCore

/// CreateTopics (key 19), versions 2–7.
public struct CreateTopicsRequest: KafkaRequestMessage {
    public typealias Response = CreateTopicsResponse
    public static let apiKey = ApiKey.createTopics

    public struct Assignment: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var brokerIds: [Int32]

        public init(partitionIndex: Int32, brokerIds: [Int32]) {
            self.partitionIndex = partitionIndex
            self.brokerIds = brokerIds
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            brokerIds = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            try buffer.writeKafkaInt32Array(brokerIds, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Config: Equatable, Sendable, WireStructure {
        public var name: String
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        /// -1 for the broker default (v4+) or when `assignments` is given.
        public var numPartitions: Int32
        public var replicationFactor: Int16
        public var assignments: [Assignment]
        public var configs: [Config]

        public init(
            name: String, numPartitions: Int32, replicationFactor: Int16, assignments: [Assignment] = [],
            configs: [Config] = []
        ) {
            self.name = name
            self.numPartitions = numPartitions
            self.replicationFactor = replicationFactor
            self.assignments = assignments
            self.configs = configs
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            numPartitions = try buffer.readKafkaInt32()
            replicationFactor = try buffer.readKafkaInt16()
            assignments = try buffer.readStructures(version: version, flexible: flexible, field: "Assignments")
            configs = try buffer.readStructures(version: version, flexible: flexible, field: "Configs")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(numPartitions)
            buffer.writeInteger(replicationFactor)
            try buffer.writeStructures(assignments, version: version, flexible: flexible)
            try buffer.writeStructures(configs, version: version, flexible: flexible)
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
        var request = CreateTopicsRequest(topics: [])
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        request.timeoutMs = try buffer.readKafkaInt32()
        request.validateOnly = try buffer.readKafkaBool()  // v1+, below our range
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

public struct CreateTopicsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.createTopics

    /// v5+: the configuration the topic ended up with.
    public struct Config: Equatable, Sendable, WireStructure {
        public var name: String
        public var value: String?
        public var readOnly: Bool
        public var configSource: Int8
        public var isSensitive: Bool

        public init(
            name: String, value: String?, readOnly: Bool = false, configSource: Int8 = -1,
            isSensitive: Bool = false
        ) {
            self.name = name
            self.value = value
            self.readOnly = readOnly
            self.configSource = configSource
            self.isSensitive = isSensitive
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaNullableString(flexible: flexible)
            readOnly = try buffer.readKafkaBool()
            configSource = try buffer.readKafkaInt8()
            isSensitive = try buffer.readKafkaBool()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.writeKafkaBool(readOnly)
            buffer.writeInteger(configSource)
            buffer.writeKafkaBool(isSensitive)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        /// v7+.
        public var topicId: KafkaUUID
        public var errorCode: ErrorCode
        public var errorMessage: String?
        /// Tagged (v5+, tag 0); 0 means not sent.
        public var topicConfigErrorCode: Int16
        /// v5+.
        public var numPartitions: Int32
        public var replicationFactor: Int16
        /// v5+; null when the configs are not returned (an error, or no permission).
        public var configs: [Config]?

        public init(
            name: String, topicId: KafkaUUID = .zero, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
            topicConfigErrorCode: Int16 = 0, numPartitions: Int32 = -1, replicationFactor: Int16 = -1,
            configs: [Config]? = []
        ) {
            self.name = name
            self.topicId = topicId
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.topicConfigErrorCode = topicConfigErrorCode
            self.numPartitions = numPartitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            topicId = version >= 7 ? try buffer.readKafkaUUID() : .zero
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            topicConfigErrorCode = 0
            if version >= 5 {
                numPartitions = try buffer.readKafkaInt32()
                replicationFactor = try buffer.readKafkaInt16()
                configs = try buffer.readNullableStructures(version: version, flexible: flexible)
            } else {
                numPartitions = -1
                replicationFactor = -1
                configs = []
            }
            if flexible {
                var configErrorCode: Int16 = 0
                _ = try buffer.readTaggedFields {
                    (tag: UInt32, field: inout ByteBuffer) throws(ProtocolError) -> Bool in
                    guard tag == 0 else { return false }
                    configErrorCode = try field.readKafkaInt16()
                    return true
                }
                topicConfigErrorCode = configErrorCode
            }
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            if version >= 7 { buffer.writeKafkaUUID(topicId) }
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            if version >= 5 {
                buffer.writeInteger(numPartitions)
                buffer.writeInteger(replicationFactor)
                try buffer.writeNullableStructures(configs, version: version, flexible: flexible)
            }
            if flexible {
                var tagged = TaggedFieldWriter()
                if topicConfigErrorCode != 0 {
                    try tagged.add(tag: 0) { (field: inout ByteBuffer) throws(ProtocolError) in
                        field.writeInteger(topicConfigErrorCode)
                    }
                }
                tagged.write(into: &buffer)
            }
        }
    }

    public var throttleTimeMs: Int32
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = CreateTopicsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()  // v2+, our range's start
        response.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
