import NIOCore
import SkeinProtocol

struct FetchLoadPlan: Sendable {
    struct Cursor: Sendable {
        var partition: Int32
        var nextOffset: Int64
        /// Where this partition's read stops: the log end when the run started. nil follows the
        /// log for as long as the run lasts.
        var endOffset: Int64?
    }

    var topic: String
    var cursors: [Cursor]
    var connectionIndex: Int
    var apiVersion: Int16
    var maxBytes: Int32
    var maxWaitMs: Int32
    var isolationLevel: Int8
    var verifyCRC: Bool
    /// Records still to read across all connections; nil when only the deadline bounds the run.
    var budget: SharedBudget?
}

/// Drives one connection: one Fetch outstanding per assigned partition (as a consumer does),
/// each continuing from the last offset read, until every partition reached its end offset or
/// the deadline or shared record budget says stop.
final class FetchLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Outstanding {
        var correlationId: Int32
        var cursorIndex: Int
        var sentAt: UInt64
    }

    private let plan: FetchLoadPlan
    private let result: EventLoopPromise<ConnectionStats>
    private var cursors: [FetchLoadPlan.Cursor]
    private var done: [Bool]
    private var stats = ConnectionStats()
    private var outstanding = CircularBuffer<Outstanding>()
    /// Partitions whose next Fetch goes out at the end of the current read burst.
    private var ready: [Int] = []
    private var context: ChannelHandlerContext?
    private var deadline: NIODeadline?
    private var started = false
    private var stopping = false
    private var finished = false
    private var nextCorrelationId: Int32 = 1
    private var lastProgress = NIODeadline.now()
    private var stallCheck: RepeatedTask?

    init(plan: FetchLoadPlan, result: EventLoopPromise<ConnectionStats>) {
        self.plan = plan
        self.result = result
        cursors = plan.cursors
        done = plan.cursors.map { cursor in cursor.endOffset.map { cursor.nextOffset >= $0 } ?? false }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(failure: "handler removed before the run ended")
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let start = event as? StartLoad else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !started else { return }
        started = true
        deadline = start.deadline
        lastProgress = .now()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        stallCheck = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.checkForStall()
        }
        ready = cursors.indices.filter { !done[$0] }
        sendReady()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard let request = outstanding.popFirst() else {
            finish(failure: "response without an outstanding request")
            return
        }
        stats.latency.record(NIODeadline.now().uptimeNanoseconds &- request.sentAt)
        stats.requests += 1
        lastProgress = .now()
        do {
            let (header, response) = try ResponseFrame.decode(
                payload: payload, apiKey: .fetch, version: plan.apiVersion)
            guard header.correlationId == request.correlationId, case .fetch(let fetch) = response else {
                finish(failure: "response \(header.correlationId) arrived where \(request.correlationId) was due")
                return
            }
            if absorb(fetch, cursorIndex: request.cursorIndex) {
                ready.append(request.cursorIndex)
            } else {
                done[request.cursorIndex] = true
            }
        } catch {
            finish(failure: "unreadable Fetch response: \(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        sendReady()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(failure: "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(failure: "connection closed with \(outstanding.count) requests outstanding")
        context.fireChannelInactive()
    }

    /// Counts what one response brought and advances the partition's cursor. Returns whether the
    /// partition should be fetched again.
    private func absorb(_ response: FetchResponse, cursorIndex: Int) -> Bool {
        if response.errorCode != .noError {
            stats.count(response.errorCode.rawValue)
            return false
        }
        var cursor = cursors[cursorIndex]
        guard let partition = response.topics.first?.partitions.first(where: { $0.partitionIndex == cursor.partition })
        else {
            stats.failures.append(
                "connection \(plan.connectionIndex): Fetch response without partition \(cursor.partition)")
            return false
        }
        if partition.errorCode != .noError {
            stats.count(partition.errorCode.rawValue)
            return false
        }
        var records = 0
        var remaining: ByteBuffer
        if case .bytes(let bytes) = partition.records { remaining = bytes } else { remaining = ByteBuffer() }
        let received = remaining.readableBytes
        do {
            while let batch = try RecordBatch.read(from: &remaining) {
                let header = batch.header
                // A fetch may start with the whole batch containing the requested offset.
                guard header.lastOffset >= cursor.nextOffset else { continue }
                if plan.verifyCRC { try batch.verifyCRC() }
                records +=
                    header.baseOffset >= cursor.nextOffset
                    ? Int(header.recordsCount) : Int(header.lastOffset - cursor.nextOffset + 1)
                stats.bytes += batch.bytes.readableBytes
                cursor.nextOffset = header.lastOffset + 1
            }
        } catch {
            stats.failures.append(
                "connection \(plan.connectionIndex): \(plan.topic)-\(cursor.partition) near offset \(cursor.nextOffset): \(error)"
            )
            cursors[cursorIndex] = cursor
            return false
        }
        let advanced = cursor.nextOffset > cursors[cursorIndex].nextOffset
        cursors[cursorIndex] = cursor
        stats.records += records
        if let budget = plan.budget, records > 0, !budget.spend(records) { stopping = true }

        if let end = cursor.endOffset {
            if cursor.nextOffset >= end { return false }
            if !advanced {
                if received > 0 {
                    stats.failures.append(
                        "connection \(plan.connectionIndex): \(plan.topic)-\(cursor.partition) offset \(cursor.nextOffset): "
                            + "the next batch is larger than --max-bytes (\(plan.maxBytes))")
                    return false
                }
                // Nothing there although the start-of-run end offset is ahead: the log shrank.
                if partition.highWatermark <= cursor.nextOffset { return false }
            }
        }
        return true
    }

    private func sendReady() {
        guard started, !finished, let context else { return }
        if !stopping, let deadline, NIODeadline.now() >= deadline { stopping = true }
        if !stopping, let budget = plan.budget, budget.isSpent { stopping = true }
        if !stopping, !ready.isEmpty {
            for cursorIndex in ready { send(cursorIndex: cursorIndex, context: context) }
            context.flush()
        }
        ready.removeAll(keepingCapacity: true)
        if outstanding.isEmpty { finish(failure: nil) }
    }

    private func send(cursorIndex: Int, context: ChannelHandlerContext) {
        let cursor = cursors[cursorIndex]
        let request = FetchRequest(
            maxWaitMs: plan.maxWaitMs, minBytes: 1, maxBytes: plan.maxBytes, isolationLevel: plan.isolationLevel,
            topics: [
                .init(
                    topic: plan.topic,
                    partitions: [
                        .init(
                            partition: cursor.partition, fetchOffset: cursor.nextOffset,
                            partitionMaxBytes: plan.maxBytes)
                    ])
            ])
        let correlationId = nextCorrelationId
        nextCorrelationId = nextCorrelationId == .max ? 1 : nextCorrelationId + 1
        var frame = context.channel.allocator.buffer(capacity: 128 + plan.topic.utf8.count)
        do {
            try RequestFrame.encode(
                request, version: plan.apiVersion, correlationId: correlationId, clientId: SetupClient.clientId,
                into: &frame)
        } catch {
            finish(failure: "cannot encode Fetch: \(error)")
            return
        }
        outstanding.append(
            Outstanding(
                correlationId: correlationId, cursorIndex: cursorIndex, sentAt: NIODeadline.now().uptimeNanoseconds))
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    private func checkForStall() {
        guard !finished, !outstanding.isEmpty, NIODeadline.now() - lastProgress > stallTimeout else { return }
        finish(
            failure:
                "no answer for \(stallTimeout.nanoseconds / 1_000_000_000) s with \(outstanding.count) requests outstanding"
        )
    }

    private func finish(failure: String?) {
        guard !finished else { return }
        finished = true
        stallCheck?.cancel()
        if let failure {
            stats.failures.append("connection \(plan.connectionIndex): \(failure)")
        }
        stats.finishedAt = .now()
        result.succeed(stats)
        context?.close(promise: nil)
    }
}
