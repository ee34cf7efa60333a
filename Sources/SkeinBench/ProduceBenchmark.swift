import Foundation
import NIOCore
import NIOPosix
import SkeinClient
import SkeinProtocol

public struct ProduceBenchConfig: Sendable {
    public var bootstrap = "127.0.0.1:9092"
    /// `security.protocol` and `ssl.*` (`-X`), for measuring TLS listeners.
    public var security = ClientSecurity()
    public var topic: String
    /// Partitions to create the topic with when it does not exist (nil: the broker's default).
    public var partitions: Int?
    public var recordSize = 100
    public var batchRecords = 1000
    public var acks: Int16 = 1
    public var connections = 4
    public var inFlight = 5
    public var duration: Duration?
    /// Records to send, rounded up to whole batches.
    public var records: Int?
    public var timeoutMs: Int32 = 30_000
    /// Distinct batches to cycle through; fewer are built when partitions × variants would hold
    /// more than `templateMemoryLimit` bytes of frames.
    public var variants = 4
    public var templateMemoryLimit = 256 * 1024 * 1024

    public init(topic: String) {
        self.topic = topic
    }
}

public enum ProduceBenchmark {
    /// Runs the benchmark; `notice` receives progress lines meant for stderr.
    public static func run(_ config: ProduceBenchConfig, notice: @Sendable (String) -> Void = { _ in }) async throws
        -> BenchReport
    {
        guard [0, 1, -1].contains(config.acks) else { throw BenchError("--acks must be 0, 1 or -1") }
        guard config.connections > 0, config.inFlight > 0, config.batchRecords > 0, config.recordSize >= 0 else {
            throw BenchError("--connections, --in-flight and --batch-records must be positive")
        }
        let (host, port) = try parseHostPort(config.bootstrap)
        return try await withBenchEventLoopGroup(connections: config.connections) { group in
            try await run(config, host: host, port: port, group: group, notice: notice)
        }
    }

    private static func run(
        _ config: ProduceBenchConfig, host: String, port: Int, group: EventLoopGroup,
        notice: @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let tls = try BenchTLS(config.security)
        let setup = try await SetupClient.connect(host: host, port: port, group: group, tls: tls)
        let versions = try NegotiatedVersions(try await setup.apiVersions())
        // v3 is the first with RecordBatch v2; v9 is the newest the codec and DESIGN.md cover.
        let produceVersion = try versions.version(of: .produce, minimum: 3)
        var (code, layout) = try await setup.describeTopic(config.topic, versions: versions)
        if code == .unknownTopicOrPartition {
            layout = try await setup.createTopic(config.topic, partitions: config.partitions, versions: versions)
            notice("created topic \(config.topic) with \(layout.partitions.count) partitions")
        } else if code != .noError {
            await setup.close()
            throw BenchError("Metadata for \(config.topic): \(code) (\(code.rawValue))")
        } else if let wanted = config.partitions, wanted != layout.partitions.count {
            notice(
                "topic \(config.topic) exists with \(layout.partitions.count) partitions; --partitions \(wanted) ignored"
            )
        }
        await setup.close()
        if layout.brokerCount > 1 {
            notice(
                "warning: \(layout.brokerCount) brokers; all requests go to \(config.bootstrap), leaders elsewhere will refuse"
            )
        }
        guard !layout.partitions.isEmpty else { throw BenchError("topic \(config.topic) has no partitions") }

        let frames = try makeFrames(config, partitions: layout.partitions, version: produceVersion, notice: notice)
        let requestLimit = config.records.map { ($0 + config.batchRecords - 1) / config.batchRecords }
        let duration = config.duration ?? (config.records == nil ? .seconds(10) : nil)
        let budget = requestLimit.map(SharedBudget.init)
        let awaitsResponses = config.acks != 0
        let inFlight = config.inFlight
        let connections = try await LoadConnections.connect(
            count: config.connections, host: host, port: port, group: group, tls: tls
        ) { index, result in
            ProduceLoadHandler(
                plan: ProduceLoadPlan(
                    frames: frames, connectionIndex: index, inFlightLimit: inFlight, apiVersion: produceVersion,
                    awaitsResponses: awaitsResponses, budget: budget),
                result: result)
        }
        notice(
            "producing to \(config.topic) over \(config.connections) connections"
                + (duration.map { " for \($0.seconds) s" } ?? "")
                + (requestLimit.map { ", \($0) requests at most" } ?? ""))
        let (stats, startedAt) = await LoadConnections.run(connections, duration: duration)

        var settings = [
            "acks": "\(config.acks)", "record_size": "\(config.recordSize)", "batch_records": "\(config.batchRecords)",
            "in_flight": "\(config.inFlight)", "compression": "none",
        ]
        if let duration { settings["duration_s"] = "\(duration.seconds)" }
        if let records = config.records { settings["records_limit"] = "\(records)" }
        return BenchReport(
            mode: "produce", bootstrap: config.bootstrap, topic: config.topic, apiVersion: produceVersion,
            partitions: layout.partitions.count, connections: config.connections, settings: settings, stats: stats,
            elapsedSeconds: Double((stats.finishedAt - startedAt).nanoseconds) / 1e9,
            latencyMeasuredTo: awaitsResponses ? "response" : "socket write")
    }

    private static func makeFrames(
        _ config: ProduceBenchConfig, partitions: [Int32], version: Int16, notice: (String) -> Void
    ) throws -> ProduceFrames {
        // Real time, not zero: the broker's time-based retention and indexes read batch timestamps.
        let timestamp = Int64(Date().timeIntervalSince1970 * 1000)
        let probe = try BatchTemplates(
            recordSize: config.recordSize, recordsPerBatch: config.batchRecords, variants: 1, baseTimestamp: timestamp)
        let perVariant = probe.batchBytes * partitions.count
        let variants = max(1, min(config.variants, config.templateMemoryLimit / max(perVariant, 1)))
        let templates =
            variants == 1
            ? probe
            : try BatchTemplates(
                recordSize: config.recordSize, recordsPerBatch: config.batchRecords, variants: variants,
                baseTimestamp: timestamp)
        notice(
            "pre-encoded \(variants) batch\(variants == 1 ? "" : "es") of \(config.batchRecords) × \(config.recordSize) B "
                + "(\(templates.batchBytes) bytes each) for \(partitions.count) partitions, Produce v\(version)")
        return try ProduceFrames(
            templates: templates, topic: config.topic, partitions: partitions, acks: config.acks,
            timeoutMs: config.timeoutMs, version: version, clientId: SetupClient.clientId)
    }
}
