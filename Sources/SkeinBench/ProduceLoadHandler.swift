import NIOCore
import SkeinProtocol

struct ProduceLoadPlan: Sendable {
    var frames: ProduceFrames
    var connectionIndex: Int
    var inFlightLimit: Int
    var apiVersion: Int16
    /// acks=0: the broker never answers, so a request counts as done once the socket took it.
    var awaitsResponses: Bool
    /// Requests left to send across all connections; nil when only the deadline bounds the run.
    var budget: SharedBudget?
}

/// Drives one connection: keeps up to `inFlightLimit` Produce requests outstanding, rotating
/// over the partitions, until the deadline or the shared budget says stop, then reports.
final class ProduceLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Outstanding {
        var correlationId: Int32
        var sentAt: UInt64
        var records: Int
        var bytes: Int
    }

    private let plan: ProduceLoadPlan
    private let result: EventLoopPromise<ConnectionStats>
    private var stats = ConnectionStats()
    private var outstanding = CircularBuffer<Outstanding>()
    private var context: ChannelHandlerContext?
    private var deadline: NIODeadline?
    private var started = false
    private var stopping = false
    private var finished = false
    private var pumping = false
    private var pumpAgain = false
    private var sequence = 0
    private var nextCorrelationId: Int32 = 1
    private var lastProgress = NIODeadline.now()
    private var stallCheck: RepeatedTask?

    init(plan: ProduceLoadPlan, result: EventLoopPromise<ConnectionStats>) {
        self.plan = plan
        self.result = result
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
        pump()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard plan.awaitsResponses, let request = outstanding.popFirst() else {
            finish(failure: "response without an outstanding request")
            return
        }
        let now = NIODeadline.now().uptimeNanoseconds
        stats.latency.record(now &- request.sentAt)
        stats.requests += 1
        lastProgress = .now()
        do {
            let (header, response) = try ResponseFrame.decode(
                payload: payload, apiKey: .produce, version: plan.apiVersion)
            guard header.correlationId == request.correlationId, case .produce(let produce) = response else {
                finish(failure: "response \(header.correlationId) arrived where \(request.correlationId) was due")
                return
            }
            var failed = false
            for topic in produce.topics {
                for partition in topic.partitions where partition.errorCode != .noError {
                    stats.count(partition.errorCode.rawValue)
                    failed = true
                }
            }
            if !failed {
                stats.records += request.records
                stats.bytes += request.bytes
            }
        } catch {
            finish(failure: "unreadable Produce response: \(error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        pump()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(failure: "\(error)")
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(failure: "connection closed with \(outstanding.count) requests outstanding")
        context.fireChannelInactive()
    }

    /// Sends until the in-flight window is full or the run is over, with one flush per round.
    /// Write completions for acks=0 may arrive synchronously inside our own flush; they only set
    /// `pumpAgain`, and the next round runs as a fresh event-loop task so other channels on the
    /// loop get their turn.
    private func pump() {
        guard started, !finished, let context else { return }
        if pumping {
            pumpAgain = true
            return
        }
        pumping = true
        var wrote = false
        while outstanding.count < plan.inFlightLimit, mayStartAnother() {
            send(context: context)
            wrote = true
        }
        if wrote { context.flush() }
        pumping = false
        if outstanding.isEmpty, stopping {
            finish(failure: nil)
        } else if pumpAgain {
            pumpAgain = false
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute { bound.value.pump() }
        }
    }

    private func mayStartAnother() -> Bool {
        if stopping { return false }
        if let deadline, NIODeadline.now() >= deadline {
            stopping = true
            return false
        }
        if let budget = plan.budget, !budget.claim() {
            stopping = true
            return false
        }
        return true
    }

    private func send(context: ChannelHandlerContext) {
        let rows = plan.frames.frames
        let row = rows[(plan.connectionIndex + sequence) % rows.count]
        let frame = row[(sequence / rows.count) % row.count]
        sequence += 1
        let correlationId = nextCorrelationId
        nextCorrelationId = nextCorrelationId == .max ? 1 : nextCorrelationId + 1

        outstanding.append(
            Outstanding(
                correlationId: correlationId, sentAt: NIODeadline.now().uptimeNanoseconds, records: frame.records,
                bytes: frame.batchBytes))
        let head = ProduceFrames.head(of: frame, correlationId: correlationId, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(head), promise: nil)
        if plan.awaitsResponses {
            context.write(wrapOutboundOut(frame.tail), promise: nil)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            context.write(wrapOutboundOut(frame.tail), promise: written)
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { outcome in bound.value.writeCompleted(outcome) }
        }
    }

    private func writeCompleted(_ outcome: Result<Void, Error>) {
        guard let request = outstanding.popFirst() else { return }
        switch outcome {
        case .success:
            stats.latency.record(NIODeadline.now().uptimeNanoseconds &- request.sentAt)
            stats.requests += 1
            stats.records += request.records
            stats.bytes += request.bytes
            lastProgress = .now()
            pump()
        case .failure(let error):
            finish(failure: "write failed: \(error)")
        }
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
