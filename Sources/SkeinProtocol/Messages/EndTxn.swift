import NIOCore

/// EndTxn (key 26), versions 0–3: commits or aborts the producer's open transaction. v5 (KIP-890
/// part 2) makes the coordinator bump the epoch on every transaction and answer with the new one;
/// we stop before it (see `ApiKey.supportedVersions`).
public struct EndTxnRequest: KafkaRequestMessage {
    public typealias Response = EndTxnResponse
    public static let apiKey = ApiKey.endTxn

    public var transactionalId: String
    public var producerId: Int64
    public var producerEpoch: Int16
    /// True to commit, false to abort.
    public var committed: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        transactionalId: String, producerId: Int64, producerEpoch: Int16, committed: Bool,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.transactionalId = transactionalId
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.committed = committed
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = EndTxnRequest(
            transactionalId: try buffer.readKafkaString(flexible: flexible), producerId: try buffer.readKafkaInt64(),
            producerEpoch: try buffer.readKafkaInt16(), committed: try buffer.readKafkaBool())
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaString(transactionalId, flexible: flexible)
        buffer.writeInteger(producerId)
        buffer.writeInteger(producerEpoch)
        buffer.writeKafkaBool(committed)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct EndTxnResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.endTxn

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
        var response = EndTxnResponse(
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
