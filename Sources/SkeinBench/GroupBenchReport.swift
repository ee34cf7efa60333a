import Foundation
import NIOCore
import SkeinProtocol

/// The outcome of `skein bench group`: rebalance times per group size and OffsetCommit
/// throughput, printed as a table or as one JSON object with snake_case keys like `BenchReport`.
public struct GroupBenchReport: Codable, Sendable {
    public struct RebalanceResult: Codable, Sendable {
        public var members: Int
        public var groupId: String
        /// Every round in order; round 1 is the initial join of the empty group.
        public var roundsMs: [Double] = []
        public var minMs: Double?
        public var medianMs: Double?
        public var maxMs: Double?
        /// The same over rounds 2 and later only (rejoins of a stable group), which no initial
        /// rebalance delay inflates.
        public var rejoinMinMs: Double?
        public var rejoinMedianMs: Double?
        public var rejoinMaxMs: Double?
        /// The generation each round ended in.
        public var generations: [Int32] = []
        /// JoinGroup requests over all rounds and members (MEMBER_ID_REQUIRED and rejoins included).
        public var joinRequests = 0
        /// Heartbeats followers sent before they saw a rejoin round start.
        public var heartbeatProbes = 0
        /// Whether the broker answered MEMBER_ID_REQUIRED (KIP-394) to a first JoinGroup.
        public var memberIdRequired = false
        public var failure: String?

        init(members: Int, groupId: String) {
            self.members = members
            self.groupId = groupId
        }

        mutating func summarize() {
            (minMs, medianMs, maxMs) = Self.spread(roundsMs)
            (rejoinMinMs, rejoinMedianMs, rejoinMaxMs) = Self.spread(Array(roundsMs.dropFirst()))
        }

        /// Minimum, median (mean of the middle two for an even count) and maximum.
        static func spread(_ values: [Double]) -> (Double?, Double?, Double?) {
            guard !values.isEmpty else { return (nil, nil, nil) }
            let sorted = values.sorted()
            let middle = sorted.count / 2
            let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
            return (sorted.first, median, sorted.last)
        }
    }

    public struct CommitResult: Codable, Sendable {
        public var committers: Int
        /// Committers that got at least one partition (the rest only heartbeat).
        public var activeCommitters = 0
        public var groupId: String
        /// The commit group's own join, first JoinGroup to last SyncGroup.
        public var joinMs = 0.0
        public var elapsedSeconds = 0.0
        /// OffsetCommit requests answered.
        public var requests = 0
        /// Partition offsets committed without error (each request commits all of a member's).
        public var partitionsCommitted = 0
        public var requestsPerSecond = 0.0
        public var partitionsPerSecond = 0.0
        /// Request written to response read, OffsetCommit only.
        public var latencyMs = LatencySummary(LatencyHistogram())
        public var heartbeats = 0
        /// Whether OffsetFetch returned, for every partition, the last offset acknowledged; nil
        /// when errors made the check pointless.
        public var offsetsVerified: Bool?

        init(committers: Int, groupId: String) {
            self.committers = committers
            self.groupId = groupId
        }

        mutating func record(_ stats: CommitStats, elapsed: TimeAmount) {
            elapsedSeconds = Double(elapsed.nanoseconds) / 1e9
            requests = stats.requests
            partitionsCommitted = stats.partitionsCommitted
            let seconds = max(elapsedSeconds, 1e-9)
            requestsPerSecond = Double(requests) / seconds
            partitionsPerSecond = Double(partitionsCommitted) / seconds
            latencyMs = LatencySummary(stats.latency)
            heartbeats = stats.heartbeats
        }
    }

    public struct ErrorCount: Codable, Sendable, Equatable {
        public var api: String
        public var code: Int16
        public var name: String
        public var count: Int
    }

    /// "group".
    public var mode = "group"
    public var bootstrap: String
    /// Where FindCoordinator sent the members.
    public var coordinator = ""
    public var topic: String
    public var partitions: Int
    public var apiVersions: GroupVersions
    public var settings: [String: String]
    public var roundTrigger = GroupBenchmark.roundTrigger
    public var rebalance: [RebalanceResult] = []
    public var commits: CommitResult?
    public var errors: [ErrorCount] = []
    public var failures: [String] = []
    public var succeeded = false

    private var errorCounts: [ApiError: Int] = [:]

    private enum CodingKeys: String, CodingKey {
        case mode, bootstrap, coordinator, topic, partitions, apiVersions, settings, roundTrigger, rebalance, commits
        case errors, failures, succeeded
    }

