import NIOCore

/// DeleteRecords (key 21), versions 0–2: moves partitions' log start offsets forward.
public struct DeleteRecordsRequest: KafkaRequestMessage {
    public typealias Response = DeleteRecordsResponse
    public static let apiKey = ApiKey.deleteRecords

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        /// Records below this offset go; -1 means the high watermark (everything).
        public var offset: Int64

        public init(partitionIndex: Int32, offset: Int64) {
            self.partitionIndex = partitionIndex
            self.offset = offset
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            offset = try buffer.readKafkaInt64()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(offset)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitions: [Partition]

        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "Partitions")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var topics: [Topic]
    public var timeoutMs: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(topics: [Topic], timeoutMs: Int32 = 60_000, unknownTaggedFields: [TaggedField] = []) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let topics: [Topic] = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        let timeoutMs = try buffer.readKafkaInt32()
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DeleteRecordsRequest(topics: topics, timeoutMs: timeoutMs, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        buffer.writeInteger(timeoutMs)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DeleteRecordsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.deleteRecords

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        /// The log start offset after the deletion; -1 with an error.
        public var lowWatermark: Int64
        public var errorCode: ErrorCode

        public init(partitionIndex: Int32, lowWatermark: Int64 = -1, errorCode: ErrorCode = .noError) {
            self.partitionIndex = partitionIndex
            self.lowWatermark = lowWatermark
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            lowWatermark = try buffer.readKafkaInt64()
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(lowWatermark)
            buffer.writeErrorCode(errorCode)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitions: [Partition]

        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "Partitions")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
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
        var response = DeleteRecordsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
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
