import Foundation
import NIOCore
import NIOPosix
import SkeinCompression
import SkeinLog
import SkeinProtocol

/// Produce: validates and appends each partition's batches, deduplicates retries of idempotent
/// producers, recompresses where a topic asks for it, and answers per `acks`: never (0), after the write
/// to the page cache (1), or after fsync (-1, all), with one fsync shared by every waiting request.
enum ProduceHandler {
    static func handle(_ request: ProduceRequest, context: RequestContext, broker: Broker) {
        let acks = request.acks
        guard acks == 0 || acks == 1 || acks == -1 else {
            context.reply(errorResponse(request, .invalidRequiredAcks))
            return
        }
        // Message formats v0 and v1 (Produce v0-v2) are refused as Kafka 4 refuses them. The range still
        // starts at 0 because librdkafka before 2.11.1 turns compression off for brokers whose Produce
        // range does not (DESIGN.md §2).
        guard context.version >= 3 else {
            context.reply(errorResponse(request, .unsupportedVersion))
            return
        }
        // A transactional producer needs WRITE on its transactional id; every producer WRITE on each topic.
        // An idempotent one needs nothing more: WRITE on a topic implies IDEMPOTENT_WRITE for it (KIP-679).
        if let transactionalId = request.transactionalId,
            !context.authorized(broker, .write, .transactionalId, transactionalId)
        {
            reply(errorResponse(request, .transactionalIdAuthorizationFailed), acks: acks, context: context)
            return
        }
        var results: [[ProduceResponse.Partition]] = []
        var durableWaits: [(log: PartitionLog, offset: Int64)] = []
        for topic in request.topics {
            var partitions: [ProduceResponse.Partition] = []
            guard context.authorized(broker, .write, .topic, topic.name) else {
                results.append(
                    topic.partitions.map {
                        .init(index: $0.index, errorCode: .topicAuthorizationFailed, baseOffset: -1)
                    })
                continue
            }
            // Auto-creation by a produce also needs CREATE, on the cluster or the topic, as through Metadata.
            // Asked only for a topic that is missing, so the data path pays one check per topic.
            let metadata =
                broker.topics.topic(topic.name)
                ?? broker.topicCreatingIfAllowed(
                    topic.name,
                    allowAutoCreate: !broker.authorizer.enabled || context.authorizedOnCluster(broker, .create)
                        || context.authorized(broker, .create, .topic, topic.name))
            for partition in topic.partitions {
                let outcome = appendPartition(
                    topic: topic.name, metadata: metadata, partition: partition, version: context.version,
                    broker: broker)
                partitions.append(outcome.response)
                if acks == -1, let wait = outcome.durableWait { durableWaits.append(wait) }
            }
            results.append(partitions)
        }
        var response = ProduceResponse(
            topics: zip(request.topics, results).map { ProduceResponse.Topic(name: $0.0.name, partitions: $0.1) })
        let throttleMs = recordQuota(request, context: context, broker: broker)
        response.throttleTimeMs = throttleMs
        switch acks {
        case 0: context.respond(throttleMs > 0 ? .parts([.throttle(milliseconds: throttleMs)]) : .nothing)
        case 1: context.reply(response, throttleMs: throttleMs)
        default: replyWhenDurable(response, waits: durableWaits, context: context, broker: broker)
        }
    }

    /// acks=0 producers get no answer, not even a refusal, as in Kafka.
    private static func reply(_ response: ProduceResponse, acks: Int16, context: RequestContext) {
        if acks == 0 { context.respond(.nothing) } else { context.reply(response) }
    }

    /// Counts the request's record bytes against the client's produce quota (one flag read when no quota is
    /// set); the records are kept either way, as in Kafka, and the throttle slows what comes next.
    private static func recordQuota(_ request: ProduceRequest, context: RequestContext, broker: Broker) -> Int32 {
        guard broker.quotas.isActive else { return 0 }
        var bytes = 0
        for topic in request.topics {
            for partition in topic.partitions { bytes += partition.records?.readableBytes ?? 0 }
        }
        return broker.quotas.record(.produce, bytes: bytes, user: context.quotaUser, clientId: context.quotaClientId)
    }

