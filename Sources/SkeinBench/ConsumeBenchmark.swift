import NIOCore
import NIOPosix
import SkeinClient
import SkeinProtocol

public struct ConsumeBenchConfig: Sendable {
    public enum StartPosition: Sendable, Equatable {
        case beginning
        case end
        case offset(Int64)
    }

    public var bootstrap = "127.0.0.1:9092"
    /// `security.protocol` and `ssl.*` (`-X`), for measuring TLS listeners.
    public var security = ClientSecurity()
    public var topic: String
    public var from = StartPosition.beginning
    /// Per-partition and per-request cap on a Fetch answer.
    public var maxBytes = 1024 * 1024
    /// Keep fetching past the end offsets seen at start (new data) until the duration or record
    /// limit; otherwise a partition stops once it has read what was there at start.
    public var follow = false
    public var connections = 4
    public var duration: Duration?
    public var records: Int?
    public var verifyCRC = false
    public var maxWaitMs: Int32 = 500
    /// Fetch's isolation level: 0 read_uncommitted, 1 read_committed (stops at the last stable offset and
    /// gets the aborted transactions of the range; the bench counts every batch it is sent either way).
    public var isolationLevel: Int8 = 0

    public init(topic: String) {
        self.topic = topic
    }
}

public enum ConsumeBenchmark {
    public static func run(_ config: ConsumeBenchConfig, notice: @Sendable (String) -> Void = { _ in }) async throws
        -> BenchReport
    {
        guard config.connections > 0 else { throw BenchError("--connections must be positive") }
        guard config.maxBytes > 0, config.maxBytes <= Int(Int32.max) else {
            throw BenchError("--max-bytes must be between 1 and \(Int32.max)")
        }
        if config.follow, config.duration == nil, config.records == nil {
            throw BenchError("--follow needs --duration or --records")
        }
        let (host, port) = try parseHostPort(config.bootstrap)
        return try await withBenchEventLoopGroup(connections: config.connections) { group in
            try await run(config, host: host, port: port, group: group, notice: notice)
        }
    }

    private static func run(
        _ config: ConsumeBenchConfig, host: String, port: Int, group: EventLoopGroup,
        notice: @Sendable (String) -> Void
    ) async throws -> BenchReport {
        let tls = try BenchTLS(config.security)
        let setup = try await SetupClient.connect(host: host, port: port, group: group, tls: tls)
        let cursors: [FetchLoadPlan.Cursor]
        let fetchVersion: Int16
        do {
            let versions = try NegotiatedVersions(try await setup.apiVersions())
            fetchVersion = try versions.version(of: .fetch, minimum: 4)
            let (code, layout) = try await setup.describeTopic(config.topic, versions: versions)
            guard code == .noError, !layout.partitions.isEmpty else {
                throw BenchError("topic \(config.topic): \(code) (\(code.rawValue))")
            }
            let earliest = try await setup.listOffsets(
                config.topic, partitions: layout.partitions, timestamp: ListOffsetsRequest.earliestTimestamp,
                versions: versions)
            let latest = try await setup.listOffsets(
                config.topic, partitions: layout.partitions, timestamp: ListOffsetsRequest.latestTimestamp,
                versions: versions)
            cursors = layout.partitions.map { partition in
                let start: Int64
                switch config.from {
                case .beginning: start = earliest[partition]!
                case .end: start = latest[partition]!
                case .offset(let offset): start = max(offset, earliest[partition]!)
                }
                return FetchLoadPlan.Cursor(
                    partition: partition, nextOffset: start, endOffset: config.follow ? nil : latest[partition]!)
            }
        } catch {
            await setup.close()
            throw error
        }
        await setup.close()

        let connectionCount = min(config.connections, cursors.count)
        let duration = config.duration ?? (config.records == nil ? .seconds(10) : nil)
        let budget = config.records.map(SharedBudget.init)
        let backlog = cursors.reduce(Int64(0)) { $0 + max(0, ($1.endOffset ?? $1.nextOffset) - $1.nextOffset) }
        let maxBytes = Int32(config.maxBytes)
        let topic = config.topic
        let verifyCRC = config.verifyCRC
        let maxWaitMs = config.maxWaitMs
        let isolationLevel = config.isolationLevel
        let connections = try await LoadConnections.connect(
            count: connectionCount, host: host, port: port, group: group, tls: tls
        ) { index, result in
            FetchLoadHandler(
                plan: FetchLoadPlan(
                    topic: topic,
                    cursors: stride(from: index, to: cursors.count, by: connectionCount).map { cursors[$0] },
                    connectionIndex: index, apiVersion: fetchVersion, maxBytes: maxBytes, maxWaitMs: maxWaitMs,
                    isolationLevel: isolationLevel, verifyCRC: verifyCRC, budget: budget),
                result: result)
        }
        notice(
            "fetching \(config.topic) (\(cursors.count) partitions, "
                + (config.follow ? "following new data" : "\(backlog) records to the end")
                + ") over \(connectionCount) connections"
                + (duration.map { " for at most \($0.seconds) s" } ?? ""))
        let (stats, startedAt) = await LoadConnections.run(connections, duration: duration)

        var settings = [
            "from": "\(config.from)", "max_bytes": "\(config.maxBytes)", "follow": "\(config.follow)",
            "verify_crc": "\(config.verifyCRC)",
            "isolation_level": config.isolationLevel == 1 ? "read_committed" : "read_uncommitted",
        ]
        if let duration { settings["duration_s"] = "\(duration.seconds)" }
        if let records = config.records { settings["records_limit"] = "\(records)" }
        return BenchReport(
            mode: "consume", bootstrap: config.bootstrap, topic: config.topic, apiVersion: fetchVersion,
            partitions: cursors.count, connections: connectionCount, settings: settings, stats: stats,
            elapsedSeconds: Double((stats.finishedAt - startedAt).nanoseconds) / 1e9, latencyMeasuredTo: "response")
    }
}
