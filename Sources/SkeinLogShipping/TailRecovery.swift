import Logging
import SkeinClient

/// Reads back what this agent committed to one partition and returns each source's position: the last
/// checkpoint record, overlaid with every record after it.
///
/// It runs after `initTransactions`, which has fenced the previous incarnation and aborted (or
/// completed) the transaction it left, so the committed tail is final. Kafka has no backward read, so
/// the scan reads growing windows back from the end until one holds a checkpoint of ours (or the log's
/// start): checkpoints are written often enough that the first window usually does. The local cache,
/// when it names a checkpoint's offset, only lets the first window start there.
struct TailRecovery {
    let metadata: ClusterMetadata
    let agentId: String
    let hostKey: [UInt8]
    let isolation: IsolationLevel
    let logger: Logger
    /// How long to wait for other producers' open transactions below the end to finish, so
    /// read_committed reading can reach the end (bounded by their transaction timeout).
    var stableWait: Duration = .seconds(120)
    var firstWindow: Int64 = 4096

    struct Outcome {
        var states: [String: SourceState] = [:]
        var checkpointOffset: Int64?
        var scanned = 0
        var endOffset: Int64 = 0
    }

    func recover(topic: String, partition: Int32, hint: Int64?) async throws -> Outcome {
        let topicPartition = TopicPartition(topic: topic, partition: partition)
        var configuration = ConsumerConfiguration()
        configuration.isolationLevel = isolation
        configuration.maxWait = .milliseconds(50)
        configuration.clientId = "skein-agent-recovery"
        configuration.offsetReset = .beginning
        let consumer = Consumer(metadata: metadata, configuration: configuration, logger: logger)
        defer { Task { await consumer.close() } }
        try await consumer.assign([topicPartition], from: .beginning)
        let logStart = await consumer.position(of: topicPartition) ?? 0
        let end = try await stableEnd(consumer, topicPartition)
        var outcome = Outcome(endOffset: end)
        guard end > logStart else { return outcome }

        var chunks: [[ConsumerRecord]] = []
        var upper = end
        var window = firstWindow
        if let hint, hint >= logStart, hint < end {
            let records = try await read(consumer, topicPartition, from: hint, to: end, scanned: &outcome.scanned)
            if let first = records.first, first.offset == hint, Self.checkpoint(in: first, agent: agentId) != nil {
                chunks.append(records)
                upper = logStart  // found: nothing further back is needed
            } else {
                logger.info(
                    "the cached checkpoint offset does not hold this agent's checkpoint; scanning back from the end",
                    metadata: ["topic": "\(topic)", "partition": "\(partition)", "offset": "\(hint)"])
            }
        }
        while upper > logStart {
            let lower = max(logStart, upper - window)
            let records = try await read(consumer, topicPartition, from: lower, to: upper, scanned: &outcome.scanned)
            chunks.insert(records, at: 0)
            if records.contains(where: { Self.checkpoint(in: $0, agent: agentId) != nil }) { break }
            upper = lower
            window = min(window * 8, 1 << 40)
        }
        apply(chunks.flatMap { $0 }, to: &outcome)
        return outcome
    }

    /// The high watermark, once read_committed reading can reach it.
    private func stableEnd(_ consumer: Consumer, _ topicPartition: TopicPartition) async throws -> Int64 {
        let deadline = ContinuousClock.now + stableWait
        var highWatermark: Int64?
        while true {
            try Task.checkCancellation()
            _ = try await consumer.poll()
            if highWatermark == nil { highWatermark = await consumer.highWatermarks[topicPartition] }
            if let highWatermark {
                if isolation == .readUncommitted { return highWatermark }
                if let stable = await consumer.lastStableOffsets[topicPartition], stable >= highWatermark {
                    return highWatermark
                }
            }
            guard ContinuousClock.now < deadline else {
                throw KafkaClientError.timedOut(
                    "\(topicPartition): an open transaction below the end did not finish within \(stableWait)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// This agent's records with offsets in `lower..<upper`.
    private func read(
        _ consumer: Consumer, _ topicPartition: TopicPartition, from lower: Int64, to upper: Int64, scanned: inout Int
    ) async throws -> [ConsumerRecord] {
        try await consumer.seek(topicPartition, to: .offset(lower))
        var ours: [ConsumerRecord] = []
        var idlePolls = 0
        while let position = await consumer.position(of: topicPartition), position < upper {
            try Task.checkCancellation()
            let records = try await consumer.poll()
            let moved = await consumer.position(of: topicPartition) != position
            idlePolls = records.isEmpty && !moved ? idlePolls + 1 : 0
            // `poll` answers a lost connection with no records, so a read that stops moving is a failure,
            // never the end of the range: taken for the whole window, it would hand back a state older
            // than what is committed (and committed records would go out again under their sequence
            // numbers). A range that retention deletes meanwhile does move: the fetch answers
            // OFFSET_OUT_OF_RANGE and the position jumps to the new log start.
            if idlePolls > 400 {
                throw KafkaClientError.timedOut(
                    "\(topicPartition): reading back offsets \(position)..<\(upper) made no progress")
            }
            for record in records where record.offset < upper {
                scanned += 1
                guard record.key == hostKey,
                    PositionHeaders.value(of: PositionHeaders.agent, in: record.headers).map({
                        String(decoding: $0, as: UTF8.self)
                    }) == agentId
                else { continue }
                ours.append(record)
            }
        }
        return ours
    }

    static func checkpoint(in record: ConsumerRecord, agent: String) -> CheckpointRecord? {
        guard PositionHeaders.value(of: PositionHeaders.checkpoint, in: record.headers) != nil,
            let value = record.value, let checkpoint = CheckpointRecord.decode(value), checkpoint.agent == agent
        else { return nil }
        return checkpoint
    }

    private func apply(_ records: [ConsumerRecord], to outcome: inout Outcome) {
        var start = 0
        if let last = records.lastIndex(where: { Self.checkpoint(in: $0, agent: agentId) != nil }),
            let checkpoint = Self.checkpoint(in: records[last], agent: agentId)
        {
            outcome.checkpointOffset = records[last].offset
            for (id, source) in checkpoint.sources {
                outcome.states[id] = SourceState(found: true, sequence: source.seq, positions: source.positions)
            }
            start = last + 1
        }
        for record in records[start...] {
            guard let parsed = PositionHeaders.parse(record.headers) else { continue }
            var state = outcome.states[parsed.source] ?? SourceState(found: true)
            state.found = true
            state.sequence = max(state.sequence, parsed.sequence)
            state.positions[parsed.stream] = parsed.position
            outcome.states[parsed.source] = state
        }
    }
}
