import ArgumentParser
import Logging
import ServiceLifecycle
import SkeinAgent

#if canImport(Glibc)
    import Glibc
#endif

@main
struct SkeinAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein-agent",
        abstract: "Samples host metrics from /proc and /sys and produces them to a Skein (or Kafka) topic.",
        discussion: "Settings come from defaults, then --config, then SKEIN_BOOTSTRAP, then flags.")

    @Option(help: "Configuration file ([agent] and [sources.host_metrics] sections, TOML subset).")
    var config: String?

    @Option(help: "Broker address(es) HOST:PORT, comma-separated (default 127.0.0.1:9092 or $SKEIN_BOOTSTRAP).")
    var bootstrap: String?

    @Option(help: "Seconds between sample sets (default 15).")
    var interval: Double?

    @Option(help: "Topic for the sample sets (default metrics).")
    var topic: String?

    @Option(help: "Record key and host label (default: the machine's host name).")
    var hostName: String?

    @Flag(help: "Print one sample set (the record value, JSON) to stdout and exit; no broker needed.")
    var once = false

    @Option(help: "Where /proc is mounted (tests point it at a fixture tree).")
    var procRoot: String?

    @Option(help: "Where /sys is mounted.")
    var sysRoot: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown --log-level \(logLevel)")
        }
        var environment: [String: String] = [:]
        if let bootstrap = getenv("SKEIN_BOOTSTRAP") { environment["SKEIN_BOOTSTRAP"] = String(cString: bootstrap) }
        let configuration: AgentConfiguration
        do {
            let fileText = try config.map { path throws(CollectorError) in try SystemFiles.read(path) }
            configuration = try AgentConfiguration.resolve(
                fileText: fileText, environment: environment,
                overrides: .init(
                    bootstrap: bootstrap, intervalSeconds: interval, topic: topic, hostName: hostName,
                    procRoot: procRoot, sysRoot: sysRoot))
        } catch let error as ConfigFileError {
            throw ValidationError("\(config ?? "configuration"): \(error)")
        } catch let error as CollectorError {
            throw ValidationError("cannot read --config: \(error)")
        }

        let sampler = configuration.makeSampler()
        if once {
            var output = sampler.sample().encodedJSON()
            output.append(UInt8(ascii: "\n"))
            try SystemFiles.writeAll(output)
            return
        }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "skein-agent")
        guard configuration.hostMetrics.enabled else {
            throw ValidationError("no source is enabled ([sources.host_metrics] enabled = false)")
        }
        let shipper = RecordShipper(
            settings: .init(
                bootstrapServers: configuration.bootstrapServers, topic: configuration.hostMetrics.topic,
                clientId: configuration.clientId, capacity: configuration.bufferRecords,
                compression: configuration.hostMetrics.compression),
            logger: logger)
        let service = HostMetricsService(
            sampler: sampler, shipper: shipper, shutdownFlush: .seconds(configuration.shutdownFlushSeconds),
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
