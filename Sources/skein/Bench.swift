import ArgumentParser
import Foundation
import SkeinBench
import SkeinClient

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load generator: pre-encoded batches, throughput and latency percentiles.",
        discussion: """
            Examples:
              skein bench produce --topic load --records 1000000 --record-size 100
              skein bench consume --topic load
              skein bench group --members 1,10,50
            """,
        subcommands: [BenchProduce.self, BenchConsume.self, BenchGroup.self])
}

/// Flags both benchmarks share.
struct BenchCommonOptions: ParsableArguments {
    @Option(help: "Broker address, host:port (default $SKEIN_BOOTSTRAP, else 127.0.0.1:9092).")
    var bootstrap = ProcessInfo.processInfo.environment["SKEIN_BOOTSTRAP"] ?? "127.0.0.1:9092"

    @Option(help: "Topic to use.")
    var topic: String

    @Option(help: "Parallel connections.")
    var connections = 4

    @Option(
        help: "Stop after this long, e.g. 10s, 500ms, 2m. Default 10s unless --records is given.",
        transform: { try BenchArguments.duration($0) })
    var duration: Duration?

    @Option(help: "Stop after this many records.")
    var records: Int?

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "A client setting NAME=VALUE (security.protocol, ssl.ca.location, ...).", valueName: "name=value"))
    var clientSettings: [String] = []

    func security() throws -> ClientSecurity {
        var security = ClientSecurity()
        for setting in clientSettings {
            guard let equals = setting.firstIndex(of: "=") else { throw ValidationError("-X expects name=value") }
            try security.apply(String(setting[..<equals]), String(setting[setting.index(after: equals)...]))
        }
        return security
    }

    func validate() throws {
        if let records, records <= 0 { throw ValidationError("--records must be positive") }
        guard connections > 0 else { throw ValidationError("--connections must be positive") }
    }

    var notice: @Sendable (String) -> Void {
        // Progress is for people watching a terminal, not for logs and pipes.
        if quiet || isatty(2) == 0 { return { _ in } }
        return { line in FileHandle.standardError.write(Data("skein bench: \(line)\n".utf8)) }
    }

    /// Prints the report; a run with Kafka error codes or failed connections exits non-zero.
    func finish(_ report: BenchReport) throws {
        print(json ? try report.json() : report.table())
        if !report.succeeded { throw ExitCode(1) }
    }
}

struct BenchProduce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Pipeline Produce requests of pre-encoded batches over several connections.",
        discussion: "Example:\n  skein bench produce --topic load --duration 30s --acks all --connections 8")

    @OptionGroup var common: BenchCommonOptions

    @Option(help: "Partitions when the topic must be created (default: the broker's default).")
    var partitions: Int?

    @Option(
        help: "Value bytes per record, e.g. 100 or 1KiB. (default: 100)",
        transform: { try BenchArguments.byteCount($0) })
    var recordSize = 100

    @Option(help: "Records per batch (one batch per request).")
    var batchRecords = 1000

    // Unconditional, so "--acks -1" is not mistaken for a flag.
    @Option(
        parsing: .unconditional, help: "0 (no response), 1 (leader) or -1/all (fsync on skeind).",
        transform: { text in
            switch text {
            case "0": return Int16(0)
            case "1": return Int16(1)
            case "-1", "all": return Int16(-1)
            default: throw ValidationError("--acks must be 0, 1, -1 or all")
            }
        })
    var acks: Int16 = 1

    @Option(help: "Requests outstanding per connection.")
    var inFlight = 5

    @Option(help: "Only 'none': batches are sent uncompressed.")
    var compression = "none"

    func validate() throws {
        guard compression == "none" else {
            throw ValidationError("--compression: only 'none' is supported by the load generator")
        }
        guard batchRecords > 0, inFlight > 0 else {
            throw ValidationError("--batch-records and --in-flight must be positive")
        }
        if let partitions, partitions <= 0 { throw ValidationError("--partitions must be positive") }
    }

    func run() async throws {
        var config = ProduceBenchConfig(topic: common.topic)
        config.bootstrap = common.bootstrap
        config.security = try common.security()
        config.partitions = partitions
        config.recordSize = recordSize
        config.batchRecords = batchRecords
        config.acks = acks
        config.connections = common.connections
        config.inFlight = inFlight
        config.duration = common.duration
        config.records = common.records
        try common.finish(try await ProduceBenchmark.run(config, notice: common.notice))
    }
}

struct BenchConsume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Fetch every partition from a start offset to the end (or --follow new data).",
        discussion: "Example:\n  skein bench consume --topic load --connections 4")

    @OptionGroup var common: BenchCommonOptions

    @Option(help: "beginning, end, or an offset.")
    var from = "beginning"

    @Option(
        help: "Fetch size cap per request, e.g. 1MiB. (default: 1MiB)", transform: { try BenchArguments.byteCount($0) })
    var maxBytes = 1024 * 1024

    @Flag(help: "Keep fetching new data after reaching the end (needs --duration or --records).")
    var follow = false

    @Flag(help: "Check every batch's CRC-32C.")
    var verifyCrc = false

    @Option(help: "read_uncommitted, or read_committed: stop at the last stable offset, as a transactional consumer.")
    var isolationLevel = "read_uncommitted"

    func validate() throws {
        _ = try startPosition()
        guard ["read_uncommitted", "read_committed"].contains(isolationLevel) else {
            throw ValidationError("--isolation-level must be read_uncommitted or read_committed")
        }
        guard maxBytes > 0, maxBytes <= Int(Int32.max) else { throw ValidationError("--max-bytes is out of range") }
    }

    func startPosition() throws -> ConsumeBenchConfig.StartPosition {
        switch from {
        case "beginning", "earliest": return .beginning
        case "end", "latest": return .end
        default:
            guard let offset = Int64(from), offset >= 0 else {
                throw ValidationError("--from must be beginning, end or an offset")
            }
            return .offset(offset)
        }
    }

    func run() async throws {
        var config = ConsumeBenchConfig(topic: common.topic)
        config.bootstrap = common.bootstrap
        config.security = try common.security()
        config.from = try startPosition()
        config.maxBytes = maxBytes
        config.follow = follow
        config.connections = common.connections
        config.duration = common.duration
        config.records = common.records
        config.verifyCRC = verifyCrc
        config.isolationLevel = isolationLevel == "read_committed" ? 1 : 0
        try common.finish(try await ConsumeBenchmark.run(config, notice: common.notice))
    }
}
