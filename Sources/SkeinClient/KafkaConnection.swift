import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SkeinProtocol
import Synchronization

/// One TCP connection to one broker, with requests pipelined: any number may be outstanding and
/// each answer is matched to its request by correlation id, so a slow Fetch never blocks a
/// Produce sent after it on the same connection.
public final class KafkaConnection: Sendable {
    public let host: String
    public let port: Int
    /// The versions negotiated with this broker through ApiVersions when connecting.
    public let versions: NegotiatedVersions
    let channel: Channel
    private let clientId: String
    private let nextCorrelationId = Atomic<Int32>(1)

    private init(host: String, port: Int, channel: Channel, clientId: String, versions: NegotiatedVersions) {
        self.host = host
        self.port = port
        self.channel = channel
        self.clientId = clientId
        self.versions = versions
    }

    /// Connects and negotiates API versions before returning, so every later request can pick a
    /// version the broker is known to accept. With a TLS `security.protocol` the connection runs TLS from
    /// its first byte; `tlsContext` is the client's shared one, made from `security` when not given. With a
    /// SASL one it logs in (`sasl.*`) right after ApiVersions, before any other request.
    public static func connect(
        host: String, port: Int, clientId: String = "skein-client",
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, connectTimeout: TimeAmount = .seconds(10),
        security: ClientSecurity = .plaintext, tlsContext: NIOSSLContext? = nil
    ) async throws -> KafkaConnection {
        let channel: Channel
        let sasl = try security.saslSettings()
        let tls = security.securityProtocol.usesTLS ? try tlsContext ?? security.makeTLSContext() : nil
        // SNI takes names only; for an address, the certificate is checked against the address connected to.
        let serverName = host.isIPAddress ? nil : host
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(CorrelationHandler())
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw KafkaClientError.connectionClosed("connecting to \(host):\(port): \(error)")
        }
        do {
            let versions = try await negotiate(channel: channel, clientId: clientId)
            let connection = KafkaConnection(
                host: host, port: port, channel: channel, clientId: clientId, versions: versions)
            if let sasl { try await connection.authenticate(sasl) }
            return connection
        } catch {
            try? await channel.close()
            throw error
        }
    }

    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }

    /// Sends `request` at the highest version both sides speak (at least `minimumVersion`) and
    /// returns the decoded answer.
    public func send<Request: KafkaRequestMessage>(_ request: Request, minimumVersion: Int16? = nil) async throws
        -> Request.Response
    {
        let version = try versions.version(of: Request.apiKey, minimum: minimumVersion)
        return try await send(request, version: version)
    }

    /// Sends `request` at exactly `version` and returns the decoded answer.
    public func send<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, timeout: TimeAmount = KafkaConnection.defaultRequestTimeout
    ) async throws -> Request.Response {
        try await enqueue(request, version: version, timeout: timeout).get()
    }

    /// Longer than any broker-side wait a client asks for by default (Produce's 30 s timeout), so
    /// only a broker that has stopped answering hits it.
    public static let defaultRequestTimeout = TimeAmount.seconds(40)

    /// Writes `request` now and returns its eventual answer. Writes happen in call order, which is
    /// what lets a producer keep several batches of one partition in flight without reordering.
    public func enqueue<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, timeout: TimeAmount = KafkaConnection.defaultRequestTimeout
    ) throws -> EventLoopFuture<Request.Response> {
        let payload = try write(request, version: version, expectsResponse: true)!
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {}
        let api = Request.apiKey
        deadline.futureResult.whenSuccess { [channel] in
            // A lost answer would desynchronise nothing (ids are matched), but the caller must not
            // wait forever; closing fails every request still waiting on this broker.
            channel.pipeline.fireErrorCaught(KafkaClientError.timedOut("\(api.description) after \(timeout)"))
        }
        payload.whenComplete { _ in deadline.cancel() }
        return payload.flatMapThrowing { body in
            let (_, response) = try ResponseFrame.decode(payload: body, apiKey: Request.apiKey, version: version)
            guard let typed = response.message as? Request.Response else {
                throw KafkaClientError.unexpectedResponse("\(response.apiKey) for \(Request.apiKey)")
            }
            return typed
        }
    }

    /// Writes a request the broker will not answer (Produce with acks=0); completes when written.
    public func sendWithoutResponse<Request: KafkaRequestMessage>(_ request: Request, version: Int16) async throws {
        _ = try write(request, version: version, expectsResponse: false)
    }

    private func write<Request: KafkaRequestMessage>(_ request: Request, version: Int16, expectsResponse: Bool) throws
        -> EventLoopFuture<ByteBuffer>?
    {
        let correlationId = nextCorrelationId.add(1, ordering: .relaxed).oldValue
        var frame = channel.allocator.buffer(capacity: 256)
        try RequestFrame.encode(
            request, version: version, correlationId: correlationId, clientId: clientId, into: &frame)
        let promise = expectsResponse ? channel.eventLoop.makePromise(of: ByteBuffer.self) : nil
        channel.writeAndFlush(OutboundRequest(frame: frame, correlationId: correlationId, response: promise))
            .whenFailure { error in promise?.fail(KafkaClientError.connectionClosed("write failed: \(error)")) }
        return promise?.futureResult
    }

    /// ApiVersions v3 first, as current clients send it; a broker that does not know v3 answers
    /// UNSUPPORTED_VERSION in the v0 layout (librdkafka's mock does), and then v0 is asked again.
    private static func negotiate(channel: Channel, clientId: String) async throws -> NegotiatedVersions {
        var correlationId: Int32 = 0
        for version: Int16 in [3, 0] {
            var frame = channel.allocator.buffer(capacity: 128)
            let request = ApiVersionsRequest(clientSoftwareName: "skein-client", clientSoftwareVersion: "0.1")
            try RequestFrame.encode(
                request, version: version, correlationId: correlationId, clientId: clientId, into: &frame)
            let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
            channel.writeAndFlush(OutboundRequest(frame: frame, correlationId: correlationId, response: promise))
                .whenFailure { promise.fail($0) }
            var body = try await promise.futureResult.get()
            _ = try ResponseHeader.decode(from: &body, headerVersion: 0)
            let response = try ApiVersionsResponse.decodeAllowingFallback(from: body, version: version)
            if response.errorCode == .unsupportedVersion && version != 0 {
                correlationId += 1
                continue
            }
            guard response.errorCode == .noError else {
                throw KafkaClientError.broker(response.errorCode, context: "ApiVersions")
            }
            return NegotiatedVersions(response)
        }
        throw KafkaClientError.noCommonVersion(.apiVersions, "the broker rejected v3 and v0")
    }
}

