import SkeinLog
import SkeinProtocol

/// OffsetFetch: committed offsets of one group (v0-v7) or several (v8); partitions without a commit
/// answer -1, as Kafka does. With require_stable (v7+), a partition an open transaction holds offsets for
/// answers UNSTABLE_OFFSET_COMMIT, which clients retry (KIP-447).
enum OffsetFetchHandler {
    static func handle(_ request: OffsetFetchRequest, context: RequestContext, broker: Broker) {
        let groups = request.groups.map { group -> OffsetFetchResponse.Group in
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
                    .init(
                        name: topic.name,
                        partitions: topic.partitionIndexes.map { entry(TopicPartition(topic.name, $0)) })
                }
            } else {
                let byTopic = Dictionary(grouping: committed.keys, by: \.topic)
                topics = byTopic.keys.sorted().map { name in
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
