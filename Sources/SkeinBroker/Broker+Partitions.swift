import Foundation
import SkeinLog

/// Growing topics (CreatePartitions), replica assignments naming this node, and moving log start offsets
/// (DeleteRecords). Each of these writes to disk, so callers run them on the admin queue.
extension Broker {
    public enum PartitionGrowthError: Error, Equatable {
        case unknownTopic(String)
        /// INVALID_PARTITIONS: not more than the topic has, or past `max.partitions.per.topic`.
        case invalidPartitions(String)
        case invalidReplicaAssignment(String)
        /// `max.partitions` would be passed.
        case policyViolation(String)
        case storage(String)
    }

    /// Why a manual replica assignment cannot be honoured, or nil if it can: a single node can only place
    /// one replica, on itself. `partition` names the partition in the message.
    func assignmentProblem(_ brokerIds: [Int32], partition: Int32) -> String? {
        guard !brokerIds.isEmpty else { return "partition \(partition) is assigned to no broker" }
        if let other = brokerIds.first(where: { $0 != config.nodeId }) {
            return
                "partition \(partition) is assigned to broker \(other), but the only broker is \(config.nodeId)"
        }
        guard brokerIds.count == 1 else {
            return
                "partition \(partition) names broker \(config.nodeId) \(brokerIds.count) times; it can hold one replica"
        }
        return nil
    }

    /// Grows `name` to `count` partitions. `assignments`, when given, must name the new partitions' replicas
    /// (one entry per new partition, each this node). The new partitions are created before the topic's
    /// count is recorded, so Metadata never names a partition without a log; a crash in between is finished
    /// at the next start. `validateOnly` checks everything and creates nothing.
    @discardableResult
    public func addPartitions(
        to name: String, count: Int32, assignments: [[Int32]]? = nil, validateOnly: Bool = false
    ) throws(PartitionGrowthError) -> TopicMetadata {
        let current = try reserveGrowth(of: name, to: count, assignments: assignments, validateOnly: validateOnly)
        var grown = current
        grown.partitionCount = count
        if validateOnly { return grown }
        let added = (current.partitionCount..<count).map { TopicPartition(name, $0) }
        do {
            try logs.createLogs(added, config: logConfig(for: current))
        } catch {
            _ = topicLock.withLock { pendingTopics.removeValue(forKey: name) }
            logger.error("adding partitions to topic \(name) failed: \(error)")
            throw .storage("storage error: \(error)")
        }
        let outcome = topicLock.withLock { () -> Result<TopicMetadata, PartitionGrowthError> in
            pendingTopics[name] = nil
            // A DeleteTopics may have run meanwhile; its partitions are gone and these must go too.
            guard let now = topics.topic(name), now.topicId == current.topicId,
                now.partitionCount == current.partitionCount
            else { return .failure(.unknownTopic("topic \(name) was deleted while partitions were added")) }
            do {
                return .success(try topics.replacePartitionCount(of: name, with: count) ?? grown)
            } catch {
                return .failure(.storage("storage error: \(error)"))
            }
        }
        switch outcome {
        case .success(let saved):
            logger.info("topic \(name) grew from \(current.partitionCount) to \(count) partitions")
            return saved
        case .failure(let error):
            for topicPartition in added { try? logs.deleteLog(topicPartition) }
            throw error
        }
    }

