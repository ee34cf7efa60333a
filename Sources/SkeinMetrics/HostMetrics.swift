import Foundation
import Synchronization

/// One host's sample set as sent by `skein-agent`: record format `skein.host-metrics.v1` (README,
/// "Host metrics records").
public struct HostSampleSet: Sendable, Equatable {
    public var host: String
    public var timestampMs: Int64
    public var intervalSeconds: Double?
    public var families: [HostMetricFamily]

    public static let schema = "skein.host-metrics.v1"
    public static let contentType = "application/vnd.skein.host-metrics.v1+json"
}

public struct HostMetricFamily: Sendable, Equatable {
    public var name: String
    public var type: MetricType
    public var help: String
    public var samples: [HostSample]
}

public struct HostSample: Sendable, Equatable {
    /// Sorted by name; never contains `host`, which the exporter adds.
    public var labels: [(String, String)]
    public var value: Double

    public static func == (lhs: HostSample, rhs: HostSample) -> Bool {
        lhs.value == rhs.value && lhs.labels.elementsEqual(rhs.labels, by: { $0 == $1 })
    }
}

public struct MalformedHostMetrics: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { "malformed host-metrics record: \(reason)" }
}

extension HostSampleSet {
    /// Parses and vets a record value. Anything not exactly the documented shape is refused as a whole, so
    /// a half-understood record never replaces a host's last good sample set.
    public static func parse(_ value: some Collection<UInt8>) throws(MalformedHostMetrics) -> HostSampleSet {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(value))
        } catch {
            throw MalformedHostMetrics(reason: "not a host-metrics JSON object (\(Self.summary(of: error)))")
        }
        guard wire.schema == schema else {
            throw MalformedHostMetrics(reason: "schema is \(wire.schema.debugDescription), expected \(schema)")
        }
        guard !wire.host.isEmpty, wire.host.utf8.count <= 255 else {
            throw MalformedHostMetrics(reason: "host must be 1-255 bytes")
        }
        var seenFamilies = Set<String>()
        var families: [HostMetricFamily] = []
        for family in wire.families {
            guard MetricNames.isValidMetricName(family.name) else {
                throw MalformedHostMetrics(reason: "bad metric name \(family.name.debugDescription)")
            }
            guard seenFamilies.insert(family.name).inserted else {
                throw MalformedHostMetrics(reason: "family \(family.name) appears twice")
            }
            let type: MetricType
            switch family.type {
            case "counter": type = .counter
            case "gauge": type = .gauge
            case "untyped", nil: type = .untyped
            case let other?:
                throw MalformedHostMetrics(
                    reason: "family \(family.name) has unsupported type \(other.debugDescription)")
            }
            var seenLabelSets = Set<[String]>()
            var samples: [HostSample] = []
            for sample in family.samples {
                guard sample.value.isFinite else {
                    throw MalformedHostMetrics(reason: "family \(family.name) has a non-finite value")
                }
                let labels = (sample.labels ?? [:]).filter { $0.key != "host" }.sorted { $0.key < $1.key }
                for (name, _) in labels where !MetricNames.isValidLabelName(name) {
                    throw MalformedHostMetrics(
                        reason: "family \(family.name) has bad label name \(name.debugDescription)")
                }
                guard seenLabelSets.insert(labels.flatMap { [$0.key, $0.value] }).inserted else {
                    throw MalformedHostMetrics(reason: "family \(family.name) repeats a label set")
                }
                samples.append(HostSample(labels: labels.map { ($0.key, $0.value) }, value: sample.value))
            }
            families.append(HostMetricFamily(name: family.name, type: type, help: family.help ?? "", samples: samples))
        }
        // Anything outside 1970…2200 is not a clock reading, and extreme values would overflow the age arithmetic.
        guard (0...7_258_118_400_000).contains(wire.timestamp_ms) else {
            throw MalformedHostMetrics(reason: "timestamp_ms \(wire.timestamp_ms) is not a plausible time")
        }
        return HostSampleSet(
            host: wire.host, timestampMs: wire.timestamp_ms, intervalSeconds: wire.interval_seconds, families: families)
    }

    private static func summary(of error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted: "invalid JSON"
        default: "\(error)"
        }
    }

    private struct Wire: Decodable {
        var schema: String
        var host: String
        var timestamp_ms: Int64
        var interval_seconds: Double?
        var families: [WireFamily]
    }

    private struct WireFamily: Decodable {
        var name: String
        var type: String?
        var help: String?
        var samples: [WireSample]
    }

    private struct WireSample: Decodable {
        var labels: [String: String]?
        var value: Double
    }
}

/// The newest sample set of every host, with a time-to-live: what `/metrics/hosts` serves. Like a
/// Pushgateway group per host, except that a host that stops reporting is dropped after `ttlMs`.
public final class HostMetricsTable: Sendable {
    public let ttlMs: Int64
    private let state = Mutex<[String: Entry]>([:])
    public let recordsTotal = Counter()
    public let malformedTotal = Counter()
    public let expiredTotal = Counter()

