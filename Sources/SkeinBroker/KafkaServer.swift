import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SkeinLog
import SkeinMetricsHTTP
import SkeinProtocol
import SkeinTLS

/// One piece of a response frame, written in order: encoded bytes, or stored log bytes sent with
/// sendfile straight from the segment file.
public enum ResponsePart: Sendable {
    case bytes(ByteBuffer)
    case file(FileSlice)
    /// Not a byte: once the parts before it are written, the connection is not read for this many
    /// milliseconds (a client over its quota, KIP-219). Requests already read wait until then too.
    case throttle(milliseconds: Int32)
}

/// What a request handler hands back; `nothing` for requests that get no reply (Produce with acks=0).
public enum HandlerResult: Sendable {
    case parts([ResponsePart])
    case nothing
    /// A reply that cannot be produced: the connection is closed after earlier responses are sent.
    case closeConnection(reason: String)
    /// A request refused by closing the connection (after earlier responses), already logged.
    case refused
    /// A last answer, then the connection is closed (a failed SASL login, as Kafka does).
    case partsThenClose([ResponsePart])

    static func frame(_ buffer: ByteBuffer) -> HandlerResult { .parts([.bytes(buffer)]) }
}

public typealias Respond = @Sendable (HandlerResult) -> Void

/// Runs requests of one connection and writes their responses in request order, as Kafka clients
/// expect, even when a later request (a Metadata) finishes before an earlier one (an acks=all Produce).
/// Request bytes stay counted in the broker's `RequestMemoryBudget` until their response is written.
final class KafkaConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = IOData

    /// Requests a connection may have in flight before the broker stops reading from it.
    static let maxInFlight = 128

    private let router: RequestRouter
    private let logger: Logger
    private let warnings: LogRateLimiter
    private let budget: RequestMemoryBudget
    private let securityProtocol: SecurityProtocol
    private let listenerName: String
    /// Made when the channel becomes active, when its remote address is known.
    private var session: ConnectionSession
    private var nextSequence = 0
    private var nextToSend = 0
    private var finished: [Int: HandlerResult] = [:]
    private var readingPaused = false
    /// Set while a quota throttle keeps the connection from being read (see `ResponsePart.throttle`).
    private var mutedUntil: NIODeadline?
    private var unmute: Scheduled<Void>?
    private var readingOff = false
    private var closing = false
    /// Frame bytes (size field included) per dispatched request not yet answered; and the total of every
    /// request received and not yet answered, held ones included, given back when the channel goes.
    private var requestBytes: [Int: Int] = [:]
    private var unansweredBytes = 0

    init(
        router: RequestRouter, logger: Logger, warnings: LogRateLimiter, budget: RequestMemoryBudget,
        listenerName: String = "PLAINTEXT", securityProtocol: SecurityProtocol = .plaintext
    ) {
        self.router = router
        self.logger = logger
        self.warnings = warnings
        self.budget = budget
        self.listenerName = listenerName
        self.securityProtocol = securityProtocol
        self.session = ConnectionSession(listenerName: listenerName, securityProtocol: securityProtocol, remote: "?")
    }

    func handlerAdded(context: ChannelHandlerContext) {
        session = ConnectionSession(
            listenerName: listenerName, securityProtocol: securityProtocol,
            remote: context.remoteAddress?.description ?? "?")
    }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("connection from \(context.remoteAddress?.description ?? "?")")
        router.broker.metrics.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Answers still in flight have nowhere to go; their bytes are given back now, once.
        closing = true
        unmute?.cancel()
        budget.release(unansweredBytes)
        unansweredBytes = 0
        requestBytes.removeAll()
        router.broker.metrics.connectionClosed()
        context.fireChannelInactive()
    }

    /// `connections.max.idle.ms` passed without a byte read or written. A request still pending (a
    /// JoinGroup waiting for its group, a long Fetch) keeps the connection, as its answer is traffic to come.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let peer = event as? TLSPeerPrincipal {
            session.setPrincipal(KafkaPrincipal(name: peer.name))
            logger.debug("TLS connection from \(session.remote) as \(session.principal)")
            return
        }
        guard let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard !closing, nextToSend == nextSequence, held.isEmpty else { return }
        logger.debug("closing idle connection from \(context.remoteAddress?.description ?? "?")")
        router.broker.metrics.connectionClosedByBroker(reason: "idle")
        closing = true
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard !closing else {
            budget.release(4 + payload.readableBytes)
            return
        }
        unansweredBytes += 4 + payload.readableBytes
        if heldBehind != nil || mutedUntil != nil {
            held.append(payload)
            if held.count >= Self.maxInFlight && !readingPaused {
                readingPaused = true
                setReading(false, context: context)
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
        requestBytes[sequence] = 4 + payload.readableBytes
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let connection = ConnectionInfo(remote: session.remote, eventLoop: loop, session: session)
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
            setReading(false, context: context)
        }
    }

    private func complete(_ sequence: Int, _ result: HandlerResult, context: ChannelHandlerContext) {
        // After a close was decided, late answers of requests still in flight have nowhere to go.
        guard !closing else { return }
        finished[sequence] = result
        var wrote = false
        while let next = finished.removeValue(forKey: nextToSend) {
            // Given back before anything below can close the channel (channelInactive gives back the rest).
            let answeredBytes = requestBytes.removeValue(forKey: nextToSend) ?? 0
            unansweredBytes -= answeredBytes
            budget.release(answeredBytes)
            nextToSend += 1
            switch next {
            case .nothing:
                continue
            case .parts(let parts):
                for part in parts { write(part, context: context) }
                wrote = true
            case .closeConnection(let reason):
                warnings.warning(
                    "closed connection",
                    "closing connection from \(context.remoteAddress?.description ?? "?"): \(reason)")
                closeAfterWrites(context: context)
                return
            case .refused:
                closeAfterWrites(context: context)
                return
            case .partsThenClose(let parts):
                for part in parts { write(part, context: context) }
                closeAfterWrites(context: context)
                return
            }
        }
        if wrote { context.flush() }
        if let holder = heldBehind, nextToSend > holder {
            heldBehind = nil
            drainHeld(context: context)
        }
        resumeReadingIfDrained(context: context)
    }

    /// Dispatches held requests until one holds the rest again or a throttle mutes the connection.
    private func drainHeld(context: ChannelHandlerContext) {
        // Held requests may be answered inline, re-entering here; the flag keeps one drain loop.
        guard !drainingHeld else { return }
        drainingHeld = true
        while heldBehind == nil, mutedUntil == nil, !held.isEmpty, !closing {
            dispatch(held.removeFirst(), context: context)
        }
        drainingHeld = false
    }

    private func resumeReadingIfDrained(context: ChannelHandlerContext) {
        if readingPaused && nextSequence - nextToSend < Self.maxInFlight / 2 && held.count < Self.maxInFlight / 2 {
            readingPaused = false
            setReading(mutedUntil == nil, context: context)
        }
    }

    /// Turns socket reads on or off; both the in-flight bound and a quota throttle turn them off.
    private func setReading(_ on: Bool, context: ChannelHandlerContext) {
        guard readingOff == on else { return }
        readingOff = !on
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in }
        if on { context.read() }
    }

    /// A quota throttle: no reads and no new requests until it ends (a later, longer one extends it).
    private func mute(milliseconds: Int32, context: ChannelHandlerContext) {
        guard milliseconds > 0, !closing else { return }
        let until = NIODeadline.now() + .milliseconds(Int64(milliseconds))
        if let mutedUntil, mutedUntil >= until { return }
        mutedUntil = until
        setReading(false, context: context)
        unmute?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        unmute = context.eventLoop.scheduleTask(deadline: until) { bound.value.0.unmuted(context: bound.value.1) }
    }

    private func unmuted(context: ChannelHandlerContext) {
        mutedUntil = nil
        unmute = nil
        guard !closing else { return }
        drainHeld(context: context)
        if !readingPaused { setReading(true, context: context) }
        resumeReadingIfDrained(context: context)
    }

    /// Closes once the responses written so far are flushed, so a client sees every answer it was due.
    private func closeAfterWrites(context: ChannelHandlerContext) {
        closing = true
        finished.removeAll()
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(capacity: 0))))
            .whenComplete { _ in context.close(promise: nil) }
    }

    private func write(_ part: ResponsePart, context: ChannelHandlerContext) {
        switch part {
        case .throttle(let milliseconds):
            mute(milliseconds: milliseconds, context: context)
        case .bytes(let buffer):
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        case .file(let slice) where securityProtocol.usesTLS:
            // TLS encrypts in user space, so sendfile cannot serve it: the slice is read straight into
            // one buffer from the channel's allocator, which the TLS handler encrypts from.
            var buffer = context.channel.allocator.buffer(capacity: slice.length)
            do {
                let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: slice.length) {
                    try slice.read(into: $0)
                }
                guard read == slice.length else {
                    throw LogError.io(operation: "pread (short)", path: slice.file.path, errno: 0)
                }
            } catch {
                // A frame whose size field promised these bytes cannot be finished: the connection goes.
                warnings.warning("fetch read failed", "closing connection from \(session.remote): \(error)")
                closing = true
                context.close(promise: nil)
                return
            }
            context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
        case .file(let slice):
            // The slice's lease keeps its descriptor open (the descriptor cache never closes a leased file,
            // and a deleted segment's file stays until its last lease goes), so the sendfile uses it as it is:
            // no duplicate per partition, which under a tight descriptor limit is what ran out. The lease is
            // held until the write completes, and NIO is told the descriptor is not its to close.
            let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: slice.file.descriptor)
            let region = FileRegion(
                fileHandle: handle, readerIndex: Int(slice.position), endIndex: Int(slice.position) + slice.length)
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in
                _ = try? handle.takeDescriptorOwnership()
                withExtendedLifetime(slice) {}
            }
            context.write(wrapOutboundOut(.fileRegion(region)), promise: promise)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let remote = context.remoteAddress?.description ?? "?"
        switch error {
        case let error as ProtocolError:
            router.broker.metrics.connectionClosedByBroker(reason: "invalid_frame")
            warnings.warning("invalid frame", "closing connection from \(remote): \(error)")
        case let error as KafkaFrameHandler.TruncatedFrame:
            warnings.log(.info, "truncated frame", "connection from \(remote): \(error)")
        case let error as IOError where error.errnoCode == ECONNRESET || error.errnoCode == EPIPE:
            logger.debug("connection from \(remote) reset")
        case NIOSSLError.uncleanShutdown:
            // A TLS client that closed its socket without close_notify (most do): as a reset, not a fault.
            logger.debug("TLS connection from \(remote) closed without close_notify")
        case let error as NIOSSLError:
            // A plaintext client on a TLS listener, an untrusted or expired client certificate, no
            // certificate where one is required: the handshake fails and the connection is closed.
            router.broker.metrics.connectionClosedByBroker(reason: "tls_handshake")
            warnings.warning("TLS handshake failed", "closing connection from \(remote): TLS: \(error)")
        case let error as BoringSSLError:
            router.broker.metrics.connectionClosedByBroker(reason: "tls_handshake")
            warnings.warning("TLS handshake failed", "closing connection from \(remote): TLS: \(error)")
        case is TLSPeerPrincipal.Unmapped:
            router.broker.metrics.connectionClosedByBroker(reason: "tls_principal")
            warnings.warning(
                "TLS principal unmapped",
                "closing connection from \(remote): no ssl.principal.mapping.rules rule matches its certificate subject"
            )
        default:
            warnings.warning("connection error", "closing connection from \(remote): \(error)")
        }
        closing = true
        context.close(promise: nil)
    }
}

