import NIOCore
import SkeinLog
import SkeinProtocol

/// Fetch: serves stored batches with sendfile. A consumer with less than `min_bytes` available waits in
/// the purgatory until data arrives or `max_wait_ms` passes, whichever is first.
enum FetchHandler {
    /// A response ready to send: the message, and the file bytes behind each partition's records.
    struct Prepared {
        var response: FetchResponse
        var slices: [[FileSlice?]]
        var recordBytes = 0
        var hasError = false
    }

    static func handle(_ request: FetchRequest, context: RequestContext, broker: Broker) {
        // Fetch sessions (KIP-227) are not kept: a session id of 0 in every answer makes clients send full
        // requests, which is all librdkafka and the Java client need. A request naming a session we never
        // created is told so, and the client starts over without one.
        if context.version >= 7 && (request.sessionId != 0 || request.sessionEpoch > 0) {
            send(
                Prepared(response: FetchResponse(errorCode: .fetchSessionIdNotFound, sessionId: 0), slices: []),
                context: context, broker: broker)
            return
        }
        // READ on each topic, decided once: a fetch waiting in the purgatory is re-read with the same answer.
        let unreadable: Set<String> =
            broker.authorizer.enabled
            ? Set(request.topics.map(\.topic).filter { !context.authorized(broker, .read, .topic, $0) }) : []
        var request = request
        if broker.quotas.isActive,
            let bound = broker.quotas.fetchBound(user: context.quotaUser, clientId: context.quotaClientId)
        {
            // One answer may not take more than a window of the client's fetch quota.
            request.maxBytes = min(request.maxBytes, Int32(bound))
        }
        let first = read(request, version: context.version, unreadable: unreadable, broker: broker)
        let enough = first.recordBytes >= Int(request.minBytes) || first.hasError
        guard !enough, request.maxWaitMs > 0, !request.topics.isEmpty else {
            send(first, context: context, broker: broker)
            return
        }
        let partitions = request.topics.flatMap { topic in
            topic.partitions.map { TopicPartition(topic.topic, $0.partition) }
        }
        let waiter = FetchPurgatory.Waiter(eventLoop: context.connection.eventLoop, partitions: partitions) { force in
            let again = read(request, version: context.version, unreadable: unreadable, broker: broker)
            guard force || again.hasError || again.recordBytes >= Int(request.minBytes) else { return false }
            send(again, context: context, broker: broker)
            return true
        }
        broker.purgatory.park(waiter, maxWaitMs: Int64(request.maxWaitMs))
    }

