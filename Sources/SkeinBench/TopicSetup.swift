import NIOCore
import SkeinProtocol

/// What the benchmark learns about its topic before the clock starts.
struct TopicLayout: Sendable {
    var partitions: [Int32]
    var brokerCount: Int
}

extension SetupClient {
    func describeTopic(_ topic: String, versions: NegotiatedVersions) async throws -> (ErrorCode, TopicLayout) {
        let version = try versions.version(of: .metadata, minimum: 1)
        let request = MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: false)
        guard case .metadata(let response) = try await send(request, version: version) else {
            throw BenchError("Metadata answered with the wrong response type")
        }
        guard let entry = response.topics.first(where: { $0.name == topic }) else {
            return (.unknownTopicOrPartition, TopicLayout(partitions: [], brokerCount: response.brokers.count))
        }
        let partitions = entry.partitions.map(\.partitionIndex).sorted()
        return (entry.errorCode, TopicLayout(partitions: partitions, brokerCount: response.brokers.count))
    }

    /// Creates `topic` (`partitions` nil means the broker's default) and waits until Metadata
    /// shows it, since creation and visibility need not be atomic on every broker.
    func createTopic(_ topic: String, partitions: Int?, versions: NegotiatedVersions) async throws -> TopicLayout {
        let version = try versions.version(of: .createTopics)
        let useBrokerDefaults = version >= 4
        let request = CreateTopicsRequest(
            topics: [
                .init(
                    name: topic, numPartitions: Int32(partitions ?? (useBrokerDefaults ? -1 : 1)),
                    replicationFactor: useBrokerDefaults ? -1 : 1)
            ], timeoutMs: 30_000)
        guard case .createTopics(let response) = try await send(request, version: version) else {
            throw BenchError("CreateTopics answered with the wrong response type")
        }
        if let result = response.topics.first, result.errorCode != .noError, result.errorCode != .topicAlreadyExists {
            throw BenchError(
                "creating topic \(topic) failed: \(result.errorCode) (\(result.errorCode.rawValue))"
                    + (result.errorMessage.map { ": \($0)" } ?? ""))
        }
        for _ in 0..<50 {
            let (code, layout) = try await describeTopic(topic, versions: versions)
            if code == .noError, !layout.partitions.isEmpty { return layout }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("topic \(topic) was created but Metadata does not show it after 5 s")
    }

    /// The offsets at `timestamp` (earliest or latest marker) for every partition.
    func listOffsets(_ topic: String, partitions: [Int32], timestamp: Int64, versions: NegotiatedVersions)
        async throws -> [Int32: Int64]
    {
        let version = try versions.version(of: .listOffsets, minimum: 1)
        let request = ListOffsetsRequest(
            topics: [.init(name: topic, partitions: partitions.map { .init(partitionIndex: $0, timestamp: timestamp) })]
        )
        guard case .listOffsets(let response) = try await send(request, version: version) else {
            throw BenchError("ListOffsets answered with the wrong response type")
        }
        var offsets: [Int32: Int64] = [:]
        for entry in response.topics where entry.name == topic {
            for partition in entry.partitions {
                guard partition.errorCode == .noError else {
                    throw BenchError(
                        "ListOffsets for \(topic)-\(partition.partitionIndex) failed: \(partition.errorCode)")
                }
                offsets[partition.partitionIndex] = partition.offset
            }
        }
        for partition in partitions where offsets[partition] == nil {
            throw BenchError("ListOffsets did not answer for \(topic)-\(partition)")
        }
        return offsets
    }
}