    /// Answers once every partition written is fsynced. A partition whose fsync fails turns into
    /// KAFKA_STORAGE_ERROR: the data may be in the log, but it was not made durable as acks=all promised.
    private static func replyWhenDurable(
        _ response: ProduceResponse, waits: [(log: PartitionLog, offset: Int64)], context: RequestContext,
        broker: Broker
    ) {
        guard !waits.isEmpty else {
            context.reply(response, throttleMs: response.throttleTimeMs)
            return
        }
        let tracker = DurabilityTracker(pending: waits.count, response: response)
        for wait in waits {
            wait.log.flush(upTo: wait.offset) { result in
                if case .failure(let error) = result {
                    broker.logger.error("fsync of \(wait.log.topicPartition) failed: \(error)")
                }
                if let finished = tracker.finish(wait.log.topicPartition, failed: result.isFailure) {
                    context.reply(finished, throttleMs: finished.throttleTimeMs)
                }
            }
        }
    }

    struct Outcome {
        var response: ProduceResponse.Partition
        var durableWait: (log: PartitionLog, offset: Int64)?
    }

    static func appendPartition(
        topic: String, metadata: TopicMetadata?, partition: ProduceRequest.Partition, version: Int16, broker: Broker
    ) -> Outcome {
        let index = partition.index
        func failure(_ code: ErrorCode, _ message: String? = nil) -> Outcome {
            if let message {
                broker.clientWarnings.warning("refused produce", "produce to \"\(topic)\"-\(index) refused: \(message)")
            }
            return Outcome(response: .init(index: index, errorCode: code, baseOffset: -1, errorMessage: message))
        }
        guard TopicPartition.isValidTopicName(topic) else {
            return failure(.invalidTopicException, "invalid topic name \"\(topic)\"")
        }
        guard let metadata, let log = broker.log(topic, index) else { return failure(.unknownTopicOrPartition) }
        guard var records = partition.records, records.readableBytes > 0 else {
            return failure(.invalidRecord, "empty record set")
        }
        // Header-level checks the log does not do: codecs, and zstd only from Produce v7 as in Kafka.
        var headers: [RecordBatchHeader] = []
        var scan = records
        while scan.readableBytes > 0 {
            guard let header = try? RecordBatchHeader(parsing: scan), header.totalSize >= RecordBatchHeader.size,
                header.totalSize <= scan.readableBytes
            else { break }  // the log's validation names what is wrong
            headers.append(header)
            scan.moveReaderIndex(forwardBy: header.totalSize)
        }
        for header in headers {
            guard let codec = SkeinCompression.CompressionCodec(attributes: header.attributes) else {
                return failure(.unsupportedCompressionType, "unknown compression codec \(header.attributes & 0x07)")
            }
            if codec == .zstd && version < 7 {
                return failure(.unsupportedCompressionType, "zstd needs Produce v7 or later")
            }
            if header.isControl {
                return failure(.invalidRecord, "control batches are written by the broker, not by producers")
            }
        }
        if let refusal = validateRecords(&records, headers: headers, version: version) {
            broker.clientWarnings.warning(
                "refused produce",
                "produce to \"\(topic)\"-\(index) refused: \(refusal.errorMessage ?? "\(refusal.errorCode)")")
            broker.metrics.batchRefused(topic: topic, error: refusal.errorCode)
            var response = refusal
            response.index = index
            return Outcome(response: response)
        }
        if case .codec(let target) = broker.storedCodec(for: metadata) {
            do {
                if let recompressed = try broker.recompressor.recompress(records, to: target) { records = recompressed }
            } catch {
                return failure(.corruptMessage, "cannot recompress to \(target): \(error)")
            }
        }

        let producer = headers.first.map { (id: $0.producerId, epoch: $0.producerEpoch) }
        let state = broker.producers.state(for: log.topicPartition)
        state.lock.lock()
        defer { state.lock.unlock() }
        // A transactional batch must belong to the producer's open transaction on this partition. Checked
        // under the partition's producer lock, which the coordinator also takes to write a marker: a batch
        // that passes can never land after its transaction's marker and hold the LSO back.
        if let first = headers.first, first.isTransactional,
            let refusal = broker.transactions.verifyProduce(
                producerId: first.producerId, epoch: first.producerEpoch, partition: log.topicPartition)
        {
            return failure(refusal, "transactional batch from producer \(first.producerId): \(refusal)")
        }
        // Idempotence: librdkafka and the Java client send one batch per partition per request.
        if let producer, producer.id >= 0, let first = headers.first, let last = headers.last {
            let lastSequence = last.baseSequence &+ last.lastOffsetDelta
            switch state.check(
                producerId: producer.id, epoch: producer.epoch, firstSequence: first.baseSequence,
                lastSequence: lastSequence)
            {
            case .append: break
            case .duplicate(let firstOffset, let lastOffset):
                broker.logger.debug(
                    "duplicate batch from producer \(producer.id) on \(log.topicPartition), offsets \(firstOffset)-\(lastOffset)"
                )
                return Outcome(
                    response: .init(index: index, baseOffset: firstOffset, logStartOffset: log.logStartOffset),
                    durableWait: (log, lastOffset + 1))
            case .reject(let code):
                return failure(
                    code, "producer \(producer.id) epoch \(producer.epoch) sequence \(first.baseSequence): \(code)")
            }
        }
        do {
            let result = try records.withUnsafeMutableReadableBytes { try log.append($0) }
            if let producer, producer.id >= 0, let first = headers.first, let last = headers.last {
                state.record(
                    producerId: producer.id, epoch: producer.epoch, firstSequence: first.baseSequence,
                    lastSequence: last.baseSequence &+ last.lastOffsetDelta, firstOffset: result.firstOffset,
                    lastOffset: result.lastOffset)
            }
            broker.purgatory.wake(log.topicPartition)
            broker.metrics.appended(
                topic: topic, bytes: records.readableBytes, records: result.lastOffset - result.firstOffset + 1,
                batchSizes: headers.map(\.totalSize))
            return Outcome(
                response: .init(
                    index: index, baseOffset: result.firstOffset, logAppendTimeMs: result.logAppendTime,
                    logStartOffset: result.logStartOffset),
                durableWait: (log, result.lastOffset + 1))
        } catch let error as LogError {
            switch error {
            case .invalidBatch(let reason): return failure(errorCode(for: reason), "\(reason)")
            case .logClosed: return failure(.notLeaderOrFollower, "partition is being deleted")
            default:
                broker.logger.error("append to \(log.topicPartition) failed: \(error)")
                return failure(.kafkaStorageError, "\(error)")
            }
        } catch {
            return failure(.unknownServerError, "\(error)")
        }
    }