    /// Checks a growth request and, unless `validateOnly`, reserves its partitions against `max.partitions`.
    private func reserveGrowth(
        of name: String, to count: Int32, assignments: [[Int32]]?, validateOnly: Bool
    ) throws(PartitionGrowthError) -> TopicMetadata {
        topicLock.lock()
        defer { topicLock.unlock() }
        guard let current = topics.topic(name), pendingTopics[name] == nil else {
            throw .unknownTopic("topic \(name) does not exist")
        }
        guard count > current.partitionCount else {
            throw .invalidPartitions(
                count == current.partitionCount
                    ? "topic \(name) already has \(count) partitions"
                    : "topic \(name) has \(current.partitionCount) partitions; partitions cannot be removed, so \(count) is too few"
            )
        }
        let adding = count - current.partitionCount
        if let assignments {
            guard assignments.count == Int(adding) else {
                throw .invalidReplicaAssignment(
                    "\(adding) partitions are added but \(assignments.count) assignments were given")
            }
            for (index, brokerIds) in assignments.enumerated() {
                if let problem = assignmentProblem(brokerIds, partition: current.partitionCount + Int32(index)) {
                    throw .invalidReplicaAssignment(problem)
                }
            }
        }
        guard count <= config.maxPartitionsPerTopic else {
            throw .invalidPartitions(
                "\(count) partitions exceed max.partitions.per.topic=\(config.maxPartitionsPerTopic)")
        }
        let held = partitionCountLocked
        guard held + Int(adding) <= config.maxPartitions else {
            throw .policyViolation(
                "the broker holds \(held) partitions; \(adding) more would exceed max.partitions=\(config.maxPartitions)"
            )
        }
        if !validateOnly { pendingTopics[name] = adding }
        return current
    }

    /// A registered topic with partition directories past its count was being grown when the broker
    /// stopped: the new partitions existed but the count was not yet saved. When they are the next
    /// partitions in order (and within `max.partitions.per.topic`) the growth is finished, as the client
    /// asked; otherwise they are removed. Either way they never held data, since no client could see them.
    func finishUnregisteredGrowth(_ topic: TopicMetadata, present: inout Set<Int32>) throws -> TopicMetadata {
        let extra = present.filter { $0 >= topic.partitionCount }.sorted()
        var end = topic.partitionCount
        while present.contains(end) { end += 1 }
        if let last = extra.last, end == last + 1, end <= config.maxPartitionsPerTopic {
            logger.warning(
                "topic \(topic.name) has partitions \(topic.partitionCount)..<\(end) on disk beyond its \(topic.partitionCount) registered ones: finishing an interrupted CreatePartitions"
            )
            return try topics.replacePartitionCount(of: topic.name, with: end) ?? topic
        }
        logger.warning(
            "topic \(topic.name) has \(extra.count) partition directories beyond its \(topic.partitionCount) partitions: removing them"
        )
        for partition in extra {
            try logs.deleteLog(TopicPartition(topic.name, partition))
            present.remove(partition)
        }
        return topic
    }

    // MARK: DeleteRecords

    public enum DeleteRecordsError: Error, Equatable {
        case unknownTopicOrPartition
        case offsetOutOfRange(String)
        case storage(String)
    }

    /// Moves a partition's log start offset to `offset` (-1: the high watermark) and returns the new one.
    /// Whole segments below it are deleted now. An offset at or below the current start changes nothing, as
    /// in Kafka. The caller saves the checkpoint (`persistLogStartOffsets`) once for a whole request.
    public func deleteRecords(_ topic: String, partition: Int32, before offset: Int64)
        throws(DeleteRecordsError) -> Int64
    {
        guard let metadata = topics.topic(topic), partition >= 0, partition < metadata.partitionCount,
            let log = log(topic, partition)
        else { throw .unknownTopicOrPartition }
        let highWatermark = log.highWatermark
        let target = offset == -1 ? highWatermark : offset
        guard target >= 0, target <= highWatermark else {
            throw .offsetOutOfRange(
                "offset \(offset) is outside \(log.logStartOffset)...\(highWatermark) of \(topic)-\(partition)")
        }
        do {
            try log.advanceLogStartOffset(to: target)
        } catch LogError.offsetOutOfRange {
            throw .offsetOutOfRange("offset \(offset) is past the end of \(topic)-\(partition)")
        } catch {
            throw .storage("storage error: \(error)")
        }
        return log.logStartOffset
    }

    /// Writes every partition's log start offset to the checkpoint, so deleted records stay deleted after
    /// a crash.
    public func persistLogStartOffsets() throws {
        try logs.writeCheckpoint()
    }
}
