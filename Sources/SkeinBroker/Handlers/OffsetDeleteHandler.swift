import SkeinLog
import SkeinProtocol

/// OffsetDelete: drops a group's committed offsets for some partitions, except those of topics its
/// members still consume (GROUP_SUBSCRIBED_TO_TOPIC), answered once the deletion is durable. Needs DELETE
/// on the group and READ on each topic.
enum OffsetDeleteHandler {
    static func handle(_ request: OffsetDeleteRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .delete, .group, request.groupId) else {
            context.reply(OffsetDeleteResponse(errorCode: .groupAuthorizationFailed))
            return
        }
        let unreadable = Set(request.topics.map(\.name).filter { !context.authorized(broker, .read, .topic, $0) })
        var partitions: [TopicPartition] = []
        for topic in request.topics where !unreadable.contains(topic.name) {
            for index in topic.partitionIndexes where broker.log(topic.name, index) != nil {
                partitions.append(TopicPartition(topic.name, index))
            }
        }
        broker.groups.deleteOffsets(groupId: request.groupId, partitions: partitions) { check, stored in
            guard case .accepted(let subscribed) = check else {
                if case .rejected(let code) = check { context.reply(OffsetDeleteResponse(errorCode: code)) }
                return
            }
            if case .failure(let error) = stored {
                broker.logger.error("deleting offsets of group \(request.groupId.quotedForLog) failed: \(error)")
            }
            let topics = request.topics.map { topic in
                OffsetDeleteResponse.Topic(
                    name: topic.name,
                    partitions: topic.partitionIndexes.map { index in
                        let code: ErrorCode =
                            if unreadable.contains(topic.name) {
                                .topicAuthorizationFailed
                            } else if broker.log(topic.name, index) == nil {
                                .unknownTopicOrPartition
                            } else if subscribed.contains(topic.name) {
                                .groupSubscribedToTopic
                            } else if case .failure = stored {
                                .kafkaStorageError
                            } else {
                                .noError
                            }
                        return .init(partitionIndex: index, errorCode: code)
                    })
            }
            context.reply(OffsetDeleteResponse(topics: topics))
        }
    }
}
