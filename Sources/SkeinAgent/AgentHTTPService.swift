import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SkeinMetrics
import SkeinMetricsHTTP
import SkeinTLS

/// The agent's own HTTP listener (`[agent] metrics_listen`): `/metrics` renders the agent's registry,
/// `/health` answers 200 while `isReady` says so. It binds in `start`, before the agent's services run,
/// so a port already taken stops the agent at startup with a clear message instead of mid-run; it stops
/// at graceful shutdown, after the sources and the delivery core, so the last scrape still sees them.
public final class AgentHTTPService: Service, Sendable {
    private let server: MetricsHTTPServer
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let tls: ReloadingTLSContext?

    /// Where it listens (the real port when the configuration said port 0).
    public var localAddress: SocketAddress? { server.localAddress }

    private init(
        server: MetricsHTTPServer, group: MultiThreadedEventLoopGroup, logger: Logger, tls: ReloadingTLSContext?
    ) {
        self.server = server
        self.group = group
        self.logger = logger
        self.tls = tls
    }

    public struct BindError: Error, CustomStringConvertible {
        public var address: AgentConfiguration.ListenAddress
        public var underlying: String
        public var description: String {
            "cannot serve metrics on \(address): \(underlying) (choose another with --metrics-listen HOST:PORT or [agent] metrics_listen, or \"off\")"
        }
    }

    /// Binds `address`; one event-loop thread of its own, so a scrape never waits on delivery work.
    public static func start(
        registry: MetricsRegistry, address: AgentConfiguration.ListenAddress, logger: Logger,
        isReady: @escaping @Sendable () -> Bool = { true }, tls: TLSServerSettings? = nil,
        basicAuthUsersFile: String? = nil
    ) async throws -> AgentHTTPService {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let context = try tls.map {
                try ReloadingTLSContext(settings: $0, label: "metrics listener", logger: logger)
            }
            let users = try basicAuthUsersFile.map { try BasicAuthUsers(path: $0) }
            let server = try await MetricsHTTPServer.start(
                endpoints: RegistryEndpoints(registry: registry, isReady: isReady), group: group, host: address.host,
                port: address.port, logger: logger, tls: context, users: users)
            context?.startWatching(on: group.next())
            let service = AgentHTTPService(server: server, group: group, logger: logger, tls: context)
            logger.info(
                "skein-agent serving metrics on \(context == nil ? "http" : "https")://\(service.localAddressText)/metrics\(users == nil ? "" : ", basic auth required")"
            )
            return service
        } catch {
            try? await group.shutdownGracefully()
            throw BindError(address: address, underlying: "\(error)")
        }
    }

    /// `host:port` of the bound socket, for log lines and tests.
    public var localAddressText: String {
        guard let address = localAddress, let port = address.port else { return "?" }
        let host = address.ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Serves until graceful shutdown (or cancellation), then closes the listener.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Closes the listener and its thread; also for callers that never ran the service.
    public func close() async {
        tls?.stop()
        try? await server.close()
        try? await group.shutdownGracefully()
        logger.debug("metrics listener closed")
    }
}
