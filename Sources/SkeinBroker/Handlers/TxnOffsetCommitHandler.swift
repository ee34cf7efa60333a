import SkeinLog
import SkeinProtocol

/// TxnOffsetCommit: offsets that become visible to OffsetFetch only when the transaction commits. From v3
/// the consumer's group generation is checked as for OffsetCommit (KIP-447), so a producer whose input
/// partitions were reassigned cannot commit for them.
enum TxnOffsetCommitHandler {
    static func handle(_ request: TxnOffsetCommitRequest, context: RequestContext, broker: Broker) {
        @Sendable func answer(_ code: (String, Int32) -> ErrorCode) -> TxnOffsetCommitResponse {
            TxnOffsetCommitResponse(
                topics: request.topics.map { topic in
                    .init(
                        name: topic.name,
                        partitions: topic.partitions.map {
                            .init(partitionIndex: $0.partitionIndex, errorCode: code(topic.name, $0.partitionIndex))
                        })
                })
        }
        // WRITE on the transactional id, READ on the group, then READ on each topic, as Kafka checks them.
        guard context.authorized(broker, .write, .transactionalId, request.transactionalId) else {
            context.reply(answer { _, _ in .transactionalIdAuthorizationFailed })
            return
        }
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(answer { _, _ in .groupAuthorizationFailed })
            return
        }
        if request.generationId >= 0 || !request.memberId.isEmpty {
            let check = broker.groups.checkCommit(
                groupId: request.groupId, generation: request.generationId, memberId: request.memberId,
                instanceId: request.groupInstanceId)
            if case .rejected(let code) = check {
                context.reply(answer { _, _ in code })
                return
            }
        }
        var errors: [TopicPartition: ErrorCode] = [:]
        var pending: [TransactionMetadata.PendingOffset] = []
        for topic in request.topics {
            let readable = context.authorized(broker, .read, .topic, topic.name)
            for partition in topic.partitions {
                let topicPartition = TopicPartition(topic.name, partition.partitionIndex)
                if !readable {
                    errors[topicPartition] = .topicAuthorizationFailed
                } else if let problem = OffsetCommitHandler.problem(
                    committing: topicPartition, metadata: partition.committedMetadata, broker: broker)
                {
                    errors[topicPartition] = problem
                } else {
                    pending.append(
                        .init(
                            group: request.groupId, partition: .init(topicPartition),
                            offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch,
                            metadata: partition.committedMetadata))
                }
            }
        }
        guard errors.isEmpty else {
            context.reply(answer { errors[TopicPartition($0, $1)] ?? .operationNotAttempted })
            return
        }
        let coordinator = broker.transactions
        let offsets = pending
        coordinator.queue.async {
            let result = coordinator.commitOffsets(
                transactionalId: request.transactionalId, producerId: request.producerId,
                epoch: request.producerEpoch, groupId: request.groupId, offsets: offsets)
            switch result {
            case .success: context.reply(answer { _, _ in .noError })
            case .failure(let error):
                let code = error.code(fencedCode: TxnOffsetCommitResponse.producerFencedError(version: context.version))
                context.reply(answer { _, _ in code })
            }
        }
    }
}
