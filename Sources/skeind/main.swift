import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import SkeinBroker
import SkeinMetricsHTTP
import SkeinSystemd
import SkeinTLS

/// `skeind`: the Skein broker. All logic lives in SkeinBroker; this file turns flags into a config,
/// adopts systemd's listening socket when handed one, and shuts down cleanly on SIGTERM/SIGINT.
@main
struct Skeind: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skeind", abstract: "Kafka-wire-compatible log broker.",
        discussion: "Broker settings use Kafka's names (server.properties), e.g. --set num.partitions=3.")

    @Option(help: "Data directory (log.dirs). Default: $STATE_DIRECTORY under systemd, else ./skein-data.")
    var dataDir: String?

    @Option(help: "Address to listen on, host:port. Default: 127.0.0.1:9092.")
    var listen: String?

    @Option(name: .customLong("config"), help: "A server.properties-style file of name=value settings.")
    var configFile: String?

    @Option(name: .customLong("set"), help: "A broker setting, name=value; repeatable; wins over --config.")
    var settings: [String] = []

    @Option(
        help: "HTTP listener for /metrics, /metrics/hosts and /health, host:port or off. Default: 127.0.0.1:9644.")
    var httpListen: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    mutating func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        // Client text (client ids, topics, group ids) reaches log lines; escaping every line keeps each
        // one line, so no client can write what looks like a line of the broker's own.
        // Under systemd with stderr on the journal, lines carry their priority (`journalctl -p warning`).
        let journal = JournalLogHandler.standardErrorIsJournal()
        LoggingSystem.bootstrap { label in
            if journal {
                var handler = JournalLogHandler(label: label)
                handler.logLevel = level
                return EscapingLogHandler(handler)
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return EscapingLogHandler(handler)
        }
        let logger = Logger(label: "skeind")
        let brokerConfig = try makeConfig()
        raiseOpenFileLimit(logger: logger)
        // TLS files are read before the data directory opens, so a wrong path fails at once.
        let listeners: [BrokerConfig.ResolvedListener]
        var tlsContexts: [String: ReloadingTLSContext] = [:]
        var httpTLS: ReloadingTLSContext?
        var httpUsers: BasicAuthUsers?
        do {
            listeners = try brokerConfig.resolvedListeners()
            for listener in listeners {
                guard let settings = listener.tls else { continue }
                tlsContexts[listener.name] = try ReloadingTLSContext(
                    settings: settings, label: "listener \(listener.name)", logger: logger)
            }
            if let settings = try brokerConfig.httpTLSSettings() {
                httpTLS = try ReloadingTLSContext(settings: settings, label: "HTTP listener", logger: logger)
            }
            if let path = brokerConfig.httpBasicAuthUsersFile { httpUsers = try BasicAuthUsers(path: path) }
        } catch let error as BrokerConfig.InvalidSetting {
            throw ValidationError(error.description)
        } catch {
            throw StartupError("cannot load TLS or basic-auth files: \(error)")
        }
        let reloadable = Array(tlsContexts.values) + (httpTLS.map { [$0] } ?? [])

        let notifier = ServiceNotifier.shared
        // Recovery after a crash can outlast TimeoutStartSec=; the start timeout is extended while it runs.
        let dataDirectory = brokerConfig.dataDirectory
        let opening = ServiceWatchdog.extendWhile { seconds in
            "opening \(dataDirectory) (recovering storage, \(seconds) s so far)"
        }
        let broker: Broker
        do {
            broker = try Broker(config: brokerConfig, logger: logger)
            opening?.cancel()
        } catch {
            opening?.cancel()
            throw error
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

        // The HTTP listener comes up before the Kafka one so /health can say "not ready" meanwhile.
        let hostExporter = HostMetricsExporter(
            broker: broker, topic: brokerConfig.hostMetricsTopic, ttlMs: brokerConfig.hostMetricsTtlMs)
        let endpoints = MetricsEndpoints(broker: broker, hostExporter: hostExporter)
        let httpGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var httpServer: MetricsHTTPServer?
        let inheritedHTTP = SystemdSockets.listening(named: "metrics")
        if inheritedHTTP != nil || brokerConfig.httpListen != nil {
            let host = brokerConfig.httpListen?.host ?? "127.0.0.1"
            let port = brokerConfig.httpListen?.port ?? 9644
            do {
                httpServer = try await MetricsHTTPServer.start(
                    endpoints: endpoints, group: httpGroup, host: host, port: port, boundSocket: inheritedHTTP,
                    logger: logger, tls: httpTLS, users: httpUsers)
            } catch {
                broker.shutdown()
                throw StartupError(
                    "cannot serve metrics on \(host):\(port): \(error) (choose another with --http-listen HOST:PORT, or off)"
                )
            }
            logger.info(
                "skeind serving metrics on \(httpTLS == nil ? "http" : "https")://\(hostPort(httpServer?.localAddress))\(inheritedHTTP != nil ? " (socket from systemd)" : "")\(httpUsers == nil ? "" : ", basic auth required")"
            )
        }
        hostExporter.start()

        var servers: [KafkaServer] = []
        for (index, listener) in listeners.enumerated() {
            // systemd's descriptor named after the listener (any case), or `kafka` for the first one.
            let inherited = SystemdSockets.listening(
                matching: { $0.uppercased() == listener.name || (index == 0 && $0 == "kafka") }, first: index == 0,
                claimed: { name in listeners.contains { $0.name == name.uppercased() } })
            let server: KafkaServer
            do {
                server = try await KafkaServer.start(
                    broker: broker, group: group, listener: listener, tls: tlsContexts[listener.name],
                    boundSocket: inherited)
            } catch {
                for started in servers { try? await started.close() }
                broker.shutdown()
                throw StartupError(
                    "cannot listen on \(listener.name)://\(listener.host):\(listener.port): \(error)")
            }
            if let port = server.localAddress?.port { broker.setBoundPort(port, listener: listener.name) }
            servers.append(server)
            logger.info(
                "skeind listening on \(listener.name)://\(hostPort(server.localAddress)) (\(listener.securityProtocol.rawValue)\(listener.tls.map { ", ssl.client.auth=\($0.clientAuth.rawValue)" } ?? ""))\(inherited != nil ? " (socket from systemd)" : ""), data in \(brokerConfig.dataDirectory)"
            )
        }
        for context in reloadable { context.startWatching(on: httpGroup.next()) }
        let hangup = HangupSignal {
            logger.notice("SIGHUP: reloading TLS certificates and keys")
            for context in reloadable { context.reload() }
        }
        let kafkaAddresses = servers.map { hostPort($0.localAddress) }.joined(separator: ", ")
        let runningServers = servers

        endpoints.markReady()
        let report = broker.logs.recoveryReport
        let opened =
            report.cleanShutdown || report.partitions == 0
            ? "opened cleanly"
            : "recovered after an unclean shutdown (\(report.segmentsRescanned) segments rescanned, \(report.bytesTruncated) bytes truncated)"
        let status: @Sendable () -> String = {
            "\(broker.partitionCount) partitions, \(runningServers.reduce(0) { $0 + $1.openConnections }) connections; \(opened); Kafka on \(kafkaAddresses)"
        }
        notifier.ready(status: status())
        let statusUpdates =
            notifier.isEnabled
            ? group.next().scheduleRepeatedTask(initialDelay: .seconds(10), delay: .seconds(10)) { _ in
                notifier.status(status())
            } : nil
        let watchdog = ServiceWatchdog.start {
            await Self.probe(
                loops: Array(group.makeIterator()) + Array(httpGroup.makeIterator()), directory: dataDirectory)
        }

        let stop = ShutdownSignal()
        await stop.wait()
        logger.info("shutting down")
        statusUpdates?.cancel()
        watchdog?.cancel()
        notifier.stopping(status: "shutting down: flushing partitions")
        hostExporter.stop()
        hangup.cancel()
        for context in reloadable { context.stop() }
        try? await httpServer?.close()
        try? await httpGroup.shutdownGracefully()
        for server in servers { try? await server.close() }
        broker.shutdown()
        try? await group.shutdownGracefully()
    }

    /// The watchdog's test of progress: every event loop runs a task (so none is stuck in a handler) and the
    /// data directory answers a stat (so its filesystem is not hung).
    static func probe(loops: [any EventLoop], directory: String) async -> Bool {
        for loop in loops {
            guard (try? await loop.submit {}.get()) != nil else { return false }
        }
        var status = stat()
        return stat(directory, &status) == 0
    }

    func makeConfig() throws -> BrokerConfig {
        var config = BrokerConfig()
        if let stateDirectory = ProcessInfo.processInfo.environment["STATE_DIRECTORY"], dataDir == nil {
            config.dataDirectory = stateDirectory
        }
        do {
            if let path = configFile {
                try config.apply(propertiesText: String(contentsOfFile: path, encoding: .utf8))
            }
            for setting in settings {
                guard let equals = setting.firstIndex(of: "=") else {
                    throw ValidationError("--set expects name=value, got \(setting)")
                }
                try config.apply(String(setting[..<equals]), String(setting[setting.index(after: equals)...]))
            }
            if let dataDir { config.dataDirectory = dataDir }
            if let listen { try config.apply("listeners", listen) }
            if let httpListen { try config.apply("http.listen", httpListen) }
        } catch let error as BrokerConfig.InvalidSetting {
            throw ValidationError(error.description)
        }
        return config
    }

    private func raiseOpenFileLimit(logger: Logger) {
        // Segment files beyond the descriptor budget are closed and reopened, which works at any limit but
        // costs an open per idle partition woken; the soft limit (often 1024) is raised to the hard one so
        // that a large broker rarely pays it. The budget is derived from the limit after this.
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        guard limit.rlim_cur < limit.rlim_max else { return }
        let soft = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.info("open file limit raised from \(soft) to \(limit.rlim_max)")
        } else {
            logger.warning("could not raise the open file limit above \(soft): \(String(cString: strerror(errno)))")
        }
    }
}

