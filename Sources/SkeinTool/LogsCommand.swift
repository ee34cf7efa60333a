import ArgumentParser
import Foundation
import SkeinClient

public struct LogsCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show log records like journalctl, with filters.",
        discussion: """
            Reads JSON log records (fields timestamp, host, source, unit, severity, message; see the README's
            "Log records") and prints them as `time host unit[severity]: message`. --since starts at the
            broker's time index position for that time, so it does not read the topic from the beginning.
            Severity filters keep the given level and everything more severe (journalctl -p).

            Examples:
              skein logs --since 5m --severity warning
              skein logs -t logs --since '2026-11-22 09:00' --until '2026-11-22 10:00' --unit nginx
              skein logs --host web-1 --grep 'timeout|refused' --follow
              skein logs --field pid=4242 -o json
            """)

    @OptionGroup public var connection: ConnectionOptions
    @Option(name: [.short, .long], help: "Log topic.")
    public var topic: String = "logs"
    @Option(
        name: [.customShort("S"), .long], help: "Only records at or after this time (10m, 2h, 2026-11-22T10:00:00Z, …)."
    )
    public var since: String?
    @Option(name: [.customShort("U"), .long], help: "Only records at or before this time.")
    public var until: String?
    @Option(help: "Only records from this host (repeatable).")
    public var host: [String] = []
    @Option(name: [.short, .long], help: "Only records of this unit; 'nginx' matches nginx.service (repeatable).")
    public var unit: [String] = []
    @Option(
        name: [.customShort("p"), .long],
        help: "Only this severity and more severe: emerg alert crit err warning notice info debug, or 0-7.")
    public var severity: String?
    @Option(name: [.short, .long], help: "Only records whose message matches this regular expression.")
    public var grep: String?
    @Option(help: "Only records whose field KEY has VALUE, as key=value (repeatable).")
    public var field: [String] = []
    @Flag(name: [.short, .long], help: "Keep printing new records until interrupted.")
    public var follow = false
    @Option(name: [.customShort("n"), .long], help: "Stop after printing this many records.")
    public var max: Int?
    @Option(name: [.short, .long], help: "Output: short, short-iso, json (the stored value) or cat (message only).")
    public var output: LogRenderer.Style = .short
    @Flag(help: "Show times in UTC instead of local time.")
    public var utc = false
    @Option(help: "Colour severities: auto (on a terminal), always or never.")
    public var color: String = "auto"
    @Flag(help: "Print how many records were read and where each partition started, on stderr.")
    public var stats = false
    @Option(
        name: [.customLong("isolation-level"), .customLong("isolation")],
        help: "read_committed (default: committed transactions only) or read_uncommitted (also open and aborted ones).")
    public var isolationLevel: IsolationLevel = .readCommitted

    /// How much later than its own time an entry may be stored and still count for `--until`.
    static let lateArrivalMs: Int64 = 15 * 60 * 1000

    public init() {}

    public func validate() throws {
        if let severity, Severity(parsing: severity) == nil {
            throw ValidationError(
                "unknown severity '\(severity)': use emerg, alert, crit, err, warning, notice, info, debug or 0-7")
        }
        if let grep { try validating { () throws(ToolError) in try LogFilter.validate(regex: grep) } }
        for item in field { _ = try validating { () throws(ToolError) in try keyValue(item, what: "--field") } }
        if let since { _ = try validating { () throws(ToolError) in try TimeExpression.parse(since) } }
        if let until { _ = try validating { () throws(ToolError) in try TimeExpression.parse(until) } }
        if follow, until != nil { throw ValidationError("--follow and --until cannot be combined") }
        guard ["auto", "always", "never"].contains(color) else {
            throw ValidationError("--color must be auto, always or never")
        }
        if let max, max <= 0 { throw ValidationError("--max must be positive") }
    }

    public func run() async throws {
        let options = self
        try await connection.run { try await options.show() }
    }

    private func show() async throws {
        var filter = LogFilter()
        filter.since = try since.map { try TimeExpression.parse($0) }
        filter.until = try until.map { try TimeExpression.parse($0) }
        filter.hosts = host
        filter.units = unit
        filter.severity = severity.flatMap(Severity.init(parsing:))
        filter.grep = grep
        filter.fields = try field.map { try keyValue($0, what: "--field") }
        let sink = OutputSink()
        let colour =
            color == "always"
            || (color == "auto" && sink.isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
        let renderer = LogRenderer(style: output, colour: colour, utc: utc)
        let progress = ProgressLine(label: "read")
        var request = ReadRequest(topic: topic)
        request.since = filter.since
        // The broker finds offsets by record time, but entries are filtered by their own time, which may be
        // earlier when an agent ships a backlog: read on past --until for entries that arrived late.
        request.until = filter.until.map { $0.addingReportingOverflow(Self.lateArrivalMs).partialValue }
        request.follow = follow
        request.start = follow && filter.since == nil ? .end : .beginning
        request.orderByTime = true
        var printed = 0
        var scanned = 0
        let limit = max ?? .max
        let reader = RecordReader(
            bootstrap: connection.servers, logger: connection.logger, security: try connection.security())
        var configuration = ConsumerConfiguration()
        configuration.clientId = "skein-logs"
        configuration.isolationLevel = isolationLevel
        defer {
            sink.flush()
            progress.finish()
        }
        let summary = try await reader.read(request, configuration: configuration) { records in
            for record in records {
                scanned += 1
                // An agent's checkpoint records (its positions, for its own recovery) are not log entries.
                if record.headers.contains(where: { $0.key == "skein.checkpoint" }) { continue }
                let entry = LogEntry(record: record)
                guard filter.matches(entry) else { continue }
                sink.write(renderer.line(for: entry, record: record))
                sink.write(byte: 0x0A)
                printed += 1
                if printed >= limit { return false }
            }
            if follow { sink.flush() }
            progress.update(records: scanned, bytes: sink.bytesWritten)
            return true
        }
        sink.flush()
        if stats { ConsumeCommand.report(summary, printed: printed) }
    }
}
