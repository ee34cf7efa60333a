import NIOCore
import SkeinProtocol

extension ClusterMetadata {
    /// The offsets `spec` names for each partition (ListOffsets to each leader): the log start,
    /// the log end, or the first offset at or after a timestamp, found through the broker's time index.
    /// With read_committed, "the end" is the last stable offset, as Kafka's brokers answer it.
    public func listOffsets(
        _ partitions: [TopicPartition], _ spec: OffsetSpec, isolationLevel: IsolationLevel = .readUncommitted
    ) async throws -> [TopicPartition: Int64] {
        let timestamp: Int64
        switch spec {
        case .offset(let offset):
            return Dictionary(uniqueKeysWithValues: partitions.map { ($0, offset) })
        case .beginning: timestamp = -2
        case .end: timestamp = -1
        case .timestamp(let milliseconds): timestamp = milliseconds
        }
        // One partition per request: librdkafka 2.0.2's mock broker misreads ListOffsets v4+ requests
        // with several partitions (every partition after the first comes back as garbage), and
        // pipelining keeps the extra requests nearly free.
        var answers: [(TopicPartition, EventLoopFuture<ListOffsetsResponse>)] = []
        for partition in partitions {
            let connection = try await leaderConnection(for: partition)
            // v2 brought the isolation level; v1 would answer the high watermark to read_committed.
            let version = try connection.versions.version(
                of: .listOffsets, minimum: isolationLevel == .readCommitted ? 2 : 1)
            let request = ListOffsetsRequest(
                isolationLevel: isolationLevel.rawValue,
                topics: [
                    .init(
                        name: partition.topic,
                        partitions: [.init(partitionIndex: partition.partition, timestamp: timestamp)])
                ])
            answers.append((partition, try connection.enqueue(request, version: version)))
        }
        var result: [TopicPartition: Int64] = [:]
        for (requested, answer) in answers {
            let response = try await answer.get()
            guard
                let partition = response.topics.first(where: { $0.name == requested.topic })?.partitions
                    .first(where: { $0.partitionIndex == requested.partition })
            else { continue }
            guard partition.errorCode == .noError else {
                if partition.errorCode.isRetriable { invalidate(topic: requested.topic) }
                throw KafkaClientError.broker(partition.errorCode, context: "ListOffsets for \(requested)")
            }
            result[requested] = partition.offset
        }
        // A timestamp after the last record finds nothing (-1); Kafka clients then read from the end.
        if case .timestamp = spec, result.values.contains(-1) {
            let ends = try await listOffsets(
                partitions.filter { result[$0] == -1 }, .end, isolationLevel: isolationLevel)
            result.merge(ends) { _, end in end }
        }
        for partition in partitions where result[partition] == nil {
            throw KafkaClientError.unexpectedResponse("ListOffsets did not answer for \(partition)")
        }
        return result
    }
}
