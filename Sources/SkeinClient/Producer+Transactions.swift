import SkeinProtocol

/// Kafka's transactional producer API, for a producer configured with `transactionalId`:
///
///     try await producer.initTransactions()
///     try await producer.beginTransaction()
///     _ = try await producer.send(topic: "out", value: bytes)
///     try await producer.sendOffsetsToTransaction(offsets, groupMetadata: await consumer.groupMetadata())
///     try await producer.commitTransaction()   // or abortTransaction()
///
/// Records sent inside a transaction become visible to read_committed consumers only when it
/// commits, all at once, together with the consumer offsets sent to it. A producer that gets
/// `KafkaClientError.producerFenced` has been replaced by another with the same id and can only be
/// closed; `transactionAbortRequired` means this transaction must be aborted, and the producer can
/// then go on with a new one.
extension Producer {
    /// Fences earlier producers with the same `transactional.id` (aborting a transaction they left
    /// open) and takes the new epoch. Call once before the first transaction.
    public func initTransactions() async throws {
        let transactions = try requireTransactions()
        await flush()
        _ = try await transactions.initialize()
        resetSequences()
    }

    public func beginTransaction() async throws {
        try await requireTransactions().begin()
    }

    /// Adds consumed positions (the next offset to read, per partition) to the transaction: they
    /// become `groupMetadata.groupId`'s committed offsets when the transaction commits, and are
    /// dropped if it aborts. This is consume-transform-produce's exactly-once step.
    public func sendOffsetsToTransaction(_ offsets: [TopicPartition: Int64], groupMetadata: ConsumerGroupMetadata)
        async throws
    {
        try await requireTransactions().sendOffsets(offsets, group: groupMetadata)
    }

    /// Sends every record of the transaction, then commits it. Throws `transactionAbortRequired`
    /// if any of them failed; the transaction must then be aborted.
    public func commitTransaction() async throws {
        let transactions = try requireTransactions()
        try await transactions.checkSendable()
        await flush()
        try await transactions.end(commit: true)
    }

    /// Ends the transaction without making any of its records or offsets visible. Records still
    /// waiting to be sent are written first (they are discarded with the transaction), so that no
    /// batch of this transaction can arrive after its abort marker.
    public func abortTransaction() async throws {
        let transactions = try requireTransactions()
        await flush()
        try await transactions.end(commit: false)
    }

    private func requireTransactions() throws(KafkaClientError) -> TransactionManager {
        guard let transactions else {
            throw .invalidTransactionState("the producer has no transactional.id")
        }
        return transactions
    }
}
