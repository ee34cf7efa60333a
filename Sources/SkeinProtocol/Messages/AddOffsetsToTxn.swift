import NIOCore

/// AddOffsetsToTxn (key 25), versions 0–3: tells the transaction coordinator that the transaction
/// will commit offsets for a group, so that EndTxn also marks the group's offsets log.
public struct AddOffsetsToTxnRequest: KafkaRequestMessage {
    public typealias Response = AddOffsetsToTxnResponse
    public static let apiKey = ApiKey.addOffsetsToTxn

    public var transactionalId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    public var groupId: String
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, groupId: String,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.groupId = groupId
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = AddOffsetsToTxnRequest(
            transactionalId: try buffer.readKafkaString(flexible: flexible), producerId: try buffer.readKafkaInt64(),
            producerEpoch: try buffer.readKafkaInt16(), groupId: try buffer.readKafkaString(flexible: flexible))
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(transactionalId, flexible: flexible)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        try buffer.writeKafkaString(groupId, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct AddOffsetsToTxnResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.addOffsetsToTxn

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// The code for a producer whose epoch is stale: PRODUCER_FENCED from v2, where Kafka's spec
    /// adds it; INVALID_PRODUCER_EPOCH before.
    public static func producerFencedError(version: Int16) -> ErrorCode {
        version >= 2 ? .producerFenced : .invalidProducerEpoch
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = AddOffsetsToTxnResponse(
            throttleTimeMs: try buffer.readKafkaInt32(), errorCode: try buffer.readErrorCode())
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