    struct Entry {
        var set: HostSampleSet
        var lastSeenMs: Int64
    }

    public init(ttlMs: Int64) {
        self.ttlMs = ttlMs
    }

    /// Parses one record value and keeps it if it is the host's newest; counts it either way.
    @discardableResult
    public func ingest(value: some Collection<UInt8>, nowMs: Int64) -> Result<HostSampleSet, MalformedHostMetrics> {
        recordsTotal.increment()
        do {
            let set = try HostSampleSet.parse(value)
            ingest(set, nowMs: nowMs)
            return .success(set)
        } catch {
            malformedTotal.increment()
            return .failure(error)
        }
    }

    /// A sample set is as old as its own timestamp, but never newer than now: an agent whose clock runs
    /// ahead must not keep its host alive past the TTL.
    public func ingest(_ set: HostSampleSet, nowMs: Int64) {
        let seen = min(set.timestampMs, nowMs)
        guard nowMs.subtractingReportingOverflow(seen).partialValue < ttlMs else { return }
        state.withLock { hosts in
            if let current = hosts[set.host], current.set.timestampMs > set.timestampMs { return }
            hosts[set.host] = Entry(set: set, lastSeenMs: seen)
        }
    }

    /// Drops hosts not heard from within the TTL; returns how many.
    @discardableResult
    public func expire(nowMs: Int64) -> Int {
        let removed = state.withLock { hosts in
            let stale = hosts.filter { nowMs.subtractingReportingOverflow($0.value.lastSeenMs).partialValue >= ttlMs }
                .map(\.key)
            for host in stale { hosts.removeValue(forKey: host) }
            return stale.count
        }
        expiredTotal.increment(by: removed)
        return removed
    }

    public func lastSeen(nowMs: Int64) -> [(host: String, lastSeenMs: Int64)] {
        expire(nowMs: nowMs)
        return state.withLock { $0.map { ($0.key, $0.value.lastSeenMs) } }.sorted { $0.host < $1.host }
    }

    /// The exposition for `/metrics/hosts`: families merged across hosts, each series labelled `host`.
    /// A family's type and help come from the first host (by name) that sends it; another host sending the
    /// same name with a different type is left out of that family, since one name has one type.
    public func render(nowMs: Int64) -> String {
        expire(nowMs: nowMs)
        let sets = state.withLock { $0.values.map(\.set) }.sorted { $0.host < $1.host }
        var order: [String] = []
        var merged: [String: (type: MetricType, help: String, series: [(host: String, sample: HostSample)])] = [:]
        for set in sets {
            for family in set.families {
                if merged[family.name] == nil {
                    order.append(family.name)
                    merged[family.name] = (family.type, family.help, [])
                }
                guard merged[family.name]!.type == family.type else { continue }
                merged[family.name]!.series += family.samples.map { (set.host, $0) }
            }
        }
        var writer = PrometheusTextWriter(capacity: 64 * 1024)
        for name in order.sorted() {
            let family = merged[name]!
            writer.family(name, type: family.type, help: family.help)
            for (host, sample) in family.series {
                writer.sample(name, [("host", host)] + sample.labels, sample.value)
            }
        }
        return writer.output
    }

    /// Bookkeeping metrics for the broker's own `/metrics`.
    public func collector() -> some MetricsCollector {
        CollectorFunction { [self] writer in
            let seen = lastSeen(nowMs: Int64(Date().timeIntervalSince1970 * 1000))
            writer.family(
                "skein_host_metrics_records_total", type: .counter, help: "Records read from the host-metrics topic.")
            writer.sample("skein_host_metrics_records_total", [], recordsTotal.value)
            writer.family(
                "skein_host_metrics_malformed_total", type: .counter,
                help: "Host-metrics records skipped because they were not valid skein.host-metrics.v1.")
            writer.sample("skein_host_metrics_malformed_total", [], malformedTotal.value)
            writer.family(
                "skein_host_metrics_expired_total", type: .counter,
                help: "Hosts dropped from /metrics/hosts after host.metrics.ttl.ms without a sample set.")
            writer.sample("skein_host_metrics_expired_total", [], expiredTotal.value)
            writer.family("skein_host_metrics_hosts", type: .gauge, help: "Hosts currently exported on /metrics/hosts.")
            writer.sample("skein_host_metrics_hosts", [], seen.count)
            writer.family(
                "skein_host_last_seen_timestamp_seconds", type: .gauge,
                help: "Timestamp of the newest sample set of each exported host.")
            for (host, lastSeenMs) in seen {
                writer.sample("skein_host_last_seen_timestamp_seconds", [("host", host)], Double(lastSeenMs) / 1000)
            }
        }
    }
}
