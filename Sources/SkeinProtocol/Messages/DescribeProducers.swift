import NIOCore

/// DescribeProducers (key 61), version 0 (flexible): the idempotent and transactional producers a
/// partition's leader tracks.
public struct DescribeProducersRequest: KafkaRequestMessage {
    public typealias Response = DescribeProducersResponse
    public static let apiKey = ApiKey.describeProducers

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitionIndexes: [Int32]

        public init(name: String, partitionIndexes: [Int32]) {
            self.name = name
            self.partitionIndexes = partitionIndexes
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitionIndexes = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitionIndexes, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(topics: [Topic], unknownTaggedFields: [TaggedField] = []) {
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let topics: [Topic] = try buffer.readStructures(version: version, flexible: true, field: "Topics")
        return DescribeProducersRequest(topics: topics, unknownTaggedFields: try buffer.readTaggedFields())
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeStructures(topics, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct DescribeProducersResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeProducers

    public struct ProducerState: Equatable, Sendable, WireStructure {
        public var producerId: Int64
        /// An int32 on the wire, though epochs are int16 everywhere else.
        public var producerEpoch: Int32
        public var lastSequence: Int32
        public var lastTimestamp: Int64
        public var coordinatorEpoch: Int32
        /// The first offset of the producer's open transaction, -1 without one.
        public var currentTxnStartOffset: Int64

        public init(
            producerId: Int64, producerEpoch: Int32, lastSequence: Int32 = -1, lastTimestamp: Int64 = -1,
            coordinatorEpoch: Int32 = -1, currentTxnStartOffset: Int64 = -1
        ) {
            self.producerId = producerId
            self.producerEpoch = producerEpoch
            self.lastSequence = lastSequence
            self.lastTimestamp = lastTimestamp
            self.coordinatorEpoch = coordinatorEpoch
            self.currentTxnStartOffset = currentTxnStartOffset
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            producerId = try buffer.readKafkaInt64()
            producerEpoch = try buffer.readKafkaInt32()
            lastSequence = try buffer.readKafkaInt32()
            lastTimestamp = try buffer.readKafkaInt64()
            coordinatorEpoch = try buffer.readKafkaInt32()
            currentTxnStartOffset = try buffer.readKafkaInt64()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(producerId)
            buffer.writeInteger(producerEpoch)
            buffer.writeInteger(lastSequence)
            buffer.writeInteger(lastTimestamp)
            buffer.writeInteger(coordinatorEpoch)
            buffer.writeInteger(currentTxnStartOffset)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var activeProducers: [ProducerState]

        public init(
            partitionIndex: Int32, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
            activeProducers: [ProducerState] = []
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.activeProducers = activeProducers
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            activeProducers = try buffer.readStructures(version: version, flexible: flexible, field: "ActiveProducers")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            try buffer.writeStructures(activeProducers, version: version, flexible: flexible)
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
        var response = DescribeProducersResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.topics = try buffer.readStructures(version: version, flexible: true, field: "Topics")
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(topics, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