public struct ConnectionInfo: Sendable {
    public var remote: String
    public var eventLoop: any EventLoop
    /// The connection's listener and principal, shared by all its requests.
    public var session: ConnectionSession
}

/// Accepts Kafka connections and wires each through the connection bounds (`ConnectionGateHandler`,
/// idle timeout, `KafkaFrameHandler`) to a `KafkaConnectionHandler`.
public final class KafkaServer: Sendable {
    public let channel: any Channel
    public var localAddress: SocketAddress? { channel.localAddress }
    let gate: ConnectionGate
    let budget: RequestMemoryBudget
    let warnings: LogRateLimiter
    private let flushWarnings: RepeatedTask

    private init(
        channel: any Channel, gate: ConnectionGate, budget: RequestMemoryBudget, warnings: LogRateLimiter,
        flushWarnings: RepeatedTask
    ) {
        self.channel = channel
        self.gate = gate
        self.budget = budget
        self.warnings = warnings
        self.flushWarnings = flushWarnings
    }

    /// Binds `host:port` as one PLAINTEXT listener, or adopts `boundSocket` (a listening descriptor from
    /// systemd) when given.
    public static func start(
        broker: Broker, group: any EventLoopGroup, host: String, port: Int, boundSocket: CInt? = nil
    ) async throws -> KafkaServer {
        try await start(
            broker: broker, group: group,
            listener: .init(
                name: broker.config.listeners.first?.name ?? "PLAINTEXT", host: host, port: port,
                securityProtocol: .plaintext, tls: nil),
            tls: nil, boundSocket: boundSocket)
    }