/// The versions usable on one connection: the overlap of the broker's advertised ranges and the
/// codec's.
public struct NegotiatedVersions: Sendable {
    private let brokerRanges: [Int16: ClosedRange<Int16>]

    init(_ response: ApiVersionsResponse) {
        var ranges: [Int16: ClosedRange<Int16>] = [:]
        for entry in response.apiKeys where entry.minVersion <= entry.maxVersion {
            ranges[entry.apiKey] = entry.minVersion...entry.maxVersion
        }
        brokerRanges = ranges
    }

    /// The highest version both sides speak, not below `minimum` (what a feature needs, such as
    /// Produce v3 for RecordBatch v2).
    public func version(of api: ApiKey, minimum: Int16? = nil) throws(KafkaClientError) -> Int16 {
        guard let broker = brokerRanges[api.rawValue] else {
            throw .noCommonVersion(api, "the broker does not advertise it")
        }
        let ours = api.supportedVersions
        let low = max(broker.lowerBound, ours.lowerBound, minimum ?? .min)
        let high = min(broker.upperBound, ours.upperBound)
        guard low <= high else {
            throw .noCommonVersion(
                api, "broker \(broker.lowerBound)–\(broker.upperBound), client \(ours.lowerBound)–\(ours.upperBound)")
        }
        return high
    }

    public func supports(_ api: ApiKey) -> Bool { brokerRanges[api.rawValue] != nil }

    /// Every API key the broker advertised with its version range, by key.
    public var advertised: [(apiKey: Int16, versions: ClosedRange<Int16>)] {
        brokerRanges.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

struct OutboundRequest: Sendable {
    var frame: ByteBuffer
    var correlationId: Int32
    /// nil when the broker sends no answer (acks=0 Produce).
    var response: EventLoopPromise<ByteBuffer>?
}

/// Matches each response to its request by correlation id. Kafka answers in request order on a
/// connection, but matching by id (rather than by position) also catches a broker that breaks that
/// rule instead of silently handing one request's answer to another.
final class CorrelationHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = ByteBuffer

    private var pending: [Int32: EventLoopPromise<ByteBuffer>] = [:]
    private var closedReason: String?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let closedReason {
            request.response?.fail(KafkaClientError.connectionClosed(closedReason))
            promise?.fail(KafkaClientError.connectionClosed(closedReason))
            return
        }
        if let response = request.response { pending[request.correlationId] = response }
        context.write(wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard let correlationId = payload.getInteger(at: payload.readerIndex, as: Int32.self),
            let promise = pending.removeValue(forKey: correlationId)
        else {
            context.fireErrorCaught(KafkaClientError.unexpectedResponse("response with an unknown correlation id"))
            return
        }
        promise.succeed(payload)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll("\(error)")
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll("closed by the broker")
        context.fireChannelInactive()
    }

    private func failAll(_ reason: String) {
        if closedReason == nil { closedReason = reason }
        let waiting = pending
        pending.removeAll()
        for promise in waiting.values { promise.fail(KafkaClientError.connectionClosed(reason)) }
    }
}

extension String {
    /// An IPv4 or IPv6 literal, which TLS's SNI must not carry.
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
