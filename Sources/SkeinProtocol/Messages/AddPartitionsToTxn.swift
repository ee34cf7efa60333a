import NIOCore

/// AddPartitionsToTxn (key 24), versions 0–3: a transactional producer registers the partitions it
/// is about to write before its first batch to each, so that EndTxn knows where to put markers.
/// v4+ is the broker-to-broker batched form of KIP-890 (many transactions per request), which no
/// client sends; we stop below it.
public struct AddPartitionsToTxnRequest: KafkaRequestMessage {
    public typealias Response = AddPartitionsToTxnResponse
    public static let apiKey = ApiKey.addPartitionsToTxn

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitions: [Int32]

        public init(name: String, partitions: [Int32]) {
            self.name = name
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitions, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// Kafka calls these fields `V3AndBelow…`; the names here are the ones a client thinks in.
    public var transactionalId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, topics: [Topic],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = AddPartitionsToTxnRequest(
            transactionalId: try buffer.readKafkaString(flexible: flexible), producerId: try buffer.readKafkaInt64(),
            producerEpoch: try buffer.readKafkaInt16(), topics: [])
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "V3AndBelowTopics")
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(transactionalId, flexible: flexible)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct AddPartitionsToTxnResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.addPartitionsToTxn

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
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "ResultsByPartition")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    /// Kafka's `ResultsByTopicV3AndBelow`.
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, topics: [Topic] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// The code for a producer whose epoch is stale: v2 introduced PRODUCER_FENCED, and older
    /// clients only know INVALID_PRODUCER_EPOCH as the fatal "you were fenced" answer.
    public static func producerFencedError(version: Int16) -> ErrorCode {
        version >= 2 ? .producerFenced : .invalidProducerEpoch
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = AddPartitionsToTxnResponse(throttleTimeMs: try buffer.readKafkaInt32())
        response.topics = try buffer.readStructures(
            version: version, flexible: flexible, field: "ResultsByTopicV3AndBelow")
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
