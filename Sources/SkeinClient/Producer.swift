import Foundation
import Logging
import NIOCore
import SkeinCompression
import SkeinProtocol

/// An asynchronous Kafka producer.
///
/// Records wait per partition until `batchSize` bytes or `linger` time has gathered, then travel as
/// one RecordBatch. Each partition has its own sender keeping up to `maxInFlightPerPartition`
/// batches in flight on the leader's connection; because a connection delivers requests in order
/// and answers are processed in order, and (with idempotence) the broker rejects sequence gaps,
/// records of one partition are stored in the order `send` was called even across retries.
public actor Producer {
    public let configuration: ProducerConfiguration
    let metadata: ClusterMetadata
    private let ownsMetadata: Bool
    private let logger: Logger

    var accumulators: [TopicPartition: Accumulator] = [:]
    private var senders: [TopicPartition: PartitionSender] = [:]
    /// The partition keyless records of each topic go to until its batch leaves (KIP-480's sticky
    /// partitioner): whole batches instead of one record per partition per batch.
    var stickyPartitions: [String: Int32] = [:]
    private var randomness = SystemRandomNumberGenerator()
    /// Bytes of records accepted but not yet acknowledged; `enqueue` waits while it is over
    /// `bufferMemory`.
    var bufferedBytes = 0
    var bufferWaiters: [CheckedContinuation<Void, Never>] = []
    /// The first error of a record sent with `enqueue` (which has no caller to throw to).
    public private(set) var firstEnqueueError: KafkaClientError?
    private var producerIdentity: Task<ProducerIdentity, any Error>?
    var unfinishedRecords = 0
    private var flushWaiters: [CheckedContinuation<Void, Never>] = []
    var isClosed = false
    /// Counters since creation, for monitoring and for tests that need to see batching and retries.
    public private(set) var statistics = ProducerStatistics()
    /// The transaction state and coordinator calls, with `transactional.id` (see Producer+Transactions).
    let transactions: TransactionManager?

    public init(
        bootstrapServers: [String], configuration: ProducerConfiguration = ProducerConfiguration(),
        logger: Logger = Logger(label: "skein-producer"), security: ClientSecurity = .plaintext
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        let metadata = try ClusterMetadata(
            bootstrapServers: bootstrapServers, clientId: configuration.clientId, logger: logger, security: security)
        self.metadata = metadata
        self.ownsMetadata = true
        self.logger = logger
        self.transactions = configuration.transactionalId.map {
            TransactionManager(transactionalId: $0, configuration: configuration, metadata: metadata, logger: logger)
        }
    }

    /// Shares `metadata` (and its connections) with other clients of the same cluster.
    public init(
        metadata: ClusterMetadata, configuration: ProducerConfiguration = ProducerConfiguration(),
        logger: Logger = Logger(label: "skein-producer")
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.metadata = metadata
        self.ownsMetadata = false
        self.logger = logger
        self.transactions = configuration.transactionalId.map {
            TransactionManager(transactionalId: $0, configuration: configuration, metadata: metadata, logger: logger)
        }
    }

    /// Produces one record and returns where it was stored, once the broker has acknowledged it
    /// as `acks` requires. Concurrent calls are batched together.
    public func send(_ record: ProducerRecord) async throws -> RecordMetadata {
        guard !isClosed else { throw KafkaClientError.closed }
        if let transactions { try await transactions.checkSendable() }
        let partition = try await choosePartition(for: record)
        let topicPartition = TopicPartition(topic: record.topic, partition: partition)
        let timestamp = record.timestamp ?? Self.nowMilliseconds()
        return try await withCheckedThrowingContinuation { continuation in
            let pending = PendingRecord(
                key: record.key, value: record.value, headers: record.headers, timestamp: timestamp,
                completion: .caller(continuation))
            add(pending, to: topicPartition)
        }
    }

    /// Accepts `records` without waiting for their acknowledgement, for bulk loads where a
    /// round trip per record would dominate. Waits only while more than `bufferMemory` bytes are
    /// unacknowledged (Kafka's `buffer.memory` back-pressure). Outcomes go to `statistics` and
    /// `firstEnqueueError`; `flush()` waits for all of them.
    ///
    /// Takes `records` as its own: when the caller hands over its only reference, each record moves into
    /// the batch without being copied (a retain of its key, value and headers, and the releases later).
    public func enqueue(_ records: consuming [ProducerRecord]) async throws {
        guard !isClosed else { throw KafkaClientError.closed }
        if let transactions { try await transactions.checkSendable() }
        let now = Self.nowMilliseconds()
        var records = records
        // Partition counts first: nothing may await while the records are being moved out below.
        var partitionCounts: [String: Int] = [:]
        var lastTopic: String?
        for index in records.indices where records[index].topic != lastTopic {
            let topic = records[index].topic
            if partitionCounts[topic] == nil { partitionCounts[topic] = try await metadata.partitionCount(of: topic) }
            lastTopic = topic
        }
        // Consecutive records for one partition are added as a run: one accumulator lookup per run
        // rather than per record. A run ends at a batch's worth of bytes, so keyless records still
        // move to a new sticky partition when a batch fills.
        var run: [PendingRecord] = []
        var runBytes = 0
        var runPartition: TopicPartition?
        lastTopic = nil
        var lastCount = 0
        try records.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for index in buffer.indices {
                // Moved out, and the slot refilled with an empty record (no allocation), so the array stays
                // valid to destroy. Swapping or popping copied (retained) each record instead.
                let record = (base + index).move()
                (base + index).initialize(to: ProducerRecord(topic: "", value: nil))
                let topic = record.topic
                if topic != lastTopic {
                    lastCount = partitionCounts[topic] ?? 0
                    lastTopic = topic
                }
                let partition = try choosePartition(
                    topic: topic, partition: record.partition, key: record.key, partitionCount: lastCount)
                if runPartition?.partition != partition || runPartition?.topic != topic
                    || runBytes >= configuration.batchSize
                {
                    if let runPartition, !run.isEmpty { addRun(run, to: runPartition) }
                    // A fresh array: the accumulator may now share the last one's storage (see `addRun`).
                    run = []
                    runBytes = 0
                    runPartition = TopicPartition(topic: topic, partition: partition)
                }
                let pending = PendingRecord(
                    key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp ?? now,
                    completion: .none)
                runBytes += pending.size
                run.append(pending)
            }
        }
        if let runPartition, !run.isEmpty { addRun(run, to: runPartition) }
        while bufferedBytes > configuration.bufferMemory {
            await withCheckedContinuation { bufferWaiters.append($0) }
        }
    }

    public func send(
        topic: String, partition: Int32? = nil, key: [UInt8]? = nil, value: [UInt8]?, headers: [RecordHeader] = []
    ) async throws -> RecordMetadata {
        try await send(ProducerRecord(topic: topic, partition: partition, key: key, value: value, headers: headers))
    }

    /// Connects and looks the topic up (creating it where the broker auto-creates topics), so a
    /// tool can report an unreachable broker or a missing topic before it starts reading input.
    public func checkTopic(_ topic: String, timeout: Duration = .seconds(5)) async throws {
        _ = try await metadata.anyConnection()
        _ = try await metadata.topic(topic, timeout: timeout)
    }

    /// Sends every waiting batch now and returns when every record sent before the call has its
    /// outcome.
    public func flush() async {
        for topicPartition in accumulators.keys { drain(topicPartition) }
        guard unfinishedRecords > 0 else { return }
        await withCheckedContinuation { flushWaiters.append($0) }
    }

    /// Flushes, then refuses further sends and closes connections this producer opened.
    public func close() async {
        await flush()
        isClosed = true
        await transactions?.close()
        if ownsMetadata { await metadata.close() }
    }

    // MARK: Partitioning and accumulation

    private func choosePartition(for record: ProducerRecord) async throws -> Int32 {
        try choosePartition(
            topic: record.topic, partition: record.partition, key: record.key,
            partitionCount: try await metadata.partitionCount(of: record.topic))
    }

    private func choosePartition(topic: String, partition: Int32?, key: [UInt8]?, partitionCount count: Int) throws
        -> Int32
    {
        if let partition {
            guard partition >= 0, Int(partition) < count else {
                throw KafkaClientError.unknownTopicOrPartition(topic: topic, partition: partition)
            }
            return partition
        }
        if let key {
            return Murmur2Partitioner.partition(forKey: key, partitionCount: count)
        }
        if let sticky = stickyPartitions[topic], Int(sticky) < count { return sticky }
        let chosen = Int32.random(in: 0..<Int32(count), using: &randomness)
        stickyPartitions[topic] = chosen
        return chosen
    }

    private func add(_ record: PendingRecord, to topicPartition: TopicPartition) {
        addRun([record], to: topicPartition)
    }

    /// Appends records for one partition, draining each batch as it fills and starting the linger timer
    /// of each batch's first record. Appending through the dictionary subscript keeps the records array
    /// uniquely referenced, so a batch of n records costs n appends rather than n copies of a growing array.
    private func addRun(_ run: [PendingRecord], to topicPartition: TopicPartition) {
        if accumulators[topicPartition]?.encoded.isEmpty == false { drain(topicPartition) }
        if takeWhole(run, to: topicPartition) { return }
        var next = 0
        while next < run.count {
            unfinishedRecords += 1
            bufferedBytes += run[next].size
            let (isFirst, generation, isFull) = Self.append(
                run[next], to: &accumulators[topicPartition, default: Accumulator()], batchSize: configuration.batchSize
            )
            next += 1
            if isFull {
                drain(topicPartition)
                continue
            }
            if isFirst {
                let linger = configuration.linger
                Task {
                    try? await Task.sleep(for: linger)
                    self.lingerExpired(topicPartition, generation: generation)
                }
            }
            let (taken, filled) = Self.appendWhileRoom(
                run, from: next, to: &accumulators[topicPartition, default: Accumulator()],
                batchSize: configuration.batchSize)
            for index in next..<(next + taken) { bufferedBytes += run[index].size }
            unfinishedRecords += taken
            next += taken
            if filled { drain(topicPartition) }
        }
    }

    /// The common case of a bulk `enqueue`: an empty accumulator and a run that makes at most one batch
    /// (its records before the last stay under `batchSize`). The accumulator takes the run's array as it
    /// is, sharing its storage, instead of copying (and retaining) every record into its own; the result
    /// is the batch the record-by-record path would build.
    private func takeWhole(_ run: [PendingRecord], to topicPartition: TopicPartition) -> Bool {
        guard run.count > 1, accumulators[topicPartition]?.isEmpty ?? true else { return false }
        var bytes = 0
        var callers = 0
        for index in run.indices {
            if bytes >= configuration.batchSize { return false }
            bytes += run[index].size
            if case .caller = run[index].completion { callers += 1 }
        }
        var accumulator = accumulators.removeValue(forKey: topicPartition) ?? Accumulator()
        accumulator.records = run
        accumulator.estimatedBytes = bytes
        accumulator.callerCount = callers
        accumulator.generation &+= 1
        let generation = accumulator.generation
        accumulators[topicPartition] = accumulator
        unfinishedRecords += run.count
        bufferedBytes += bytes
        if bytes >= configuration.batchSize {
            drain(topicPartition)
        } else {
            let linger = configuration.linger
            Task {
                try? await Task.sleep(for: linger)
                self.lingerExpired(topicPartition, generation: generation)
            }
        }
        return true
    }

    /// Appends `run[start...]` until the batch is full; returns how many were taken and whether it filled.
    private static func appendWhileRoom(
        _ run: [PendingRecord], from start: Int, to accumulator: inout Accumulator, batchSize: Int
    ) -> (taken: Int, filled: Bool) {
        var index = start
        while index < run.count {
            accumulator.records.append(run[index])
            accumulator.estimatedBytes += run[index].size
            if case .caller = run[index].completion { accumulator.callerCount += 1 }
            index += 1
            if accumulator.estimatedBytes >= batchSize { return (index - start, true) }
        }
        return (index - start, false)
    }

    private static func append(_ record: PendingRecord, to accumulator: inout Accumulator, batchSize: Int)
        -> (isFirst: Bool, generation: UInt64, isFull: Bool)
    {
        accumulator.records.append(record)
        accumulator.estimatedBytes += record.size
        if case .caller = record.completion { accumulator.callerCount += 1 }
        let isFirst = accumulator.records.count == 1
        if isFirst { accumulator.generation &+= 1 }
        return (isFirst, accumulator.generation, accumulator.estimatedBytes >= batchSize)
    }

    /// Only drains the batch the timer was started for; a batch that filled up and left early
    /// must not cut its successor's linger short.
    func lingerExpired(_ topicPartition: TopicPartition, generation: UInt64) {
        guard accumulators[topicPartition]?.generation == generation else { return }
        drain(topicPartition)
    }

    func drain(_ topicPartition: TopicPartition) {
        guard accumulators[topicPartition]?.isEmpty == false,
            let batch = accumulators[topicPartition]?.takeBatch(for: topicPartition)
        else { return }
        // The batch is full or lingered long enough: keyless records move on to another partition.
        if stickyPartitions[topicPartition.topic] == topicPartition.partition {
            stickyPartitions[topicPartition.topic] = nil
        }
        var sender = senders[topicPartition] ?? PartitionSender()
        sender.queue.append(batch)
        let start = !sender.isRunning
        sender.isRunning = true
        senders[topicPartition] = sender
        if start {
            Task { await self.runSender(for: topicPartition) }
        }
    }

    // MARK: Sending

    /// Sends the partition's queued batches a window at a time until none are left.
    private func runSender(for topicPartition: TopicPartition) async {
        var failedAttempts = 0
        while let queue = senders[topicPartition]?.queue, !queue.isEmpty {
            let window = Array(queue.prefix(configuration.maxInFlightPerPartition))
            let outcomes = await sendWindow(window, to: topicPartition)
            var anyRetry = false
            var invalidate = false
            for (batch, outcome) in outcomes {
                switch outcome {
                case .success(let baseOffset):
                    finish(batch, with: .success(baseOffset))
                case .failure(let error) where error.isRetriable && batch.attempts < configuration.retries:
                    anyRetry = true
                    statistics.retries += 1
                    invalidate = invalidate || error.invalidatesMetadata
                    incrementAttempts(of: batch.id, in: topicPartition)
                    logger.debug("retrying batch for \(topicPartition): \(error)")
                case .failure(let error):
                    // Before `finish`: a commit waiting in `flush` must find the transaction failed.
                    if let transactions { await transactions.batchFailed(error) }
                    finish(batch, with: .failure(error))
                    if configuration.enableIdempotence { renumber(after: batch, in: topicPartition) }
                }
            }
            if invalidate { await metadata.invalidate(topic: topicPartition.topic) }
            if anyRetry {
                failedAttempts += 1
                try? await Task.sleep(for: backoff(afterFailures: failedAttempts))
            } else {
                failedAttempts = 0
            }
        }
        senders[topicPartition]?.isRunning = false
    }

    private func backoff(afterFailures failures: Int) -> Duration {
        var delay = configuration.retryBackoff
        for _ in 1..<max(failures, 1) where delay < configuration.retryBackoffMax { delay *= 2 }
        return min(delay, configuration.retryBackoffMax)
    }

    private func incrementAttempts(of batchId: UInt64, in topicPartition: TopicPartition) {
        guard let index = senders[topicPartition]?.queue.firstIndex(where: { $0.id == batchId }) else { return }
        senders[topicPartition]!.queue[index].attempts += 1
    }

    /// A batch that failed for good leaves a hole in the sequence numbers the broker expects;
    /// the batches behind it (which the broker rejected as out of order) take over its numbers.
    private func renumber(after failed: ProducerBatch, in topicPartition: TopicPartition) {
        guard let baseSequence = failed.baseSequence, var sender = senders[topicPartition] else { return }
        var next = baseSequence
        for index in sender.queue.indices {
            guard let sequence = sender.queue[index].baseSequence, sequence > baseSequence else { continue }
            sender.queue[index].baseSequence = next
            next = next &+ Int32(sender.queue[index].recordCount)
        }
        sender.nextSequence = next
        senders[topicPartition] = sender
    }

    private func finish(_ batch: ProducerBatch, with outcome: Result<Int64, KafkaClientError>) {
        senders[batch.topicPartition]?.queue.removeAll { $0.id == batch.id }
        switch outcome {
        case .success:
            statistics.batchesDelivered += 1
            statistics.recordsDelivered += batch.recordCount
        case .failure:
            statistics.recordsFailed += batch.recordCount
        }
        if case .failure(let error) = outcome, firstEnqueueError == nil, batch.callerCount < batch.recordCount {
            firstEnqueueError = error
        }
        let releasedBytes = batch.estimatedBytes
        for index in batch.records.indices where batch.callerCount > 0 {
            guard case .caller(let continuation) = batch.records[index].completion else { continue }
            switch outcome {
            case .success(let baseOffset):
                let offset = baseOffset >= 0 ? baseOffset + Int64(index) : -1
                continuation.resume(returning: RecordMetadata(topicPartition: batch.topicPartition, offset: offset))
            case .failure(let error):
                continuation.resume(throwing: error)
            }
        }
        bufferedBytes -= releasedBytes
        if bufferedBytes <= configuration.bufferMemory, !bufferWaiters.isEmpty {
            let waiters = bufferWaiters
            bufferWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        unfinishedRecords -= batch.recordCount
        if unfinishedRecords == 0 {
            let waiters = flushWaiters
            flushWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Writes every batch of `window` back to back on the leader's connection, then collects the
    /// answers in order.
    private func sendWindow(_ window: [ProducerBatch], to topicPartition: TopicPartition) async
        -> [(ProducerBatch, Result<Int64, KafkaClientError>)]
    {
        let results = await sendWindowReturningOutcomes(window, to: topicPartition)
        // The queue holds the batches as sent, with the sequence numbers they were given.
        let sent = window.map { batch in senders[topicPartition]?.queue.first { $0.id == batch.id } ?? batch }
        return Array(zip(sent, results))
    }

    private func sendWindowReturningOutcomes(_ window: [ProducerBatch], to topicPartition: TopicPartition) async
        -> [Result<Int64, KafkaClientError>]
    {
        let failAll = { (error: any Error) in
            Array(repeating: Result<Int64, KafkaClientError>.failure(Self.clientError(error)), count: window.count)
        }
        let identity: ProducerIdentity
        let connection: KafkaConnection
        let version: Int16
        do {
            identity = try await self.identity()
            if let transactions { try await transactions.ensureAdded(topicPartition) }
            connection = try await metadata.leaderConnection(for: topicPartition)
            version = try connection.versions.version(of: .produce, minimum: 3)
        } catch {
            return failAll(error)
        }
        var batches = window
        if configuration.enableIdempotence { assignSequences(&batches, in: topicPartition) }
        if configuration.acks == .none {
            var results: [Result<Int64, KafkaClientError>] = []
            for batch in batches {
                do {
                    let request = try await Self.produceRequest(
                        for: batch, identity: identity, configuration: configuration)
                    try await connection.sendWithoutResponse(request, version: version)
                    results.append(.success(-1))
                } catch {
                    results.append(.failure(Self.clientError(error)))
                }
            }
            return results
        }
        var answers: [Result<EventLoopFuture<ProduceResponse>, KafkaClientError>] = []
        for batch in batches {
            do {
                let request = try await Self.produceRequest(
                    for: batch, identity: identity, configuration: configuration)
                answers.append(.success(try connection.enqueue(request, version: version)))
            } catch {
                answers.append(.failure(Self.clientError(error)))
            }
        }
        var results: [Result<Int64, KafkaClientError>] = []
        for answer in answers {
            switch answer {
            case .failure(let error):
                results.append(.failure(error))
            case .success(let future):
                do {
                    let response = try await future.get()
                    results.append(
                        Self.outcome(of: response, for: topicPartition, transactional: transactions != nil))
                } catch {
                    results.append(.failure(Self.clientError(error)))
                }
            }
        }
        return results
    }

    private static func outcome(of response: ProduceResponse, for topicPartition: TopicPartition, transactional: Bool)
        -> Result<Int64, KafkaClientError>
    {
        guard
            let partition = response.topics.first(where: { $0.name == topicPartition.topic })?
                .partitions.first(where: { $0.index == topicPartition.partition })
        else {
            return .failure(.unexpectedResponse("Produce response without \(topicPartition)"))
        }
        switch partition.errorCode {
        case .noError:
            return .success(partition.baseOffset)
        case .duplicateSequenceNumber:
            // Already stored by an earlier attempt whose answer was lost.
            return .success(partition.baseOffset)
        case let code where transactional && (code == .producerFenced || code == .invalidProducerEpoch):
            return .failure(
                .producerFenced(
                    "produce to \(topicPartition): a newer producer with the same transactional.id"
                        + " has started (\(partition.errorCode))"))
        default:
            let context = "produce to \(topicPartition)" + (partition.errorMessage.map { ": \($0)" } ?? "")
            return .failure(.broker(partition.errorCode, context: context))
        }
    }

    private static func clientError(_ error: any Error) -> KafkaClientError {
        if let error = error as? KafkaClientError { return error }
        return .connectionClosed("\(error)")
    }

    /// Sequence numbers are fixed the first time a batch is sent and kept across retries, which
    /// is what lets the broker recognise a retry of a batch it already stored.
    private func assignSequences(_ batches: inout [ProducerBatch], in topicPartition: TopicPartition) {
        guard var sender = senders[topicPartition] else { return }
        for index in batches.indices where batches[index].baseSequence == nil {
            batches[index].baseSequence = sender.nextSequence
            sender.nextSequence = sender.nextSequence &+ Int32(batches[index].recordCount)
            if let queueIndex = sender.queue.firstIndex(where: { $0.id == batches[index].id }) {
                sender.queue[queueIndex].baseSequence = batches[index].baseSequence
            }
        }
        senders[topicPartition] = sender
    }

    /// The producer id and epoch from InitProducerId, fetched once; without idempotence the
    /// "no producer" values.
    private func identity() async throws -> ProducerIdentity {
        guard configuration.enableIdempotence else { return ProducerIdentity(producerId: -1, producerEpoch: -1) }
        if let transactions { return try await transactions.currentIdentity() }
        if let producerIdentity, let identity = try? await producerIdentity.value { return identity }
        let metadata = self.metadata
        let task = Task {
            let connection = try await metadata.anyConnection()
            let response = try await connection.send(InitProducerIdRequest(transactionTimeoutMs: 60_000))
            guard response.errorCode == .noError else {
                throw KafkaClientError.broker(response.errorCode, context: "InitProducerId")
            }
            return ProducerIdentity(producerId: response.producerId, producerEpoch: response.producerEpoch)
        }
        producerIdentity = task
        return try await task.value
    }

    /// A new producer epoch starts every partition's sequence numbers at 0 again; only called with
    /// nothing in flight (`initTransactions` flushes first).
    func resetSequences() {
        for topicPartition in senders.keys { senders[topicPartition]?.nextSequence = 0 }
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
