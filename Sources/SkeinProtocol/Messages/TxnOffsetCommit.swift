import NIOCore

/// TxnOffsetCommit (key 28), versions 0–3: commits a consumer group's offsets inside a
/// transaction. The group coordinator keeps them pending until the transaction's marker; they
/// become visible to OffsetFetch only on commit.
public struct TxnOffsetCommitRequest: KafkaRequestMessage {
    public typealias Response = TxnOffsetCommitResponse
    public static let apiKey = ApiKey.txnOffsetCommit

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var committedOffset: Int64
        /// v2+.
        public var committedLeaderEpoch: Int32
        public var committedMetadata: String?

        public init(
            partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
            committedMetadata: String? = nil
        ) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.committedMetadata = committedMetadata
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            committedOffset = try buffer.readKafkaInt64()
            committedLeaderEpoch = version >= 2 ? try buffer.readKafkaInt32() : -1
            committedMetadata = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(committedOffset)
            if version >= 2 { buffer.writeInteger(committedLeaderEpoch) }
            try buffer.writeKafkaNullableString(committedMetadata, flexible: flexible)
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

    public var transactionalId: String
    public var groupId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    /// v3+: the consumer's generation, so the coordinator can refuse a zombie consumer's commit
    /// (KIP-447); -1 when the producer does not know it.
    public var generationId: Int32
    /// v3+.
    public var memberId: String
    /// v3+.
    public var groupInstanceId: String?
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String, groupId: String, producerId: Int64, producerEpoch: Int16, generationId: Int32 = -1,
        memberId: String = "", groupInstanceId: String? = nil, topics: [Topic], unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.groupId = groupId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = TxnOffsetCommitRequest(
            transactionalId: try buffer.readKafkaString(flexible: flexible),
            groupId: try buffer.readKafkaString(flexible: flexible), producerId: try buffer.readKafkaInt64(),
            producerEpoch: try buffer.readKafkaInt16(), topics: [])
        if version >= 3 {
            request.generationId = try buffer.readKafkaInt32()
            request.memberId = try buffer.readKafkaString(flexible: flexible)
            request.groupInstanceId = try buffer.readKafkaNullableString(flexible: flexible)
        }
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(transactionalId, flexible: flexible)
        try buffer.writeKafkaString(groupId, flexible: flexible)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        if version >= 3 {
            buffer.writeInteger(generationId)
            try buffer.writeKafkaString(memberId, flexible: flexible)
            try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible)
        }
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct TxnOffsetCommitResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.txnOffsetCommit

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var errorCode: ErrorCode

        public init(partitionIndex: Int32, errorCode: ErrorCode = .noError) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
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

    /// The code for a producer whose epoch is stale. Unlike the other transaction APIs, no version
    /// of TxnOffsetCommit's spec adds PRODUCER_FENCED, so every version gets INVALID_PRODUCER_EPOCH,
    /// which Java and librdkafka treat as fatal fencing here.
    public static func producerFencedError(version: Int16) -> ErrorCode {
        .invalidProducerEpoch
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = TxnOffsetCommitResponse(throttleTimeMs: try buffer.readKafkaInt32())
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
