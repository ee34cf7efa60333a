import NIOCore

/// Produce (key 0). Record data stays opaque here: the broker validates RecordBatch bytes with
/// `RecordBatch` and stores them as received.
public struct ProduceRequest: KafkaRequestMessage {
    public typealias Response = ProduceResponse
    public static let apiKey = ApiKey.produce

    public struct Partition: Equatable, Sendable, WireStructure {
        public var index: Int32
        /// One or more RecordBatches, as a slice of the request buffer (no copy).
        public var records: ByteBuffer?

        public init(index: Int32, records: ByteBuffer?) {
            self.index = index
            self.records = records
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            index = try buffer.readKafkaInt32()
            records = try buffer.readKafkaNullableBytes(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(index)
            try buffer.writeKafkaNullableBytes(records, flexible: flexible)
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
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "PartitionData")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v3+; null unless the producer is transactional.
    public var transactionalId: String?
    /// 0 (no response at all), 1 (leader) or -1 (all in-sync replicas).
    public var acks: Int16
    public var timeoutMs: Int32
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String? = nil, acks: Int16, timeoutMs: Int32, topics: [Topic],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let transactionalId = version >= 3 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
        let acks = try buffer.readKafkaInt16()
        let timeoutMs = try buffer.readKafkaInt32()
        let topics: [Topic] = try buffer.readStructures(version: version, flexible: flexible, field: "TopicData")
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return ProduceRequest(
            transactionalId: transactionalId, acks: acks, timeoutMs: timeoutMs, topics: topics,
            unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 3 { try buffer.writeKafkaNullableString(transactionalId, flexible: flexible) }
        buffer.writeInteger(acks)
        buffer.writeInteger(timeoutMs)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct ProduceResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.produce

    /// v8+: which record in the batch made the broker drop it.
    public struct RecordError: Equatable, Sendable, WireStructure {
        public var batchIndex: Int32
        public var batchIndexErrorMessage: String?

        public init(batchIndex: Int32, batchIndexErrorMessage: String? = nil) {
            self.batchIndex = batchIndex
            self.batchIndexErrorMessage = batchIndexErrorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            batchIndex = try buffer.readKafkaInt32()
            batchIndexErrorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(batchIndex)
            try buffer.writeKafkaNullableString(batchIndexErrorMessage, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Partition: Equatable, Sendable, WireStructure {
        public var index: Int32
        public var errorCode: ErrorCode
        public var baseOffset: Int64
        /// v2+; -1 unless the topic uses LogAppendTime.
        public var logAppendTimeMs: Int64
        /// v5+.
        public var logStartOffset: Int64
        /// v8+.
        public var recordErrors: [RecordError]
        /// v8+.
        public var errorMessage: String?

        public init(
            index: Int32, errorCode: ErrorCode = .noError, baseOffset: Int64, logAppendTimeMs: Int64 = -1,
            logStartOffset: Int64 = -1, recordErrors: [RecordError] = [], errorMessage: String? = nil
        ) {
            self.index = index
            self.errorCode = errorCode
            self.baseOffset = baseOffset
            self.logAppendTimeMs = logAppendTimeMs
            self.logStartOffset = logStartOffset
            self.recordErrors = recordErrors
            self.errorMessage = errorMessage
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            index = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            baseOffset = try buffer.readKafkaInt64()
            logAppendTimeMs = version >= 2 ? try buffer.readKafkaInt64() : -1
            logStartOffset = version >= 5 ? try buffer.readKafkaInt64() : -1
            if version >= 8 {
                recordErrors = try buffer.readStructures(version: version, flexible: flexible, field: "RecordErrors")
                errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            } else {
                recordErrors = []
                errorMessage = nil
            }
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(index)
            buffer.writeErrorCode(errorCode)
            buffer.writeInteger(baseOffset)
            if version >= 2 { buffer.writeInteger(logAppendTimeMs) }
            if version >= 5 { buffer.writeInteger(logStartOffset) }
            if version >= 8 {
                try buffer.writeStructures(recordErrors, version: version, flexible: flexible)
                try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            }
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
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "PartitionResponses")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var topics: [Topic]
    /// v1+. Comes after the topics on the wire, unlike most responses.
    public var throttleTimeMs: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(topics: [Topic] = [], throttleTimeMs: Int32 = 0, unknownTaggedFields: [TaggedField] = []) {
        self.topics = topics
        self.throttleTimeMs = throttleTimeMs
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = ProduceResponse()
        response.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Responses")
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
