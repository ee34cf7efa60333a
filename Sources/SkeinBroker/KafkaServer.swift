import Logging
import NIOCore
import NIOPosix
import SkeinLog
import SkeinProtocol

/// One piece of a response frame, written in order: encoded bytes, or stored log bytes sent with
/// sendfile straight from the segment file.
public enum ResponsePart: Sendable {
    case bytes(ByteBuffer)
    case file(FileSlice)
}

/// What a request handler hands back; `nothing` for requests that get no reply (Produce with acks=0).
public enum HandlerResult: Sendable {
    case parts([ResponsePart])
    case nothing
    /// A reply that cannot be produced: the connection is closed after earlier responses are sent.
    case closeConnection(reason: String)

    static func frame(_ buffer: ByteBuffer) -> HandlerResult { .parts([.bytes(buffer)]) }
}

public typealias Respond = @Sendable (HandlerResult) -> Void

/// Splits the byte stream into Kafka frames. The size is checked before anything is allocated for the
/// frame, so a client announcing 2 GiB costs nothing but a log line and a closed connection.
struct KafkaFrameDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maximumFrameBytes: Int32

    mutating func decode(buffer: inout ByteBuffer) throws -> ByteBuffer? {
        try FrameLength.readFrame(from: &buffer, maximum: maximumFrameBytes)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ByteBuffer? {
        if let frame = try decode(buffer: &buffer) { return frame }
        if buffer.readableBytes > 0 {
            throw TruncatedFrame(bytes: buffer.readableBytes)
        }
        return nil
    }

    struct TruncatedFrame: Error, CustomStringConvertible {
        var bytes: Int
        var description: String { "connection closed in the middle of a frame (\(bytes) bytes pending)" }
    }
}