    /// Walks every record of every batch before anything is stored, as Kafka does: a batch whose records
    /// cannot be parsed would stop every consumer of the partition at it. Corrects each CreateTime batch's
    /// maxTimestamp to the largest record timestamp (and its CRC), since the time index trusts it.
    /// Returns the refusal, or nil when every batch is sound.
    static func validateRecords(_ records: inout ByteBuffer, headers: [RecordBatchHeader], version: Int16)
        -> ProduceResponse.Partition?
    {
        if skipValidationForBenchmark { return nil }
        let validator = BatchValidator(reusing: decompressionBuffer)
        let failure: (error: BatchValidationError, recordsBefore: Int)? = records.withUnsafeMutableReadableBytes {
            raw in
            var position = 0
            var recordsBefore = 0
            for header in headers {
                let batch = UnsafeMutableRawBufferPointer(rebasing: raw[position..<position + header.totalSize])
                do throws(BatchValidationError) {
                    // The log checks every CRC before it writes anything; correctMaxTimestamp checks it first
                    // when it must rewrite it. One CRC pass per batch, not two.
                    let summary = try validator.validate(UnsafeRawBufferPointer(batch), checkCRC: false)
                    try BatchValidator.correctMaxTimestamp(batch, to: summary)
                    recordsBefore += summary.recordCount
                } catch {
                    // Damage shows as a CRC mismatch first, as in Kafka, which checks the CRC before the walk.
                    do throws(BatchValidationError) {
                        _ = try validator.validate(UnsafeRawBufferPointer(batch), checkCRC: true)
                    } catch let checked {
                        return (checked, recordsBefore)
                    }
                    return (error, recordsBefore)
                }
                position += header.totalSize
            }
            return nil
        }
        guard let failure else { return nil }
        let message = "\(failure.error)"
        switch failure.error.kind {
        case .corrupt:
            return .init(index: 0, errorCode: .corruptMessage, baseOffset: -1, errorMessage: message)
        case .tooLarge:
            return .init(index: 0, errorCode: .recordListTooLarge, baseOffset: -1, errorMessage: message)
        case .unsupportedCodec:
            return .init(index: 0, errorCode: .unsupportedCompressionType, baseOffset: -1, errorMessage: message)
        case .invalidRecord:
            // INVALID_RECORD and the per-record error list came with Produce v8; older clients know only
            // CORRUPT_MESSAGE for a batch they must not retry as it is.
            guard version >= 8 else {
                return .init(index: 0, errorCode: .corruptMessage, baseOffset: -1, errorMessage: message)
            }
            let recordErrors =
                failure.error.recordIndex.map {
                    [
                        ProduceResponse.RecordError(
                            batchIndex: Int32(clamping: failure.recordsBefore + $0),
                            batchIndexErrorMessage: failure.error.reason)
                    ]
                } ?? []
            return .init(
                index: 0, errorCode: .invalidRecord, baseOffset: -1, recordErrors: recordErrors, errorMessage: message)
        }
    }

