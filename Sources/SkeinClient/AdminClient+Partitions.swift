import SkeinProtocol

extension AdminClient {
    /// Grows a topic to `count` partitions in total (CreatePartitions), as `kafka-topics --alter
    /// --partitions` does. Partitions cannot be removed; a count not above the current one fails with
    /// INVALID_PARTITIONS.
    public func addPartitions(_ topic: String, totalCount count: Int32, validateOnly: Bool = false) async throws {
        let request = CreatePartitionsRequest(
            topics: [.init(name: topic, count: count)], timeoutMs: 30_000, validateOnly: validateOnly)
        let response = try await metadata.anyConnection().send(request)
        guard let result = response.results.first(where: { $0.name == topic }) else {
            throw KafkaClientError.unexpectedResponse("CreatePartitions did not answer for \(topic)")
        }
        if result.errorCode == .unknownTopicOrPartition {
            throw KafkaClientError.unknownTopicOrPartition(topic: topic, partition: nil)
        }
        try Self.check(result.errorCode, result.errorMessage, context: "add partitions to \(topic)")
        try await metadata.refresh(topics: [topic])
    }

    /// Deletes the records below each offset (DeleteRecords; -1 means everything written so far) and returns
    /// each partition's new log start offset. Each request goes to the partition's leader.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) async throws -> [TopicPartition: Int64] {
        var byLeader: [Int32: [TopicPartition]] = [:]
        for partition in offsets.keys {
            let info = try await metadata.topic(partition.topic)
            guard let leader = info.partitions[partition.partition]?.leaderId else {
                throw KafkaClientError.unknownTopicOrPartition(topic: partition.topic, partition: partition.partition)
            }
            byLeader[leader, default: []].append(partition)
        }
        var starts: [TopicPartition: Int64] = [:]
        for (leader, partitions) in byLeader {
            let topics = Dictionary(grouping: partitions, by: \.topic).sorted { $0.key < $1.key }.map { topic, parts in
                DeleteRecordsRequest.Topic(
                    name: topic,
                    partitions: parts.sorted { $0.partition < $1.partition }.map {
                        .init(partitionIndex: $0.partition, offset: offsets[$0]!)
                    })
            }
            let connection = try await metadata.connection(toNode: leader)
            let response = try await connection.send(DeleteRecordsRequest(topics: topics, timeoutMs: 30_000))
            for topic in response.topics {
                for result in topic.partitions {
                    let partition = TopicPartition(topic: topic.name, partition: result.partitionIndex)
                    if result.errorCode == .unknownTopicOrPartition {
                        throw KafkaClientError.unknownTopicOrPartition(
                            topic: topic.name, partition: result.partitionIndex)
                    }
                    try Self.check(result.errorCode, nil, context: "delete records of \(partition)")
                    starts[partition] = result.lowWatermark
                }
            }
        }
        return starts
    }
}

extension AdminClient {
    /// The bytes each partition of `topic` takes on its leader's disk (DescribeLogDirs), as `kafka-log-dirs
    /// --describe` reports them; future replicas being moved between directories are not counted.
    public func partitionSizes(of topic: String) async throws -> [Int32: Int64] {
        let info = try await metadata.topic(topic)
        let byLeader = Dictionary(grouping: info.partitions.keys, by: { info.partitions[$0]!.leaderId })
        var sizes: [Int32: Int64] = [:]
        for (leader, partitions) in byLeader where leader >= 0 {
            let connection = try await metadata.connection(toNode: leader)
            let response = try await connection.send(
                DescribeLogDirsRequest(topics: [.init(topic: topic, partitions: partitions.sorted())]))
            for directory in response.results where directory.errorCode == .noError {
                for entry in directory.topics where entry.name == topic {
                    for partition in entry.partitions where !partition.isFutureKey {
                        sizes[partition.partitionIndex, default: 0] += partition.partitionSize
                    }
                }
            }
        }
        return sizes
    }
}
