import NIOCore

/// ListTransactions (key 66), versions 0–1: the transactional ids the coordinator knows, for
/// `kafka-transactions.sh list` and admin clients. v1 adds a minimum-duration filter, which is how
/// operators look for hanging transactions.
public struct ListTransactionsRequest: KafkaRequestMessage {
    public typealias Response = ListTransactionsResponse
    public static let apiKey = ApiKey.listTransactions

    /// Empty matches every state.
    public var stateFilters: [String]
    /// Empty matches every producer.
    public var producerIdFilters: [Int64]
    /// v1+: only transactions open longer than this many milliseconds; negative matches all.
    public var durationFilter: Int64
    public var unknownTaggedFields: [TaggedField]

    public init(
        stateFilters: [String] = [], producerIdFilters: [Int64] = [], durationFilter: Int64 = -1,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.stateFilters = stateFilters
        self.producerIdFilters = producerIdFilters
        self.durationFilter = durationFilter
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var request = ListTransactionsRequest(stateFilters: try buffer.readKafkaStringArray(flexible: true))
        request.producerIdFilters = try buffer.readKafkaArray(flexible: true, field: "ProducerIdFilters") {
            (buffer: inout ByteBuffer) throws(ProtocolError) in try buffer.readKafkaInt64()
        }
        if version >= 1 { request.durationFilter = try buffer.readKafkaInt64() }
        request.unknownTaggedFields = try buffer.readTaggedFields()
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeKafkaStringArray(stateFilters, flexible: true)
        try buffer.writeKafkaArray(producerIdFilters, flexible: true) {
            (buffer: inout ByteBuffer, value: Int64) throws(ProtocolError) in buffer.writeInteger(value)
        }
        if version >= 1 { buffer.writeInteger(durationFilter) }
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct ListTransactionsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.listTransactions

    public struct TransactionState: Equatable, Sendable, WireStructure {
        public var transactionalId: String
        public var producerId: Int64
        public var transactionState: String

        public init(transactionalId: String, producerId: Int64, transactionState: String) {
            self.transactionalId = transactionalId
            self.producerId = producerId
            self.transactionState = transactionState
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            transactionalId = try buffer.readKafkaString(flexible: flexible)
            producerId = try buffer.readKafkaInt64()
            transactionState = try buffer.readKafkaString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(transactionalId, flexible: flexible)
            buffer.writeInteger(producerId)
            try buffer.writeKafkaString(transactionState, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    /// State filters of the request that name no state the broker knows.
    public var unknownStateFilters: [String]
    public var transactionStates: [TransactionState]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, unknownStateFilters: [String] = [],
        transactionStates: [TransactionState] = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.unknownStateFilters = unknownStateFilters
        self.transactionStates = transactionStates
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = ListTransactionsResponse(
            throttleTimeMs: try buffer.readKafkaInt32(), errorCode: try buffer.readErrorCode())
        response.unknownStateFilters = try buffer.readKafkaStringArray(flexible: true)
        response.transactionStates = try buffer.readStructures(
            version: version, flexible: true, field: "TransactionStates")
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaStringArray(unknownStateFilters, flexible: true)
        try buffer.writeStructures(transactionStates, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
