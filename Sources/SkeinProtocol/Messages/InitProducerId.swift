import NIOCore

/// InitProducerId (key 22), versions 0–4: hands an idempotent or transactional producer its ID
/// and epoch. kafka-python and Java clients call it on start because idempotence is their default.
public struct InitProducerIdRequest: KafkaRequestMessage {
    public typealias Response = InitProducerIdResponse
    public static let apiKey = ApiKey.initProducerId

    public var transactionalId: String?
    public var transactionTimeoutMs: Int32
    /// v3+: an existing ID and epoch to resume after INVALID_PRODUCER_EPOCH; -1 for a new producer.
    public var producerId: Int64
    public var producerEpoch: Int16
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String? = nil, transactionTimeoutMs: Int32, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.transactionTimeoutMs = transactionTimeoutMs
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = InitProducerIdRequest(
            transactionalId: try buffer.readKafkaNullableString(flexible: flexible),
            transactionTimeoutMs: try buffer.readKafkaInt32())
        if version >= 3 {
            request.producerId = try buffer.readKafkaInt64()
            request.producerEpoch = try buffer.readKafkaInt16()
        }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaNullableString(transactionalId, flexible: flexible)
        buffer.writeInteger(transactionTimeoutMs)
        if version >= 3 {
            buffer.writeInteger(producerId)
            buffer.writeInteger(producerEpoch)
        }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct InitProducerIdResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.initProducerId

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var producerId: Int64
    public var producerEpoch: Int16
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// The code for a producer whose epoch is stale: PRODUCER_FENCED from v4, where Kafka's spec
    /// adds it; INVALID_PRODUCER_EPOCH before.
    public static func producerFencedError(version: Int16) -> ErrorCode {
        version >= 4 ? .producerFenced : .invalidProducerEpoch
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = InitProducerIdResponse(
            throttleTimeMs: try buffer.readKafkaInt32(), errorCode: try buffer.readErrorCode(),
            producerId: try buffer.readKafkaInt64(), producerEpoch: try buffer.readKafkaInt16())
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
