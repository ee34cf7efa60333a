import SkeinLog
import SkeinProtocol

/// OffsetCommit: needs READ on the group (else every partition answers GROUP_AUTHORIZATION_FAILED) and on
/// each topic; checked against the group's generation, then made durable before the answer.
enum OffsetCommitHandler {
    static func handle(_ request: OffsetCommitRequest, context: RequestContext, broker: Broker) {
        func answer(_ code: (OffsetCommitRequest.Topic, OffsetCommitRequest.Partition) -> ErrorCode)
            -> OffsetCommitResponse
        {
            OffsetCommitResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitions.map {
                            .init(partitionIndex: $0.partitionIndex, errorCode: code(topic, $0))
                        })
                })
        }
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(answer { _, _ in .groupAuthorizationFailed })
            return
        }
        let check = broker.groups.checkCommit(
            groupId: request.groupId, generation: request.generationIdOrMemberEpoch, memberId: request.memberId,
            instanceId: request.groupInstanceId)
        if case .rejected(let code) = check {
            context.reply(answer { _, _ in code })
            return
        }
        let now = broker.groups.clock.milliseconds()
        var accepted: [TopicPartition: OffsetStore.Committed] = [:]
        var errors: [TopicPartition: ErrorCode] = [:]
        for topic in request.topics {
            let readable = context.authorized(broker, .read, .topic, topic.name)
            for partition in topic.partitions {
                let topicPartition = TopicPartition(topic.name, partition.partitionIndex)
                if !readable {
                    errors[topicPartition] = .topicAuthorizationFailed
                } else if let problem = Self.problem(
                    committing: topicPartition, metadata: partition.committedMetadata, broker: broker)
                {
                    errors[topicPartition] = problem
                } else {
                    accepted[topicPartition] = OffsetStore.Committed(
                        offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch,
                        metadata: partition.committedMetadata, commitTimestampMs: now)
                }
            }
        }
        // Both possible answers are built now, so the storage callback only picks one.
        func response(storeError: ErrorCode?) -> OffsetCommitResponse {
            answer { topic, partition in
                errors[TopicPartition(topic.name, partition.partitionIndex)] ?? storeError ?? .noError
            }
        }
        let stored = response(storeError: nil)
        let failed = response(storeError: .kafkaStorageError)
        guard !accepted.isEmpty else {
            context.reply(stored)
            return
        }
        broker.groups.offsets.commit(groupId: request.groupId, offsets: accepted) { result in
            if case .failure(let error) = result {
                broker.logger.error("storing offsets of group \(request.groupId.quotedForLog) failed: \(error)")
            }
            context.reply(result.isFailure ? failed : stored)
        }
    }

    /// Why an offset cannot be committed for `topicPartition`, if it cannot; TxnOffsetCommit applies the same
    /// rules.
    static func problem(committing topicPartition: TopicPartition, metadata: String?, broker: Broker) -> ErrorCode? {
        if broker.log(topicPartition.topic, topicPartition.partition) == nil { return .unknownTopicOrPartition }
        if (metadata?.utf8.count ?? 0) > broker.groups.config.maxMetadataBytes { return .offsetMetadataTooLarge }
        return nil
    }
}