/// A failure to start that is not about the flags: printed without the usage text.
struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `127.0.0.1:9644` or `[::1]:9644`, as a URL wants it.
func hostPort(_ address: SocketAddress?) -> String {
    guard let address, let ip = address.ipAddress, let port = address.port else { return "?" }
    return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
}

/// Resolves when SIGTERM or SIGINT arrives.
final class ShutdownSignal: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private var fired = false
    private let lock = NSLock()

    init() {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.fire() }
            source.resume()
            sources.append(source)
        }
    }

    private func fire() {
        let waiting: CheckedContinuation<Void, Never>? = lock.withLock {
            fired = true
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyFired = lock.withLock {
                if !fired { self.continuation = continuation }
                return fired
            }
            if alreadyFired { continuation.resume() }
        }
    }
}

/// SIGHUP reloads TLS material only (certificates, keys, CAs); the rest of the configuration needs a
/// restart. Without TLS it is ignored rather than ending the broker, as SIGHUP's default would.
final class HangupSignal: @unchecked Sendable {
    private let source: any DispatchSourceSignal

    init(_ action: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler(handler: action)
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// Sockets passed by systemd socket activation (sd_listen_fds(3)): descriptors from 3 on, named by
/// LISTEN_FDNAMES, valid only if LISTEN_PID is this process.
enum SystemdSockets {
    /// The first descriptor whose name `matches`; for the first Kafka listener (`first`), else the first
    /// descriptor when it is neither `metrics` nor `claimed` by another listener's name.
    static func listening(matching matches: (String) -> Bool, first: Bool, claimed: (String) -> Bool) -> CInt? {
        let environment = ProcessInfo.processInfo.environment
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int.init), count > 0
        else { return nil }
        let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(
            String.init)
        if let index = names.firstIndex(where: matches), index < count { return CInt(3 + index) }
        // As before named listeners: the first descriptor, unless it is the HTTP one or another listener's.
        if first, !names.contains("metrics"), names.first.map({ !claimed($0) }) ?? true { return 3 }
        return nil
    }

    static func listening(named name: String) -> CInt? {
        let environment = ProcessInfo.processInfo.environment
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
            let count = environment["LISTEN_FDS"].flatMap(Int.init), count > 0
        else { return nil }
        let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(
            String.init)
        // Unnamed sockets (no LISTEN_FDNAMES) are taken as the Kafka listener only.
        guard let index = names.firstIndex(of: name) ?? (name == "kafka" && !names.contains("metrics") ? 0 : nil),
            index < count
        else { return nil }
        return CInt(3 + index)
    }
}
