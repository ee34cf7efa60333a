import SkeinProtocol

/// DeleteRecords: moves log start offsets forward, answering each partition's new low watermark.
///
/// Deleting whole segments and saving the checkpoint touch the disk, so the work runs on the admin queue.
/// The checkpoint is written once per request before the answer, so a deletion that was acknowledged
/// survives kill -9: the records never come back.
enum DeleteRecordsHandler {
    static func handle(_ request: DeleteRecordsRequest, context: RequestContext, broker: Broker) {
        // DELETE on each topic, decided here, on the connection's event loop, before the work is queued.
        let refused = Set(request.topics.map(\.name).filter { !context.authorized(broker, .delete, .topic, $0) })
        broker.adminQueue.async {
            context.reply(DeleteRecordsResponse(topics: delete(request, refused: refused, broker: broker)))
        }
    }

    static func delete(_ request: DeleteRecordsRequest, refused: Set<String> = [], broker: Broker)
        -> [DeleteRecordsResponse.Topic]
    {
        var changed = false
        var topics = request.topics.map { topic in
            DeleteRecordsResponse.Topic(
                name: topic.name,
                partitions: topic.partitions.map { partition -> DeleteRecordsResponse.Partition in
                    if refused.contains(topic.name) {
                        return .init(partitionIndex: partition.partitionIndex, errorCode: .topicAuthorizationFailed)
                    }
                    do throws(Broker.DeleteRecordsError) {
                        let start = try broker.deleteRecords(
                            topic.name, partition: partition.partitionIndex, before: partition.offset)
                        changed = true
                        return .init(partitionIndex: partition.partitionIndex, lowWatermark: start)
                    } catch {
                        let code: ErrorCode =
                            switch error {
                            case .unknownTopicOrPartition: .unknownTopicOrPartition
                            case .offsetOutOfRange: .offsetOutOfRange
                            case .storage: .kafkaStorageError
                            }
                        return .init(partitionIndex: partition.partitionIndex, errorCode: code)
                    }
                })
        }
        guard changed else { return topics }
        do {
            try broker.persistLogStartOffsets()
        } catch {
            // Not durable, so not acknowledged: the client retries, and a retry is harmless.
            broker.logger.error("saving log start offsets after DeleteRecords failed: \(error)")
            for index in topics.indices {
                for partition in topics[index].partitions.indices
                where topics[index].partitions[partition].errorCode == .noError {
                    topics[index].partitions[partition] = .init(
                        partitionIndex: topics[index].partitions[partition].partitionIndex,
                        errorCode: .kafkaStorageError)
                }
            }
        }
        return topics
    }
}
