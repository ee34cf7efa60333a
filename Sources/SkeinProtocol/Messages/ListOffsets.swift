import NIOCore

/// ListOffsets (key 2), versions 1–7: the offset for a timestamp, or the earliest/latest offset.
public struct ListOffsetsRequest: KafkaRequestMessage {
    public typealias Response = ListOffsetsResponse
    public static let apiKey = ApiKey.listOffsets

    /// Special timestamps a client sends instead of a time.
    public static let latestTimestamp: Int64 = -1
    public static let earliestTimestamp: Int64 = -2
    /// v7+ (KIP-734): the offset of the record with the largest timestamp.
    public static let maxTimestamp: Int64 = -3

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        /// v4+.
        public var currentLeaderEpoch: Int32
        public var timestamp: Int64

        public init(partitionIndex: Int32, currentLeaderEpoch: Int32 = -1, timestamp: Int64) {
            self.partitionIndex = partitionIndex
            self.currentLeaderEpoch = currentLeaderEpoch
            self.timestamp = timestamp
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            currentLeaderEpoch = version >= 4 ? try buffer.readKafkaInt32() : -1
            timestamp = try buffer.readKafkaInt64()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            if version >= 4 { buffer.writeInteger(currentLeaderEpoch) }
            buffer.writeInteger(timestamp)
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

    public var replicaId: Int32
    /// v2+.
    public var isolationLevel: Int8
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(
        replicaId: Int32 = -1, isolationLevel: Int8 = 0, topics: [Topic], unknownTaggedFields: [TaggedField] = []
    ) {
        self.replicaId = replicaId
        self.isolationLevel = isolationLevel
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = ListOffsetsRequest(topics: [])
        request.replicaId = try buffer.readKafkaInt32()
        if version >= 2 { request.isolationLevel = try buffer.readKafkaInt8() }
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(replicaId)
        if version >= 2 { buffer.writeInteger(isolationLevel) }
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct ListOffsetsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.listOffsets

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var errorCode: ErrorCode
        public var timestamp: Int64
        public var offset: Int64
        /// v4+.
        public var leaderEpoch: Int32

        public init(
            partitionIndex: Int32, errorCode: ErrorCode = .noError, timestamp: Int64 = -1, offset: Int64 = -1,
            leaderEpoch: Int32 = -1
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.timestamp = timestamp
            self.offset = offset
            self.leaderEpoch = leaderEpoch
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            timestamp = try buffer.readKafkaInt64()
            offset = try buffer.readKafkaInt64()
            leaderEpoch = version >= 4 ? try buffer.readKafkaInt32() : -1
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeErrorCode(errorCode)
            buffer.writeInteger(timestamp)
            buffer.writeInteger(offset)
            if version >= 4 { buffer.writeInteger(leaderEpoch) }
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

    /// v2+.
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
        var response = ListOffsetsResponse()
        if version >= 2 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 2 { buffer.writeInteger(throttleTimeMs) }
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
