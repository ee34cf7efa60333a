import SkeinProtocol

/// DeleteTopics, by name (v0-v5) or by topic id (v6).
enum DeleteTopicsHandler {
    static func handle(_ request: DeleteTopicsRequest, context: RequestContext, broker: Broker) {
        let results = request.topics.map { entry -> DeleteTopicsResponse.Result in
            if let name = entry.name, !context.authorized(broker, .delete, .topic, name) {
                return .init(name: name, topicId: entry.topicId, errorCode: .topicAuthorizationFailed)
            }
            let topic =
                entry.name.flatMap { broker.topics.topic($0) }
                ?? broker.topics.allTopics.first { entry.topicId != .zero && KafkaUUID($0.topicId) == entry.topicId }
            guard let topic else {
                return .init(
                    name: entry.name, topicId: entry.topicId,
                    errorCode: entry.name == nil ? .unknownTopicId : .unknownTopicOrPartition)
            }
            // Named by id: the name is known only now. Without DELETE the id stays unresolved, as in Kafka.
            if entry.name == nil && !context.authorized(broker, .delete, .topic, topic.name) {
                return .init(name: nil, topicId: entry.topicId, errorCode: .topicAuthorizationFailed)
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