    /// Serves one listener: its address (or `boundSocket`), its security protocol and, for SSL and
    /// SASL_SSL, `tls`, whose newest context each accepted connection takes.
    public static func start(
        broker: Broker, group: any EventLoopGroup, listener: BrokerConfig.ResolvedListener,
        tls: ReloadingTLSContext?, boundSocket: CInt? = nil
    ) async throws -> KafkaServer {
        let host = listener.host
        let port = listener.port
        let listenerName = listener.name
        let securityProtocol = listener.securityProtocol
        let mapping = listener.tls?.principalMapping ?? .default
        let config = broker.config
        let logger = broker.logger
        let metrics = broker.metrics
        let warnings = broker.clientWarnings
        let router = RequestRouter(broker: broker, warnings: warnings)
        let gate = ConnectionGate(
            maxConnections: config.maxConnections ?? ConnectionGate.defaultMaxConnections(),
            maxPerIp: config.maxConnectionsPerIp, overrides: config.maxConnectionsPerIpOverrides)
        let budget = RequestMemoryBudget(limit: config.queuedMaxRequestBytes, gauge: metrics.requestQueueBytes)
        let maxFrame = Int32(clamping: config.maxRequestBytes)
        let idle = TimeAmount.milliseconds(config.connectionsMaxIdleMs)
        let partialTimeout = TimeAmount.milliseconds(config.partialRequestTimeoutMs)
        let refused: @Sendable (ConnectionGate.Refusal, String) -> Void = { refusal, ip in
            metrics.connectionRefused(reason: refusal.rawValue)
            warnings.warning(
                "refused connection",
                "refused a connection from \(ip): \(refusal.rawValue) (\(refusal == .total ? gate.maxConnections : gate.limit(for: ip))) reached"
            )
        }
        let timedOut: KafkaFrameHandler.TimeoutReport = { remote, received, claimed in
            metrics.connectionClosedByBroker(reason: "partial_request_timeout")
            warnings.warning(
                "partial request timeout",
                "closing connection from \(remote): a frame (\(claimed.map { "\($0) bytes claimed" } ?? "size incomplete"), \(received) bytes received) was not complete within \(config.partialRequestTimeoutMs) ms"
            )
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // A TCP-level option: `socketOption(.tcp_nodelay)` would set SOL_SOCKET's option 1, SO_DEBUG, which
            // needs CAP_NET_ADMIN, so every connection of an unprivileged broker failed before its first byte.
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ConnectionGateHandler(gate: gate, refused: refused))
                    try pipeline.addHandler(IdleStateHandler(allTimeout: idle))
                    if let tls {
                        try pipeline.addHandler(NIOSSLServerHandler(context: tls.context))
                        try pipeline.addHandler(TLSPeerPrincipalHandler(mapping: mapping))
                    }
                    try pipeline.addHandler(
                        KafkaFrameHandler(
                            maximumFrameBytes: maxFrame, partialTimeout: partialTimeout, budget: budget,
                            timedOut: timedOut))
                    try pipeline.addHandler(
                        KafkaConnectionHandler(
                            router: router, logger: logger, warnings: warnings, budget: budget,
                            listenerName: listenerName, securityProtocol: securityProtocol))
                }
            }
        let channel: any Channel
        if let boundSocket {
            channel = try await bootstrap.withBoundSocket(boundSocket).get()
        } else {
            channel = try await bootstrap.bind(host: host, port: port).get()
        }
        try await AcceptErrorLogger.install(on: channel, logger: logger, listener: "Kafka listener \(listenerName)")
        let interval = TimeAmount.milliseconds(config.connectionLogIntervalMs)
        let flush = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            warnings.flush()
        }
        return KafkaServer(channel: channel, gate: gate, budget: budget, warnings: warnings, flushWarnings: flush)
    }

    /// Kafka connections open now (for `systemctl status`).
    public var openConnections: Int { gate.open }

    public func close() async throws {
        flushWarnings.cancel()
        try await channel.close()
    }
}
