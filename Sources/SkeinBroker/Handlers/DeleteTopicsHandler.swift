import SkeinProtocol

/// DeleteTopics, by name (v0-v5) or by topic id (v6).
enum DeleteTopicsHandler {
    static func handle(_ request: DeleteTopicsRequest, context: RequestContext, broker: Broker) {
        let results = request.topics.map { entry -> DeleteTopicsResponse.Result in
            let topic =
                entry.name.flatMap { broker.topics.topic($0) }
                ?? broker.topics.allTopics.first { entry.topicId != .zero && KafkaUUID($0.topicId) == entry.topicId }
            guard let topic else {
                return .init(
                    name: entry.name, topicId: entry.topicId,
                    errorCode: entry.name == nil ? .unknownTopicId : .unknownTopicOrPartition)
            }
            guard broker.config.deleteTopicEnable else {
                return .init(name: topic.name, topicId: KafkaUUID(topic.topicId), errorCode: .topicDeletionDisabled)
            }
            do {
                try broker.deleteTopic(topic.name)
                return .init(name: topic.name, topicId: KafkaUUID(topic.topicId))
            } catch {
                broker.logger.error("deleting topic \(topic.name) failed: \(error)")
                return .init(
                    name: topic.name, topicId: KafkaUUID(topic.topicId), errorCode: .kafkaStorageError,
                    errorMessage: "\(error)")
            }
        }
        context.reply(DeleteTopicsResponse(responses: results))
    }
}
