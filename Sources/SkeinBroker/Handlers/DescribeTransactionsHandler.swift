import SkeinProtocol

/// DescribeTransactions: the coordinator's view of each named transactional id, for operators
/// (`kafka-transactions.sh describe`).
enum DescribeTransactionsHandler {
    static func handle(_ request: DescribeTransactionsRequest, context: RequestContext, broker: Broker) {
        let states = request.transactionalIds.map { id -> DescribeTransactionsResponse.TransactionState in
            guard context.authorized(broker, .describe, .transactionalId, id) else {
                return .init(errorCode: .transactionalIdAuthorizationFailed, transactionalId: id)
            }
            guard let metadata = broker.transactions.metadata(id) else {
                return .init(errorCode: .transactionalIdNotFound, transactionalId: id)
            }
            let byTopic = Dictionary(grouping: metadata.partitions, by: \.topic)
            return .init(
                transactionalId: id, transactionState: metadata.state.kafkaName,
                transactionTimeoutMs: metadata.timeoutMs, transactionStartTimeMs: metadata.startedMs,
                producerId: metadata.producerId, producerEpoch: metadata.producerEpoch,
                // Only the topics the principal may describe, as Kafka lists them.
                topics: byTopic.keys.sorted().filter {
                    context.authorized(broker, .describe, .topic, $0, countDenial: false)
                }.map { topic in
                    .init(name: topic, partitionIndexes: byTopic[topic]!.map(\.partition).sorted())
                })
        }
        context.reply(DescribeTransactionsResponse(transactionStates: states))
    }
}
