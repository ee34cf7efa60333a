import SkeinLog
import SkeinProtocol

/// ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first offset at or after a time.
enum ListOffsetsHandler {
    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3

    static func handle(_ request: ListOffsetsRequest, context: RequestContext, broker: Broker) {
        let topics = request.topics.map { topic in
            let describable = context.authorized(broker, .describe, .topic, topic.name)
            return ListOffsetsResponse.Topic(
                name: topic.name,
                partitions: topic.partitions.map { partition in
                    guard describable else {
                        return .init(partitionIndex: partition.partitionIndex, errorCode: .topicAuthorizationFailed)
                    }
                    return lookup(
                        partition, in: broker.log(topic.name, partition.partitionIndex),
                        readCommitted: request.isolationLevel == 1, broker: broker)
                })
        }
        context.reply(ListOffsetsResponse(topics: topics))
    }

    /// read_committed sees the log as if it ended at the last stable offset, as in Kafka: "latest" is the
    /// LSO, and a lookup that lands at or past it finds nothing.
    static func lookup(
        _ partition: ListOffsetsRequest.Partition, in log: PartitionLog?, readCommitted: Bool = false, broker: Broker
    ) -> ListOffsetsResponse.Partition {
        let index = partition.partitionIndex
        guard let log else { return .init(partitionIndex: index, errorCode: .unknownTopicOrPartition) }
        let end = readCommitted ? log.lastStableOffset : log.highWatermark
        let none = ListOffsetsResponse.Partition(partitionIndex: index, timestamp: -1, offset: -1, leaderEpoch: 0)
        switch partition.timestamp {
        case latest:
            return .init(partitionIndex: index, timestamp: -1, offset: end, leaderEpoch: 0)
        case earliest:
            return .init(partitionIndex: index, timestamp: -1, offset: log.logStartOffset, leaderEpoch: 0)
        case maxTimestamp:
            do {
                guard let found = try log.offsetOfMaxTimestamp(), found.offset < end else { return none }
                return .init(partitionIndex: index, timestamp: found.timestamp, offset: found.offset, leaderEpoch: 0)
            } catch {
                broker.logger.error("max timestamp lookup in \(log.topicPartition) failed: \(error)")
                return .init(partitionIndex: index, errorCode: .kafkaStorageError)
            }
        case let timestamp where timestamp >= 0:
            do {
                // No record that new: Kafka answers offset -1, and clients then use the log end.
                guard let found = try log.offset(forTimestamp: timestamp), found.offset < end else { return none }
                return .init(partitionIndex: index, timestamp: found.timestamp, offset: found.offset, leaderEpoch: 0)
            } catch {
                broker.logger.error("timestamp lookup in \(log.topicPartition) failed: \(error)")
                return .init(partitionIndex: index, errorCode: .kafkaStorageError)
            }
        default:
            return .init(partitionIndex: index, errorCode: .invalidRequest)
        }
    }
}
