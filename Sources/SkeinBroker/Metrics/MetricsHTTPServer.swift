import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SkeinMetrics
import Synchronization

/// What the HTTP listener serves: `/metrics`, `/metrics/hosts` and `/health`.
public final class MetricsEndpoints: Sendable {
    let broker: Broker
    let hostExporter: HostMetricsExporter?
    private let readyFlag = Atomic<Bool>(false)

    public init(broker: Broker, hostExporter: HostMetricsExporter?) {
        self.broker = broker
        self.hostExporter = hostExporter
        if let hostExporter { broker.metrics.registry.register(hostExporter.table.collector()) }
    }

    /// Storage is open and the Kafka listener bound: `/health` answers 200.
    public func markReady() { readyFlag.store(true, ordering: .relaxed) }

    public struct Response: Sendable, Equatable {
        public var status: HTTPResponseStatus
        public var contentType: String
        public var body: String
    }

    public func respond(method: HTTPMethod, uri: String) -> Response {
        let path =
            uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        let text = "text/plain; charset=utf-8"
        guard method == .GET || method == .HEAD else {
            return Response(status: .methodNotAllowed, contentType: text, body: "only GET and HEAD\n")
        }
        switch path {
        case "/metrics":
            return Response(status: .ok, contentType: PrometheusTextWriter.contentType, body: broker.metrics.render())
        case "/metrics/hosts":
            let body = hostExporter?.table.render(nowMs: Int64(Date().timeIntervalSince1970 * 1000)) ?? ""
            return Response(status: .ok, contentType: PrometheusTextWriter.contentType, body: body)
        case "/health":
            return readyFlag.load(ordering: .relaxed)
                ? Response(status: .ok, contentType: text, body: "ready\n")
                : Response(status: .serviceUnavailable, contentType: text, body: "not ready\n")
        default:
            return Response(status: .notFound, contentType: text, body: "not found\n")
        }
    }
}

/// One HTTP/1.1 connection: answers each request when its end arrives. NIO's pipelining handler keeps
/// responses in request order and holds further requests until the current one is answered.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: MetricsEndpoints
    private var head: HTTPRequestHead?

    init(endpoints: MetricsEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
        case .body:
            break  // no endpoint takes a body; it is read and dropped
        case .end:
            guard let request = head else { return }
            head = nil
            let response = endpoints.respond(method: request.method, uri: request.uri)
            let keepAlive = request.isKeepAlive
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.utf8.count))
            if response.status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))),
                promise: nil)
            if request.method != .HEAD {
                var body = context.channel.allocator.buffer(capacity: response.body.utf8.count)
                body.writeString(response.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            }
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                done.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The broker's HTTP listener. It runs on its own event loop group so that rendering a scrape never
/// delays Kafka connections sharing a loop.
public final class MetricsHTTPServer: Sendable {
    public let channel: any Channel
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port`, or adopts `boundSocket` (systemd's descriptor named `metrics`) when given.
    public static func start(
        endpoints: MetricsEndpoints, group: any EventLoopGroup, host: String, port: Int, boundSocket: CInt? = nil
    ) async throws -> MetricsHTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(endpoints: endpoints))
                }
            }
        let channel: any Channel
        if let boundSocket {
            channel = try await bootstrap.withBoundSocket(boundSocket).get()
        } else {
            channel = try await bootstrap.bind(host: host, port: port).get()
        }
        return MetricsHTTPServer(channel: channel)
    }

    public func close() async throws {
        try await channel.close()
    }
}