    init(bootstrap: String, topic: String, partitions: Int, versions: GroupVersions, settings: [String: String]) {
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.apiVersions = versions
        self.settings = settings
    }

    mutating func count(_ error: ApiError, times: Int = 1) {
        errorCounts[error, default: 0] += times
    }

    /// Counts a failed group request by API and code; other errors are failures already.
    mutating func count(_ error: Error) {
        if let failed = error as? GroupRequestFailed {
            count(ApiError(api: failed.api, code: failed.code.rawValue))
        }
    }

    mutating func finish() {
        errors = errorCounts.sorted { ($0.key.api.rawValue, $0.key.code) < ($1.key.api.rawValue, $1.key.code) }.map {
            ErrorCount(
                api: $0.key.api.description, code: $0.key.code,
                name: ErrorCode(rawValue: $0.key.code).map { "\($0)" } ?? "unknown", count: $0.value)
        }
        succeeded = errors.isEmpty && failures.isEmpty && commits?.offsetsVerified != false
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    public func table() -> String {
        var lines: [String] = []
        lines.append(
            "skein bench group: \(topic) on \(bootstrap) (coordinator \(coordinator.isEmpty ? "?" : coordinator)), "
                + "\(partitions) partition\(partitions == 1 ? "" : "s")")
        lines.append(
            "  JoinGroup v\(apiVersions.joinGroup) SyncGroup v\(apiVersions.syncGroup) Heartbeat v\(apiVersions.heartbeat) "
                + "OffsetCommit v\(apiVersions.offsetCommit) OffsetFetch v\(apiVersions.offsetFetch) "
                + "LeaveGroup v\(apiVersions.leaveGroup)")
        lines.append("  " + settings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        if !rebalance.isEmpty {
            lines.append("")
            lines.append("rebalance time (ms, first JoinGroup written → every member's SyncGroup answered)")
            lines.append("  \(roundTrigger)")
            lines.append(
                "  "
                    + ["members", "min", "median", "max", "rejoin median", "rounds"].enumerated().map {
                        $0.offset == 5 ? "  " + $0.element : leftPad($0.element, $0.offset == 4 ? 14 : 9)
                    }.joined())
            for result in rebalance {
                var row = "  " + leftPad("\(result.members)", 9)
                for value in [result.minMs, result.medianMs, result.maxMs] { row += leftPad(format(value, 1), 9) }
                row += leftPad(format(result.rejoinMedianMs, 1), 14)
                row += "  " + result.roundsMs.map { format($0, 1) }.joined(separator: " ")
                if result.memberIdRequired { row += "  (MEMBER_ID_REQUIRED)" }
                lines.append(row)
                if let failure = result.failure { lines.append("           failed: \(failure)") }
            }
        }
        if let commits {
            lines.append("")
            lines.append(
                "commits: \(commits.committers) committer\(commits.committers == 1 ? "" : "s") "
                    + "(\(commits.activeCommitters) with partitions), joined in \(format(commits.joinMs, 1)) ms, "
                    + "\(format(commits.elapsedSeconds, 2)) s")
            lines.append(
                row("requests", grouped(commits.requests), format(commits.requestsPerSecond, 0) + " requests/s"))
            lines.append(
                row(
                    "partitions", grouped(commits.partitionsCommitted),
                    format(commits.partitionsPerSecond, 0) + " commits/s"))
            lines.append(row("heartbeats", grouped(commits.heartbeats)))
            let latency = commits.latencyMs
            lines.append("latency (ms, OffsetCommit written → answered, \(grouped(Int(latency.count))) samples)")
            lines.append(
                [
                    ("p50", latency.p50), ("p90", latency.p90), ("p99", latency.p99), ("p99.9", latency.p999),
                    ("max", latency.max), ("mean", latency.mean),
                ]
                .map { "  \($0.0) " + format($0.1, 3) }.joined())
            lines.append(
                "offsets read back with OffsetFetch: "
                    + (commits.offsetsVerified.map { $0 ? "match" : "MISMATCH" } ?? "not checked"))
        }
        lines.append("")
        if errors.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors:")
            for error in errors {
                lines.append("  \(error.api) \(error.name) (\(error.code)): \(grouped(error.count))")
            }
        }
        for failure in failures { lines.append("failure: \(failure)") }
        return lines.joined(separator: "\n")
    }

    private func row(_ label: String, _ value: String, _ rate: String = "") -> String {
        label.padding(toLength: 11, withPad: " ", startingAt: 0) + leftPad(value, 17) + "   " + rate
    }

    private func leftPad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private func format(_ value: Double?, _ decimals: Int) -> String {
        value.map { String(format: "%.\(decimals)f", $0) } ?? "-"
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
