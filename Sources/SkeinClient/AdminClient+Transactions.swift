import SkeinProtocol

extension AdminClient {
    public struct TransactionListing: Sendable, Equatable {
        public var transactionalId: String
        public var producerId: Int64
        public var state: String
    }

    /// Transactional ids known to the coordinator (ListTransactions), optionally only those in `states` or
    /// open for at least `minimumDurationMs` (ListTransactions v1).
    public func listTransactions(states: [String] = [], minimumDurationMs: Int64 = -1) async throws
        -> [TransactionListing]
    {
        let response = try await metadata.anyConnection().send(
            ListTransactionsRequest(stateFilters: states, durationFilter: minimumDurationMs))
        try Self.check(response.errorCode, nil, context: "list transactions")
        return response.transactionStates.map {
            TransactionListing(
                transactionalId: $0.transactionalId, producerId: $0.producerId, state: $0.transactionState)
        }
        .sorted { $0.transactionalId < $1.transactionalId }
    }

    public struct TransactionDescription: Sendable, Equatable {
        public var transactionalId: String
        public var state: String
        public var producerId: Int64
        public var producerEpoch: Int16
        public var timeoutMs: Int32
        /// -1 when no transaction is open.
        public var startTimeMs: Int64
        public var partitions: [TopicPartition]
    }

    /// The coordinator's view of one transactional id (DescribeTransactions).
    public func describeTransaction(_ transactionalId: String) async throws -> TransactionDescription {
        let response = try await metadata.anyConnection().send(
            DescribeTransactionsRequest(transactionalIds: [transactionalId]))
        guard let state = response.transactionStates.first else {
            throw KafkaClientError.unexpectedResponse("DescribeTransactions answered no state")
        }
        try Self.check(state.errorCode, nil, context: "describe transaction \(transactionalId)")
        return TransactionDescription(
            transactionalId: state.transactionalId, state: state.transactionState, producerId: state.producerId,
            producerEpoch: state.producerEpoch, timeoutMs: state.transactionTimeoutMs,
            startTimeMs: state.transactionStartTimeMs,
            partitions: state.topics.flatMap { topic in
                topic.partitionIndexes.map { TopicPartition(topic: topic.name, partition: $0) }
            }
            .sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) })
    }
}
