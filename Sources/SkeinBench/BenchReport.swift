import Foundation
import SkeinProtocol

/// The outcome of one run, printed as a table or as one JSON object (snake_case keys) for the
/// tooling behind BENCHMARKS.md.
public struct BenchReport: Codable, Sendable {
    public struct ErrorCount: Codable, Sendable, Equatable {
        public var code: Int16
        public var name: String
        public var count: Int
    }

    /// "produce" or "consume".
    public var mode: String
    public var bootstrap: String
    public var topic: String
    public var apiVersion: Int16
    public var partitions: Int
    public var connections: Int
    /// The knobs of the run (acks, record size, ...), as given.
    public var settings: [String: String]
    public var elapsedSeconds: Double
    public var records: Int
    /// RecordBatch bytes (headers included, request framing not).
    public var bytes: Int
    public var requests: Int
    public var recordsPerSecond: Double
    /// 1 MB = 1,000,000 bytes.
    public var megabytesPerSecond: Double
    public var requestsPerSecond: Double
    public var latencyMs: LatencySummary
    /// What a latency sample spans: "response" (request written to response read) or "socket
    /// write" for acks=0, where the broker sends nothing back.
    public var latencyMeasuredTo: String
    public var errors: [ErrorCount]
    public var failures: [String]
    public var succeeded: Bool

    init(
        mode: String, bootstrap: String, topic: String, apiVersion: Int16, partitions: Int, connections: Int,
        settings: [String: String], stats: ConnectionStats, elapsedSeconds: Double, latencyMeasuredTo: String
    ) {
        self.mode = mode
        self.bootstrap = bootstrap
        self.topic = topic
        self.apiVersion = apiVersion
        self.partitions = partitions
        self.connections = connections
        self.settings = settings
        self.elapsedSeconds = elapsedSeconds
        records = stats.records
        bytes = stats.bytes
        requests = stats.requests
        let seconds = max(elapsedSeconds, 1e-9)
        recordsPerSecond = Double(stats.records) / seconds
        megabytesPerSecond = Double(stats.bytes) / seconds / 1e6
        requestsPerSecond = Double(stats.requests) / seconds
        latencyMs = LatencySummary(stats.latency)
        self.latencyMeasuredTo = latencyMeasuredTo
        errors = stats.errorCodes.sorted { $0.key < $1.key }.map { code, count in
            ErrorCount(code: code, name: ErrorCode(rawValue: code).map { "\($0)" } ?? "unknown", count: count)
        }
        failures = stats.failures
        succeeded = errors.isEmpty && failures.isEmpty
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func table() -> String {
        let api = mode == "produce" ? "Produce" : "Fetch"
        var lines: [String] = []
        lines.append(
            "skein bench \(mode): \(topic) on \(bootstrap), \(partitions) partition\(partitions == 1 ? "" : "s"), "
                + "\(connections) connection\(connections == 1 ? "" : "s"), \(api) v\(apiVersion)")
        if !settings.isEmpty {
            lines.append(
                "  " + settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        lines.append("")
        lines.append(row("elapsed", format(elapsedSeconds, 2) + " s"))
        lines.append(row("records", grouped(records), format(recordsPerSecond, 0) + " records/s"))
        lines.append(row("bytes", grouped(bytes), format(megabytesPerSecond, 1) + " MB/s"))
        lines.append(row("requests", grouped(requests), format(requestsPerSecond, 0) + " requests/s"))
        lines.append("")
        lines.append("latency (ms, to \(latencyMeasuredTo), \(grouped(Int(latencyMs.count))) samples)")
        lines.append(
            [
                ("p50", latencyMs.p50), ("p90", latencyMs.p90), ("p99", latencyMs.p99), ("p99.9", latencyMs.p999),
                ("max", latencyMs.max), ("mean", latencyMs.mean),
            ]
            .map { "  \($0.0) " + format($0.1, 3) }.joined())
        lines.append("")
        if errors.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors:")
            for error in errors { lines.append("  \(error.name) (\(error.code)): \(grouped(error.count))") }
        }
        for failure in failures { lines.append("failure: \(failure)") }
        return lines.joined(separator: "\n")
    }

    private func row(_ label: String, _ value: String, _ rate: String = "") -> String {
        label.padding(toLength: 10, withPad: " ", startingAt: 0) + leftPad(value, 18) + "   " + rate
    }

    private func leftPad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }

    private func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return value < 0 ? "-" + result : result
    }
}