    /// One decompression buffer per event-loop thread, reused by every produce request that thread serves.
    /// Each thread reads and writes only its own value, so nothing here is shared between threads.
    nonisolated(unsafe) private static let decompressionBuffers = ThreadSpecificVariable<DecompressionBuffer>()

    private static var decompressionBuffer: DecompressionBuffer {
        if let buffer = decompressionBuffers.currentValue { return buffer }
        let buffer = DecompressionBuffer()
        decompressionBuffers.currentValue = buffer
        return buffer
    }

    /// Set only by `Benchmarks/validation-cost.sh` (SKEIN_BENCH_SKIP_RECORD_VALIDATION=1), which measures what
    /// the walk costs by running the same binary with and without it; never set it on a broker that serves data.
    static let skipValidationForBenchmark =
        ProcessInfo.processInfo.environment["SKEIN_BENCH_SKIP_RECORD_VALIDATION"] == "1"

    static func errorCode(for reason: InvalidBatch) -> ErrorCode {
        switch reason {
        case .tooLarge: .messageTooLarge
        // Produce v3+ may carry only magic-2 batches; Kafka answers anything else with INVALID_RECORD.
        case .invalidMagic, .invalidRecordCount, .controlBatchFromClient, .empty, .offsetsNotIncreasing: .invalidRecord
        case .crcMismatch, .invalidLength, .truncated, .unreadableRecords: .corruptMessage
        }
    }

    static func errorResponse(_ request: ProduceRequest, _ code: ErrorCode) -> ProduceResponse {
        ProduceResponse(
            topics: request.topics.map { topic in
                .init(
                    name: topic.name,
                    partitions: topic.partitions.map { .init(index: $0.index, errorCode: code, baseOffset: -1) })
            })
    }
}

/// Collects fsync completions of one acks=all request; the last one to arrive releases the response.
final class DurabilityTracker: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: Int
    private var response: ProduceResponse

    init(pending: Int, response: ProduceResponse) {
        self.pending = pending
        self.response = response
    }

    func finish(_ topicPartition: TopicPartition, failed: Bool) -> ProduceResponse? {
        lock.withLock {
            if failed {
                for topicIndex in response.topics.indices where response.topics[topicIndex].name == topicPartition.topic
                {
                    for partitionIndex in response.topics[topicIndex].partitions.indices
                    where response.topics[topicIndex].partitions[partitionIndex].index == topicPartition.partition {
                        response.topics[topicIndex].partitions[partitionIndex].errorCode = .kafkaStorageError
                        response.topics[topicIndex].partitions[partitionIndex].baseOffset = -1
                    }
                }
            }
            pending -= 1
            return pending == 0 ? response : nil
        }
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