    static func read(_ request: FetchRequest, version: Int16, unreadable: Set<String> = [], broker: Broker)
        -> Prepared
    {
        var remaining = version >= 3 ? Int(max(0, request.maxBytes)) : Int.max
        var firstWithData = true
        var prepared = Prepared(response: FetchResponse(errorCode: .noError, sessionId: 0), slices: [])
        let readCommitted = request.isolationLevel == 1
        // Each partition with data holds its segment file open until the response is written. Past this many,
        // later partitions are answered without records (the client fetches them next time), so one fetch of
        // thousands of partitions cannot take more descriptors than the segment-file budget can spare.
        var filesLeft = max(16, broker.logs.descriptors.budget / 8)
        for topic in request.topics {
            var partitions: [FetchResponse.Partition] = []
            var slices: [FileSlice?] = []
            for requested in topic.partitions {
                var answer = FetchResponse.Partition(
                    partitionIndex: requested.partition, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
                    abortedTransactions: readCommitted ? [] : nil, records: .bytes(ByteBuffer()))
                var slice: FileSlice?
                let log = broker.log(topic.topic, requested.partition)
                if unreadable.contains(topic.topic) {
                    answer.errorCode = .topicAuthorizationFailed
                    prepared.hasError = true
                } else if let log, filesLeft == 0 {
                    answer.highWatermark = log.highWatermark
                    answer.lastStableOffset = log.lastStableOffset
                    answer.logStartOffset = log.logStartOffset
                } else if let log {
                    let budget = min(Int(max(0, requested.partitionMaxBytes)), remaining)
                    do {
                        let result = try log.read(
                            from: requested.fetchOffset, maxBytes: budget, minOneBatch: firstWithData,
                            isolation: readCommitted ? .readCommitted : .readUncommitted)
                        answer.highWatermark = result.highWatermark
                        answer.lastStableOffset = result.lastStableOffset
                        answer.logStartOffset = result.logStartOffset
                        // The consumer drops these producers' records from each first offset to their ABORT
                        // marker; the bytes themselves go out unchanged, by sendfile.
                        answer.abortedTransactions = result.abortedTransactions?.map {
                            FetchResponse.AbortedTransaction(producerId: $0.producerId, firstOffset: $0.firstOffset)
                        }
                        if let found = result.slice, budget > 0 || firstWithData {
                            slice = found
                            filesLeft -= 1
                            answer.records = .external(byteCount: found.length)
                            remaining = max(0, remaining - found.length)
                            prepared.recordBytes += found.length
                            firstWithData = false
                        }
                    } catch LogError.offsetOutOfRange(_, let start, let end) {
                        answer.errorCode = .offsetOutOfRange
                        answer.highWatermark = end
                        answer.lastStableOffset = log.lastStableOffset
                        answer.logStartOffset = start
                        prepared.hasError = true
                    } catch LogError.unreadableStoredBatch(let path, let position, let why) {
                        // Kafka answers a fetch that meets a corrupt stored batch with CORRUPT_MESSAGE.
                        broker.clientWarnings.log(
                            .error, "unreadable stored batch",
                            "fetch from \(log.topicPartition) failed: \(path) position \(position): \(why)")
                        answer.errorCode = .corruptMessage
                        answer.highWatermark = log.highWatermark
                        answer.lastStableOffset = log.lastStableOffset
                        answer.logStartOffset = log.logStartOffset
                        prepared.hasError = true
                    } catch {
                        broker.logger.error("fetch from \(log.topicPartition) failed: \(error)")
                        answer.errorCode = .kafkaStorageError
                        prepared.hasError = true
                    }
                } else {
                    answer.errorCode = .unknownTopicOrPartition
                    prepared.hasError = true
                }
                partitions.append(answer)
                slices.append(slice)
            }
            prepared.response.topics.append(FetchResponse.Topic(topic: topic.topic, partitions: partitions))
            prepared.slices.append(slices)
        }
        return prepared
    }

    /// Bytes and records per topic for the metrics, and the request's outcome.
    private static func countSent(_ prepared: Prepared, context: RequestContext, broker: Broker) {
        if prepared.hasError || prepared.response.errorCode != .noError { context.outcome.markFailed() }
        for (topic, slices) in zip(prepared.response.topics, prepared.slices) {
            var bytes = 0
            var records: Int64 = 0
            for case let slice? in slices {
                bytes += slice.length
                records += slice.nextOffset - slice.firstOffset
            }
            if bytes > 0 { broker.metrics.fetched(topic: topic.topic, bytes: bytes, records: records) }
        }
    }

    static func send(_ prepared: Prepared, context: RequestContext, broker: Broker) {
        var prepared = prepared
        // The fetch quota counts what is sent (Kafka measures the response size); the answer goes out whole
        // and the connection then waits out the throttle.
        var throttleMs: Int32 = 0
        if broker.quotas.isActive {
            throttleMs = broker.quotas.record(
                .fetch, bytes: prepared.recordBytes, user: context.quotaUser, clientId: context.quotaClientId)
            prepared.response.throttleTimeMs = throttleMs
        }
        do {
            let segments = try ResponseFrame.encodeFetch(
                prepared.response, version: context.version, correlationId: context.header.correlationId)
            var parts = segments.map { segment -> ResponsePart in
                switch segment {
                case .bytes(let buffer): .bytes(buffer)
                case .records(let topic, let partition, _): .file(prepared.slices[topic][partition]!)
                }
            }
            if throttleMs > 0 { parts.append(.throttle(milliseconds: throttleMs)) }
            countSent(prepared, context: context, broker: broker)
            context.respond(.parts(parts))
        } catch {
            context.respond(.closeConnection(reason: "cannot encode Fetch v\(context.version) response: \(error)"))
        }
    }
}