/// Runs requests of one connection and writes their responses in request order, as Kafka clients
/// expect, even when a later request (a Metadata) finishes before an earlier one (an acks=all Produce).
final class KafkaConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = IOData

    /// Requests a connection may have in flight before the broker stops reading from it.
    static let maxInFlight = 128

    private let router: RequestRouter
    private let logger: Logger
    private var nextSequence = 0
    private var nextToSend = 0
    private var finished: [Int: HandlerResult] = [:]
    private var readingPaused = false
    private var closing = false

    init(router: RequestRouter, logger: Logger) {
        self.router = router
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("connection from \(context.remoteAddress?.description ?? "?")")
        router.broker.metrics.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        router.broker.metrics.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let payload = unwrapInboundIn(data)
        if heldBehind != nil {
            held.append(payload)
            if held.count >= Self.maxInFlight && !readingPaused {
                readingPaused = true
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            }
            return
        }
        dispatch(payload, context: context)
    }

    /// Requests that wait on other clients (JoinGroup, SyncGroup) hold the rest of their connection's
    /// requests until they are answered, as Kafka's one-request-at-a-time connections do. A client that
    /// pipelines a heartbeat or a second JoinGroup behind its JoinGroup thus sees them processed after it,
    /// in the state the join left, not racing it.
    private static let holdingApis: Set<Int16> = [ApiKey.joinGroup.rawValue, ApiKey.syncGroup.rawValue]
    private var heldBehind: Int?
    private var held: [ByteBuffer] = []
    private var drainingHeld = false

    private func dispatch(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        let sequence = nextSequence
        nextSequence += 1
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let connection = ConnectionInfo(remote: context.remoteAddress?.description ?? "?", eventLoop: loop)
        router.route(payload, connection: connection) { result in
            if loop.inEventLoop {
                bound.value.0.complete(sequence, result, context: bound.value.1)
            } else {
                loop.execute { bound.value.0.complete(sequence, result, context: bound.value.1) }
            }
        }
        if let apiKey = payload.getInteger(at: payload.readerIndex, as: Int16.self), Self.holdingApis.contains(apiKey),
            nextToSend <= sequence
        {
            heldBehind = sequence
        }
        if (nextSequence - nextToSend >= Self.maxInFlight || held.count >= Self.maxInFlight) && !readingPaused {
            readingPaused = true
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
    }

    private func complete(_ sequence: Int, _ result: HandlerResult, context: ChannelHandlerContext) {
        // After a close was decided, late answers of requests still in flight have nowhere to go.
        guard !closing else { return }
        finished[sequence] = result
        var wrote = false
        while let next = finished.removeValue(forKey: nextToSend) {
            nextToSend += 1
            switch next {
            case .nothing:
                continue
            case .parts(let parts):
                for part in parts { write(part, context: context) }
                wrote = true
            case .closeConnection(let reason):
                logger.warning("closing connection from \(context.remoteAddress?.description ?? "?"): \(reason)")
                closing = true
                finished.removeAll()
                context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
                    .whenComplete { _ in context.close(promise: nil) }
                return
            }
        }
        if wrote { context.flush() }
        if let holder = heldBehind, nextToSend > holder, !drainingHeld {
            // Held requests may be answered inline, re-entering here; the flag keeps one drain loop.
            heldBehind = nil
            drainingHeld = true
            while heldBehind == nil, !held.isEmpty, !closing {
                dispatch(held.removeFirst(), context: context)
            }
            drainingHeld = false
        }
        if readingPaused && nextSequence - nextToSend < Self.maxInFlight / 2 && held.count < Self.maxInFlight / 2 {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            context.read()
        }
    }

    private func write(_ part: ResponsePart, context: ChannelHandlerContext) {
        switch part {
        case .bytes(let buffer):
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        case .file(let slice):
            // A descriptor of our own: the segment may be deleted or the slice released before sendfile
            // finishes, and NIO closes nothing it did not open.
            let descriptor = dup(slice.file.descriptor)
            guard descriptor >= 0 else {
                closing = true
                logger.error("dup failed while sending \(slice.file.path); closing the connection")
                context.close(promise: nil)
                return
            }
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
            let region = FileRegion(
                fileHandle: handle, readerIndex: Int(slice.position), endIndex: Int(slice.position) + slice.length)
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in try? handle.close() }
            context.write(wrapOutboundOut(.fileRegion(region)), promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as ProtocolError:
            logger.warning("closing connection from \(context.remoteAddress?.description ?? "?"): \(error)")
        case let error as KafkaFrameDecoder.TruncatedFrame:
            logger.info("connection from \(context.remoteAddress?.description ?? "?"): \(error)")
        case let error as IOError where error.errnoCode == ECONNRESET || error.errnoCode == EPIPE:
            logger.debug("connection from \(context.remoteAddress?.description ?? "?") reset")
        default:
            logger.warning("closing connection from \(context.remoteAddress?.description ?? "?"): \(error)")
        }
        closing = true
        context.close(promise: nil)
    }
}

public struct ConnectionInfo: Sendable {
    public var remote: String
    public var eventLoop: any EventLoop
}

/// Accepts Kafka connections and wires each to a `KafkaConnectionHandler`.
public final class KafkaServer: Sendable {
    public let channel: any Channel
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port`, or adopts `boundSocket` (a listening descriptor from systemd) when given.
    public static func start(
        broker: Broker, group: any EventLoopGroup, host: String, port: Int, boundSocket: CInt? = nil
    ) async throws -> KafkaServer {
        let router = RequestRouter(broker: broker)
        let logger = broker.logger
        let maxFrame = Int32(clamping: broker.config.maxRequestBytes)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(KafkaFrameDecoder(maximumFrameBytes: maxFrame)))
                    try channel.pipeline.syncOperations.addHandler(
                        KafkaConnectionHandler(router: router, logger: logger))
                }
            }
        let channel: any Channel
        if let boundSocket {
            channel = try await bootstrap.withBoundSocket(boundSocket).get()
        } else {
            channel = try await bootstrap.bind(host: host, port: port).get()
        }
        return KafkaServer(channel: channel)
    }

    public func close() async throws {
        try await channel.close()
    }
}
