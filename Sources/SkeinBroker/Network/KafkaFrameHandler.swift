import NIOCore
import SkeinProtocol

/// Splits the byte stream into Kafka frames, and bounds what a connection can make the broker hold:
/// - the size is checked before anything is allocated for the frame, so a client announcing 2 GiB (or
///   a negative size) costs nothing but a log line and a closed connection;
/// - a frame whose first bytes arrived must be complete within `partialTimeout`
///   (`socket.partial.request.timeout.ms`), or the connection is closed: a client trickling a frame
///   byte by byte (slowloris) holds a buffer and a slot only that long;
/// - the bytes it holds count in the broker-wide `RequestMemoryBudget`, and while that is exhausted
///   the connection's reads are held back (its `read` events are not passed on), so the client's TCP
///   sends block instead of the broker's memory growing.
/// Frames passed on stay counted in the budget; `KafkaConnectionHandler` releases them when answered.
/// The deadline keeps running while the budget holds reads back: when partial frames are what fills the
/// budget, all of them are cut within one deadline, not one after another.
final class KafkaFrameHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    struct TruncatedFrame: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "connection closed in the middle of a frame (\(bytes) bytes pending)" }
    }

    /// Says why a connection was closed for a frame that did not complete in time.
    typealias TimeoutReport = @Sendable (_ remote: String, _ received: Int, _ claimed: Int32?) -> Void

    private let maximumFrameBytes: Int32
    private let partialTimeout: TimeAmount
    private let budget: RequestMemoryBudget
    private let timedOut: TimeoutReport
    private var buffer = ByteBuffer()
    /// Bytes of `buffer` counted in the budget.
    private var held = 0
    private var frameStarted: NIODeadline?
    private var deadlineTask: Scheduled<Void>?
    private var resume: (@Sendable () -> Void)?
    private var readPending = false
    private var holdsOverdraft = false
    private var done = false

    init(
        maximumFrameBytes: Int32, partialTimeout: TimeAmount, budget: RequestMemoryBudget,
        timedOut: @escaping TimeoutReport
    ) {
        self.maximumFrameBytes = maximumFrameBytes
        self.partialTimeout = partialTimeout
        self.budget = budget
        self.timedOut = timedOut
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        resume = { loop.execute { bound.value.0.resumeReading(context: bound.value.1) } }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        budget.reserve(incoming.readableBytes)
        held += incoming.readableBytes
        if buffer.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer.writeBuffer(&incoming)
        }
        var completed = false
        do {
            while !done, let frame = try FrameLength.readFrame(from: &buffer, maximum: maximumFrameBytes) {
                held -= 4 + frame.readableBytes
                frameStarted = nil
                completed = true
                context.fireChannelRead(wrapInboundOut(frame))
            }
        } catch {
            tearDown()
            context.fireErrorCaught(error)
            return
        }
        if completed && holdsOverdraft {
            holdsOverdraft = false
            budget.finished(ObjectIdentifier(self))
        }
        if buffer.readableBytes > 0 {
            if frameStarted == nil {
                frameStarted = .now()
                scheduleDeadline(context: context)
            }
            if buffer.readerIndex > 65_536 && buffer.readerIndex > buffer.capacity / 2 { buffer.discardReadBytes() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let pending = done ? 0 : buffer.readableBytes
        tearDown()
        if pending > 0 { context.fireErrorCaught(TruncatedFrame(bytes: pending)) }
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        guard !done, let resume else {
            context.read()
            return
        }
        switch budget.mayRead(ObjectIdentifier(self), midFrame: buffer.readableBytes > 0, resume: resume) {
        case .read:
            context.read()
        case .overdraft:
            holdsOverdraft = true
            context.read()
        case .wait:
            readPending = true
        }
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readPending, !done else { return }
        readPending = false
        read(context: context)
    }

    private func scheduleDeadline(context: ChannelHandlerContext) {
        guard deadlineTask == nil, let started = frameStarted else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadlineTask = context.eventLoop.scheduleTask(deadline: started + partialTimeout) {
            let (handler, context) = bound.value
            handler.deadlineTask = nil
            handler.checkDeadline(context: context)
        }
    }

    private func checkDeadline(context: ChannelHandlerContext) {
        guard !done, let started = frameStarted else { return }
        guard started + partialTimeout <= .now() else {
            scheduleDeadline(context: context)
            return
        }
        timedOut(
            context.remoteAddress?.description ?? "?", buffer.readableBytes,
            buffer.getInteger(at: buffer.readerIndex, as: Int32.self))
        tearDown()
        context.close(promise: nil)
    }

    /// Gives back what the connection held: its budget bytes, the overdraft, its place in the queue of
    /// waiting readers, its deadline.
    private func tearDown() {
        guard !done || held > 0 || deadlineTask != nil || resume != nil else { return }
        done = true
        budget.release(held)
        held = 0
        buffer = ByteBuffer()
        budget.finished(ObjectIdentifier(self))
        holdsOverdraft = false
        deadlineTask?.cancel()
        deadlineTask = nil
        resume = nil
    }
}
