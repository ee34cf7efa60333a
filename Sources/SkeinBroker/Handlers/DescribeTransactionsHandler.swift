import SkeinProtocol

/// DescribeTransactions: the coordinator's view of each named transactional id, for operators
/// (`kafka-transactions.sh describe`).
enum DescribeTransactionsHandler {
    static func handle(_ request: DescribeTransactionsRequest, context: RequestContext, broker: Broker) {
        let states = request.transactionalIds.map { id -> DescribeTransactionsResponse.TransactionState in
            guard let metadata = broker.transactions.metadata(id) else {
                return .init(errorCode: .transactionalIdNotFound, transactionalId: id)
            }
            let byTopic = Dictionary(grouping: metadata.partitions, by: \.topic)
            return .init(
                transactionalId: id, transactionState: metadata.state.kafkaName,
                transactionTimeoutMs: metadata.timeoutMs, transactionStartTimeMs: metadata.startedMs,
                producerId: metadata.producerId, producerEpoch: metadata.producerEpoch,
                topics: byTopic.keys.sorted().map { topic in
                    .init(name: topic, partitionIndexes: byTopic[topic]!.map(\.partition).sorted())
                })
        }
        context.reply(DescribeTransactionsResponse(transactionStates: states))
    }
}
