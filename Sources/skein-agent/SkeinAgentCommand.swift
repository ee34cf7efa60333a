import ArgumentParser
import Logging
import ServiceLifecycle
import SkeinAgent
import SkeinMetrics
import SkeinSystemd
import SkeinTLS
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

@main
struct SkeinAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein-agent",
        abstract: "Ships host metrics and log files to a Skein (or Kafka) broker.",
        discussion: """
            skein-agent [run] [--config FILE] [flags] runs the agent ('skein-agent help run' lists the flags); \
            skein-agent check-config --config FILE validates a configuration. Settings come from defaults, then \
            --config, then SKEIN_BOOTSTRAP, then flags.
            """,
        subcommands: [Run.self, CheckConfig.self], defaultSubcommand: Run.self)
}

/// The settings both subcommands read, so `check-config` validates exactly what `run` would use.
struct AgentOptions: ParsableArguments {
    @Option(help: "Configuration file (TOML; see config/skein-agent.toml).")
    var config: String?

    @Option(help: "Broker address(es) HOST:PORT, comma-separated (default 127.0.0.1:9092 or $SKEIN_BOOTSTRAP).")
    var bootstrap: String?

    @Option(help: "Seconds between host-metrics sample sets (default 15).")
    var interval: Double?

    @Option(help: "Topic for the host-metrics sample sets (default metrics).")
    var topic: String?

    @Option(help: "Record key and host label (default: the machine's host name).")
    var hostName: String?

    @Option(help: "Where /proc is mounted (tests point it at a fixture tree).")
    var procRoot: String?

    @Option(help: "Where /sys is mounted.")
    var sysRoot: String?

    @Option(help: "The agent's /metrics and /health listener, HOST:PORT or off (default 127.0.0.1:9645).")
    var metricsListen: String?

    @Option(help: "State directory, a cache of checkpoint offsets (default /var/lib/skein-agent).")
    var stateDir: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func resolve() throws(ConfigFileError) -> AgentConfiguration {
        var environment: [String: String] = [:]
        for name in ["SKEIN_BOOTSTRAP", "STATE_DIRECTORY"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        let fileText: String?
        do {
            fileText = try config.map { path throws(CollectorError) in try SystemFiles.read(path) }
        } catch {
            throw ConfigFileError(line: 0, message: "cannot read the configuration file: \(error)")
        }
        return try AgentConfiguration.resolve(
            fileText: fileText, environment: environment,
            overrides: .init(
                bootstrap: bootstrap, intervalSeconds: interval, topic: topic, hostName: hostName, procRoot: procRoot,
                sysRoot: sysRoot, metricsListen: metricsListen, stateDirectory: stateDir))
    }
}

extension SkeinAgentCommand {
    struct CheckConfig: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Reads and validates the configuration (file, environment and flags), prints a summary.",
            discussion: "Exits 0 when the configuration is valid, 1 with the error and its line when not.")

        @OptionGroup var options: AgentOptions

