import SkeinProtocol

extension Producer {
    /// Bytes a record's length, attributes and deltas add to its encoded body, at most (for batch sizing).
    static let encodedRecordPrefixBytes = 12

    /// Accepts runs of records encoded ahead of their batch (`EncodedRecords`) for one partition, as
    /// `enqueue` accepts records: no waiting for acknowledgements, outcomes to `statistics`,
    /// `firstEnqueueError` and `flush()`. Several runs share a batch up to `batchSize`; a run is never
    /// split, so callers keep runs well under `batchSize` (and the broker's `message.max.bytes`).
    ///
    /// For a caller that builds its records' bytes itself (the log shipper): no per-record objects pass
    /// through the producer at all.
    public func enqueue(encoded runs: consuming [EncodedRecords], to topicPartition: TopicPartition) async throws {
        guard !isClosed else { throw KafkaClientError.closed }
        if let transactions { try await transactions.checkSendable() }
        let partitionCount = try await metadata.partitionCount(of: topicPartition.topic)
        guard topicPartition.partition >= 0, Int(topicPartition.partition) < partitionCount else {
            throw KafkaClientError.unknownTopicOrPartition(
                topic: topicPartition.topic, partition: topicPartition.partition)
        }
        if accumulators[topicPartition]?.records.isEmpty == false { drain(topicPartition) }
        let batchSize = configuration.batchSize
        for run in runs where !run.isEmpty {
            let size = run.byteCount + Self.encodedRecordPrefixBytes * run.count
            if let waiting = accumulators[topicPartition], !waiting.isEmpty, waiting.estimatedBytes + size > batchSize {
                drain(topicPartition)
            }
            unfinishedRecords += run.count
            bufferedBytes += size
            // Taken out and put back, so appending does not copy the accumulator's arrays.
            var accumulator = accumulators.removeValue(forKey: topicPartition) ?? Accumulator()
            let isFirst = accumulator.encoded.isEmpty
            if isFirst { accumulator.generation &+= 1 }
            accumulator.encoded.append(run)
            accumulator.encodedCount += run.count
            accumulator.estimatedBytes += size
            let generation = accumulator.generation
            let full = accumulator.estimatedBytes >= batchSize
            accumulators[topicPartition] = accumulator
            if full {
                drain(topicPartition)
            } else if isFirst {
                let linger = configuration.linger
                Task {
                    try? await Task.sleep(for: linger)
                    self.lingerExpired(topicPartition, generation: generation)
                }
            }
        }
        while bufferedBytes > configuration.bufferMemory {
            await withCheckedContinuation { bufferWaiters.append($0) }
        }
    }
}
