import SkeinProtocol

/// OffsetForLeaderEpoch: consumers use it to detect log truncation after a leader change. This broker has
/// been leader for epoch 0 since the beginning, so the end of any epoch up to 0 is the log end offset.
enum OffsetForLeaderEpochHandler {
    static func handle(_ request: OffsetForLeaderEpochRequest, context: RequestContext, broker: Broker) {
        let topics = request.topics.map { topic in
            let describable = context.authorized(broker, .describe, .topic, topic.topic)
            return OffsetForLeaderEpochResponse.Topic(
                topic: topic.topic,
                partitions: topic.partitions.map { partition in
                    guard describable else {
                        return .init(errorCode: .topicAuthorizationFailed, partition: partition.partition)
                    }
                    guard let log = broker.log(topic.topic, partition.partition) else {
                        return .init(errorCode: .unknownTopicOrPartition, partition: partition.partition)
                    }
                    // A client that knows a newer epoch than ours is talking to the wrong broker.
                    if partition.currentLeaderEpoch > 0 {
                        return .init(errorCode: .unknownLeaderEpoch, partition: partition.partition)
                    }
                    // Any requested epoch ends where epoch 0, the only one, ends: at the log end.
                    return .init(partition: partition.partition, leaderEpoch: 0, endOffset: log.logEndOffset)
                })
        }
        context.reply(OffsetForLeaderEpochResponse(topics: topics))
    }
}