        func run() async throws {
            guard let path = options.config else { throw ValidationError("check-config needs --config FILE") }
            do {
                let configuration = try options.resolve()
                try configuration.checkSomeSourceIsEnabled()
                try SystemFiles.writeAll(Array("\(path): OK\n\(configuration.summary)".utf8))
            } catch {
                try? SystemFiles.writeAll(Array("skein-agent: \(path): \(error)\n".utf8), to: STDERR_FILENO)
                throw ExitCode(1)
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Runs the agent (the default when no subcommand is given).")

        @OptionGroup var options: AgentOptions

        @Flag(help: "Print one sample set (the record value, JSON) to stdout and exit; no broker needed.")
        var once = false

        func run() async throws {
            guard let level = Logger.Level(rawValue: options.logLevel) else {
                throw ValidationError("unknown --log-level \(options.logLevel)")
            }
            let configuration: AgentConfiguration
            do {
                configuration = try options.resolve()
            } catch {
                throw ValidationError("\(options.config ?? "configuration"): \(error)")
            }

            let sampler = configuration.makeSampler()
            if once {
                var output = sampler.sample().encodedJSON()
                output.append(UInt8(ascii: "\n"))
                try SystemFiles.writeAll(output)
                return
            }

            // Under systemd with stderr on the journal, lines carry their priority (`journalctl -p warning`).
            let journal = JournalLogHandler.standardErrorIsJournal()
            LoggingSystem.bootstrap { label in
                if journal {
                    var handler = JournalLogHandler(label: label)
                    handler.logLevel = level
                    return handler
                }
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "skein-agent")
            let registry = MetricsRegistry()
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
            if configuration.hostMetrics.enabled {
                services.append(.init(service: configuration.makeHostMetricsService(logger: logger)))
            }
            // Trapped before anything is listening, so a SIGHUP that comes early reloads rather than kills.
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            // Always there, even with no log source yet: a reload can add the first one.
            let options = self.options
            let shipping = ReloadingLogShipping(
                initial: configuration, path: options.config ?? "configuration", hangups: hangups,
                resolve: { () throws(ConfigFileError) in try options.resolve() }, registry: registry, logger: logger)
            services.append(.init(service: shipping))
            guard
                configuration.hostMetrics.enabled || !configuration.files.isEmpty || !configuration.journald.isEmpty
                    || !configuration.syslog.isEmpty
            else {
                throw ValidationError(
                    "no source is enabled: [sources.host_metrics] enabled = false and no [sources.files.*] table")
            }
            if let address = configuration.metricsListen {
                var tls: TLSServerSettings?
                if let certificate = configuration.metricsCertificateLocation {
                    var settings = TLSServerSettings()
                    settings.certificateLocation = certificate
                    settings.keyLocation = configuration.metricsKeyLocation
                    tls = settings
                }
                let http = try await AgentHTTPService.start(
                    registry: registry, address: address, logger: logger, tls: tls,
                    basicAuthUsersFile: configuration.metricsBasicAuthUsersFile)
                // First in the group: a ServiceGroup stops its services in reverse order, so the listener
                // stops after the sources and delivery, and the final scrape sees them.
                services.insert(.init(service: http), at: 0)
            }
            // Last in the group, so the first told at shutdown: STOPPING=1 as soon as the signal arrives.
            services.append(
                .init(
                    service: NotifyService(
                        status: ReloadingLogShipping.status(configuration),
                        waiting: "waiting for the broker at \(configuration.bootstrapServers.joined(separator: ","))",
                        shipping: shipping.current)))
            let group = ServiceGroup(
                configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}

/// The agent's sd_notify. READY=1 once log delivery has reached the broker and its sources run (at once for
/// a host-metrics-only agent); when the broker does not answer within `readyWait`, READY=1 anyway with a STATUS
/// saying the agent waits for it (it buffers nothing yet and keeps retrying), so a broker that starts later
/// does not fail the agent's start, and STATUS names the sources once it answers. STOPPING=1 at the shutdown
/// signal; WATCHDOG=1 only while the delivery path makes progress (its actor answers and no attempt is stuck).
struct NotifyService: Service {
    static let readyWait: Duration = .seconds(5)
    let status: String
    let waiting: String
    let shipping: ReloadingLogShipping.Current

    func run() async throws {
        let notifier = ServiceNotifier.shared
        let shipping = self.shipping
        let watchdog = ServiceWatchdog.start {
            await Task.yield()
            return await shipping.isProgressing()
        }
        let (status, waiting) = (self.status, self.waiting)
        await withTaskGroup(of: Void.self) { outer in
            outer.addTask {
                await withTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        var starts = shipping.started.makeAsyncIterator()
                        return await starts.next() != nil
                    }
                    group.addTask {
                        try? await Task.sleep(for: Self.readyWait)
                        return false
                    }
                    guard let first = await group.next(), !Task.isCancelled else { return }
                    if first {
                        group.cancelAll()
                        notifier.ready(status: status)
                        return
                    }
                    notifier.ready(status: "\(waiting); \(status)")
                    if await group.next() == true, !Task.isCancelled { notifier.status(status) }
                }
            }
            try? await gracefulShutdown()
            outer.cancelAll()
        }
        watchdog?.cancel()
        notifier.stopping(status: "shutting down: delivering what is buffered")
    }
}
