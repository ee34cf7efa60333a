import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SkeinTLS

/// One HTTP/1.1 connection: answers each request when its end arrives. NIO's pipelining handler keeps
/// responses in request order and holds further requests until the current one is answered.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: any HTTPEndpoints
    private let users: BasicAuthUsers?
    private var head: HTTPRequestHead?

    init(endpoints: any HTTPEndpoints, users: BasicAuthUsers?) {
        self.endpoints = endpoints
        self.users = users
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
            let authorized = users?.allows(authorization: request.headers.first(name: "Authorization")) ?? true
            let response =
                authorized
                ? endpoints.respond(method: request.method, uri: request.uri)
                : HTTPEndpointResponse(
                    status: .unauthorized, contentType: HTTPEndpointResponse.text, body: "unauthorized\n")
            let keepAlive = request.isKeepAlive
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.utf8.count))
            if response.status == .methodNotAllowed { headers.add(name: "Allow", value: "GET, HEAD") }
            if !authorized { headers.add(name: "WWW-Authenticate", value: "Basic realm=\"skein\", charset=\"UTF-8\"") }
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

/// The HTTP listener of skeind and skein-agent. Give it its own event loop group so that rendering a
/// scrape never delays Kafka connections sharing a loop.
public final class MetricsHTTPServer: Sendable {
    public let channel: any Channel
    public var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `host:port`, or adopts `boundSocket` (systemd's descriptor named `metrics`) when given. With
    /// `tls` it serves HTTPS only (each connection takes the newest context); with `users` every request
    /// needs basic auth.
    public static func start(
        endpoints: any HTTPEndpoints, group: any EventLoopGroup, host: String, port: Int, boundSocket: CInt? = nil,
        logger: Logger = Logger(label: "skein.http"), tls: ReloadingTLSContext? = nil, users: BasicAuthUsers? = nil
    ) async throws -> MetricsHTTPServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(endpoints: endpoints, users: users))
                }
            }
        let channel: any Channel
        if let boundSocket {
            channel = try await bootstrap.withBoundSocket(boundSocket).get()
        } else {
            channel = try await bootstrap.bind(host: host, port: port).get()
        }
        try await AcceptErrorLogger.install(on: channel, logger: logger, listener: "HTTP listener")
        return MetricsHTTPServer(channel: channel)
    }

    public func close() async throws {
        try await channel.close()
    }
}
