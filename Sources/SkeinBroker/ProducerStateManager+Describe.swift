import SkeinLog

/// What DescribeProducers reports per producer of a partition. Kept apart from the bookkeeping, which changes
/// with transactions; the handler takes `currentTxnStartOffset` from the partition log's open transactions.
struct ProducerDescription: Equatable, Sendable {
    var producerId: Int64
    var epoch: Int16
    /// The last sequence number appended, -1 if no batch is remembered.
    var lastSequence: Int32
    /// Not tracked: -1.
    var lastTimestamp: Int64 = -1
    var coordinatorEpoch: Int32 = -1
    var currentTxnStartOffset: Int64 = -1
}

extension ProducerStateManager {
    /// The producers `topicPartition` holds state for, by producer id.
    func describe(_ topicPartition: TopicPartition) -> [ProducerDescription] {
        let state = state(for: topicPartition)
        let producers = state.lock.withLock { state.producers }
        return producers.sorted { $0.key < $1.key }.map { id, entry in
            ProducerDescription(
                producerId: id, epoch: entry.epoch, lastSequence: entry.batches.last?.lastSequence ?? -1)
        }
    }
}
