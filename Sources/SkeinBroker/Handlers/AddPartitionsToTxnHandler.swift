import SkeinLog
import SkeinProtocol

/// AddPartitionsToTxn: names the partitions a transaction will write to, before its first batch to each.
/// Every partition gets the same answer unless some do not exist, in which case those get
/// UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED, and nothing is added (as in Kafka).
/// Authorization works the same way: WRITE on the transactional id for all, then WRITE on each topic.
enum AddPartitionsToTxnHandler {
    static func handle(_ request: AddPartitionsToTxnRequest, context: RequestContext, broker: Broker) {
        if let refusal = refusal(request, context: context, broker: broker) {
            context.reply(
                AddPartitionsToTxnResponse(
                    topics: request.topics.map { topic in
                        .init(
                            name: topic.name,
                            partitions: topic.partitions.map {
                                .init(partitionIndex: $0, errorCode: refusal(topic.name))
                            })
                    }))
            return
        }
        let partitions = request.topics.flatMap { topic in topic.partitions.map { TopicPartition(topic.name, $0) } }
        let coordinator = broker.transactions
        coordinator.queue.async {
            let result = coordinator.addPartitions(
                transactionalId: request.transactionalId, producerId: request.producerId,
                epoch: request.producerEpoch, partitions: partitions)
            let codes: (TopicPartition) -> ErrorCode
            switch result {
            case .success(let perPartition): codes = { perPartition[$0] ?? .noError }
            case .failure(let error):
                let code = error.code(
                    fencedCode: AddPartitionsToTxnResponse.producerFencedError(version: context.version))
                codes = { _ in code }
            }
            context.reply(
                AddPartitionsToTxnResponse(
                    topics: request.topics.map { topic in
                        .init(
                            name: topic.name,
                            partitions: topic.partitions.map {
                                .init(partitionIndex: $0, errorCode: codes(TopicPartition(topic.name, $0)))
                            })
                    }))
        }
    }

    /// The code per topic when the request may not proceed: TRANSACTIONAL_ID_AUTHORIZATION_FAILED for all,
    /// or TOPIC_AUTHORIZATION_FAILED for the topics without WRITE and OPERATION_NOT_ATTEMPTED for the rest.
    static func refusal(_ request: AddPartitionsToTxnRequest, context: RequestContext, broker: Broker)
        -> ((String) -> ErrorCode)?
    {
        guard context.authorized(broker, .write, .transactionalId, request.transactionalId) else {
            return { _ in .transactionalIdAuthorizationFailed }
        }
        let refused = Set(request.topics.map(\.name).filter { !context.authorized(broker, .write, .topic, $0) })
        if refused.isEmpty { return nil }
        return { refused.contains($0) ? .topicAuthorizationFailed : .operationNotAttempted }
    }
}
