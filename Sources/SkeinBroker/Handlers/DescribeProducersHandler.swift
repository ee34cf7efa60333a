import SkeinLog
import SkeinProtocol

/// DescribeProducers: the idempotent and transactional producers each partition tracks, from the producer state
/// manager, with the first offset of each one's open transaction (what `kafka-transactions find-hanging` looks
/// for).
enum DescribeProducersHandler {
    static func handle(_ request: DescribeProducersRequest, context: RequestContext, broker: Broker) {
        let topics = request.topics.map { topic in
            let readable = context.authorized(broker, .read, .topic, topic.name)
            return DescribeProducersResponse.Topic(
                name: topic.name,
                partitions: topic.partitionIndexes.map { index in
                    guard readable else {
                        return .init(partitionIndex: index, errorCode: .topicAuthorizationFailed)
                    }
                    guard let metadata = broker.topics.topic(topic.name), index >= 0, index < metadata.partitionCount,
                        let log = broker.log(topic.name, index)
                    else {
                        return .init(
                            partitionIndex: index, errorCode: .unknownTopicOrPartition,
                            errorMessage: "\(topic.name)-\(index) does not exist")
                    }
                    let open = log.openTransactions
                    let producers = broker.producers.describe(TopicPartition(topic.name, index)).map {
                        DescribeProducersResponse.ProducerState(
                            producerId: $0.producerId, producerEpoch: Int32($0.epoch), lastSequence: $0.lastSequence,
                            lastTimestamp: $0.lastTimestamp, coordinatorEpoch: $0.coordinatorEpoch,
                            currentTxnStartOffset: open[$0.producerId] ?? $0.currentTxnStartOffset)
                    }
                    return .init(partitionIndex: index, activeProducers: producers)
                })
        }
        context.reply(DescribeProducersResponse(topics: topics))
    }
}
