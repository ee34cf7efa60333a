import SkeinLog
import SkeinProtocol

/// AddPartitionsToTxn: names the partitions a transaction will write to, before its first batch to each.
/// Every partition gets the same answer unless some do not exist, in which case those get
/// UNKNOWN_TOPIC_OR_PARTITION, the rest OPERATION_NOT_ATTEMPTED, and nothing is added (as in Kafka).
enum AddPartitionsToTxnHandler {
    static func handle(_ request: AddPartitionsToTxnRequest, context: RequestContext, broker: Broker) {
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
}
