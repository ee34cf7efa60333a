import NIOCore

/// DescribeTransactions (key 65), version 0: an operator's view of transactional ids (state,
/// producer, open partitions), as `kafka-transactions.sh describe` shows it.
public struct DescribeTransactionsRequest: KafkaRequestMessage {
    public typealias Response = DescribeTransactionsResponse
    public static let apiKey = ApiKey.describeTransactions

    /// Empty asks for nothing, not for everything.
    public var transactionalIds: [String]
    public var unknownTaggedFields: [TaggedField]

    public init(transactionalIds: [String], unknownTaggedFields: [TaggedField] = []) {
        self.transactionalIds = transactionalIds
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let ids = try buffer.readKafkaStringArray(flexible: true)
        return DescribeTransactionsRequest(transactionalIds: ids, unknownTaggedFields: try buffer.readTaggedFields())
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeKafkaStringArray(transactionalIds, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct DescribeTransactionsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeTransactions

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

    public struct TransactionState: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var transactionalId: String
        /// Kafka's state names: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit,
        /// CompleteAbort, Dead, PrepareEpochFence.
        public var transactionState: String
        public var transactionTimeoutMs: Int32
        /// -1 when no transaction is open.
        public var transactionStartTimeMs: Int64
        public var producerId: Int64
        public var producerEpoch: Int16
        public var topics: [Topic]

        public init(
            errorCode: ErrorCode = .noError, transactionalId: String, transactionState: String = "",
            transactionTimeoutMs: Int32 = 0, transactionStartTimeMs: Int64 = -1, producerId: Int64 = -1,
            producerEpoch: Int16 = -1, topics: [Topic] = []
        ) {
            self.errorCode = errorCode
            self.transactionalId = transactionalId
            self.transactionState = transactionState
            self.transactionTimeoutMs = transactionTimeoutMs
            self.transactionStartTimeMs = transactionStartTimeMs
            self.producerId = producerId
            self.producerEpoch = producerEpoch
            self.topics = topics
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            transactionalId = try buffer.readKafkaString(flexible: flexible)
            transactionState = try buffer.readKafkaString(flexible: flexible)
            transactionTimeoutMs = try buffer.readKafkaInt32()
            transactionStartTimeMs = try buffer.readKafkaInt64()
            producerId = try buffer.readKafkaInt64()
            producerEpoch = try buffer.readKafkaInt16()
            topics = try buffer.readStructures(version: version, flexible: flexible, field: "TopicPartitions")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaString(transactionalId, flexible: flexible)
            try buffer.writeKafkaString(transactionState, flexible: flexible)
            buffer.writeInteger(transactionTimeoutMs)
            buffer.writeInteger(transactionStartTimeMs)
            buffer.writeInteger(producerId)
            buffer.writeInteger(producerEpoch)
            try buffer.writeStructures(topics, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var transactionStates: [TransactionState]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, transactionStates: [TransactionState] = [], unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.transactionStates = transactionStates
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = DescribeTransactionsResponse(throttleTimeMs: try buffer.readKafkaInt32())
        response.transactionStates = try buffer.readStructures(
            version: version, flexible: true, field: "TransactionStates")
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(transactionStates, version: version, flexible: true)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
