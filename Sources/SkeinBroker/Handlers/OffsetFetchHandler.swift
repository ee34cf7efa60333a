import SkeinLog
import SkeinProtocol

/// OffsetFetch: committed offsets of one group (v0-v7) or several (v8); partitions without a commit
/// answer -1, as Kafka does. With require_stable (v7+), a partition an open transaction holds offsets for
/// answers UNSTABLE_OFFSET_COMMIT, which clients retry (KIP-447). Needs DESCRIBE on the group and on each
/// topic: a named topic without it answers TOPIC_AUTHORIZATION_FAILED, and "all topics" leaves it out.
enum OffsetFetchHandler {
    static func handle(_ request: OffsetFetchRequest, context: RequestContext, broker: Broker) {
        let groups = request.groups.map { group -> OffsetFetchResponse.Group in
            guard context.authorized(broker, .describe, .group, group.groupId) else {
                return .init(groupId: group.groupId, topics: [], errorCode: .groupAuthorizationFailed)
            }
            let committed = broker.groups.offsets.committed(groupId: group.groupId)
            let unstable =
                request.requireStable ? broker.transactions.pendingOffsetPartitions(group: group.groupId) : []
            func entry(_ topicPartition: TopicPartition) -> OffsetFetchResponse.Partition {
                guard !unstable.contains(topicPartition) else {
                    return .init(
                        partitionIndex: topicPartition.partition, committedOffset: -1, errorCode: .unstableOffsetCommit)
                }
                return Self.entry(committed[topicPartition], index: topicPartition.partition)
            }
            let topics: [OffsetFetchResponse.Topic]
            if let requested = group.topics {
                topics = requested.map { topic in
                    guard context.authorized(broker, .describe, .topic, topic.name) else {
                        return .init(
                            name: topic.name,
                            partitions: topic.partitionIndexes.map {
                                .init(partitionIndex: $0, committedOffset: -1, errorCode: .topicAuthorizationFailed)
                            })
                    }
                    return .init(
                        name: topic.name,
                        partitions: topic.partitionIndexes.map { entry(TopicPartition(topic.name, $0)) })
                }
            } else {
                let byTopic = Dictionary(grouping: committed.keys, by: \.topic)
                let visible = byTopic.keys.sorted().filter {
                    context.authorized(broker, .describe, .topic, $0, countDenial: false)
                }
                topics = visible.map { name in
                    .init(
                        name: name,
                        partitions: byTopic[name]!.sorted().map { entry($0) })
                }
            }
            return .init(groupId: group.groupId, topics: topics)
        }
        context.reply(OffsetFetchResponse(groups: groups))
    }

    static func entry(_ committed: OffsetStore.Committed?, index: Int32) -> OffsetFetchResponse.Partition {
        guard let committed else { return .init(partitionIndex: index, committedOffset: -1, metadata: "") }
        return .init(
            partitionIndex: index, committedOffset: committed.offset, committedLeaderEpoch: committed.leaderEpoch,
            metadata: committed.metadata ?? "")
    }
}
