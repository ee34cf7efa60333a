import Testing

@testable import SkeinMetrics

@Suite struct HostMetricsTests {
    static func record(host: String = "web-1", timestampMs: Int64 = 1_000_000, families: String? = nil) -> [UInt8] {
        let body =
            families
                ?? """
                [{"name": "node_load1", "type": "gauge", "help": "1m load average.", "samples": [{"labels": {}, "value": 0.42}]},
                 {"name": "node_cpu_seconds_total", "type": "counter", "help": "CPU seconds.",
                  "samples": [{"labels": {"cpu": "0", "mode": "user"}, "value": 1234.5},
                              {"labels": {"mode": "system", "cpu": "0"}, "value": 12}]}]
                """
        return Array(
            """
            {"schema": "skein.host-metrics.v1", "host": "\(host)", "timestamp_ms": \(timestampMs), "interval_seconds": 15,
             "families": \(body)}
            """.utf8)
    }

    @Test func parsesTheDocumentedFormat() throws {
        let set = try HostSampleSet.parse(Self.record())
        #expect(set.host == "web-1")
        #expect(set.timestampMs == 1_000_000)
        #expect(set.intervalSeconds == 15)
        #expect(set.families.map(\.name) == ["node_load1", "node_cpu_seconds_total"])
        #expect(set.families[1].type == .counter)
        // Labels are sorted by name whatever order the JSON object had.
        #expect(set.families[1].samples[1].labels.map(\.0) == ["cpu", "mode"])
    }

    @Test(arguments: [
        ("not json", "{"),
        ("array", "[]"),
        ("empty object", "{}"),
        ("wrong schema", #"{"schema": "v0", "host": "h", "timestamp_ms": 1, "families": []}"#),
        ("empty host", #"{"schema": "skein.host-metrics.v1", "host": "", "timestamp_ms": 1, "families": []}"#),
        ("host not a string", #"{"schema": "skein.host-metrics.v1", "host": 3, "timestamp_ms": 1, "families": []}"#),
        (
            "timestamp a string",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": "1", "families": []}"#
        ),
        ("families missing", #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1}"#),
        (
            "bad metric name",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "1bad", "type": "gauge", "samples": []}]}"#
        ),
        (
            "bad label name",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {"a-b": "x"}, "value": 1}]}]}"#
        ),
        (
            "reserved label name",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {"__name__": "x"}, "value": 1}]}]}"#
        ),
        (
            "unknown type",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "summary", "samples": []}]}"#
        ),
        (
            "value a string",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {}, "value": "1"}]}]}"#
        ),
        (
            "value missing",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {}}]}]}"#
        ),
        (
            "label value a number",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {"a": 1}, "value": 1}]}]}"#
        ),
        (
            "duplicate family",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": []}, {"name": "m", "type": "gauge", "samples": []}]}"#
        ),
        (
            "duplicate series",
            #"{"schema": "skein.host-metrics.v1", "host": "h", "timestamp_ms": 1, "families": [{"name": "m", "type": "gauge", "samples": [{"labels": {"a": "1"}, "value": 1}, {"labels": {"a": "1"}, "value": 2}]}]}"#
        ),
        ("invalid utf8", "{\"schema\": \"skein.host-metrics.v1\", \"host\": \"\u{FFFD}"),
    ])
    func refusesMalformedRecords(name: String, json: String) {
        var bytes = Array(json.utf8)
        if name == "invalid utf8" { bytes += [0xFF, 0xFE, 0x22, 0x7D] }
        #expect(throws: MalformedHostMetrics.self, "\(name)") { try HostSampleSet.parse(bytes) }
    }

    /// An extreme timestamp once overflowed the age arithmetic and crashed the broker on every restart.
    @Test func refusesImplausibleTimestamps() {
        for stamp in ["-9223372036854775808", "-1", "9223372036854775807"] {
            let json = #"{"schema": "skein.host-metrics.v1", "host": "x", "timestamp_ms": \#(stamp), "families": []}"#
            #expect(throws: MalformedHostMetrics.self, "\(stamp)") { try HostSampleSet.parse(Array(json.utf8)) }
        }
    }

    @Test func refusesBinaryGarbage() {
        #expect(throws: MalformedHostMetrics.self) { try HostSampleSet.parse([0x00, 0xFF, 0x10, 0x7B]) }
        #expect(throws: MalformedHostMetrics.self) { try HostSampleSet.parse([UInt8]()) }
    }

    @Test func hostLabelInSamplesIsReplacedByTheRecordHost() throws {
        let table = HostMetricsTable(ttlMs: 60_000)
        let value = Self.record(
            host: "db-2",
            families:
                #"[{"name": "m", "type": "gauge", "samples": [{"labels": {"host": "spoofed", "x": "y"}, "value": 7}]}]"#
        )
        #expect((try? table.ingest(value: value, nowMs: 1_000_000).get()) != nil)
        #expect(
            table.render(nowMs: 1_000_000) == """
                # HELP m
                # TYPE m gauge
                m{host="db-2",x="y"} 7

                """)
    }

    @Test func servesTheNewestSetPerHostAndExpiresAfterTheTTL() {
        let table = HostMetricsTable(ttlMs: 10_000)
        let now: Int64 = 1_000_000
        table.ingest(value: Self.record(host: "a", timestampMs: now - 1000), nowMs: now)
        // An older set arriving later (another partition) does not replace the newer one.
        table.ingest(
            value: Self.record(
                host: "a", timestampMs: now - 5000,
                families: #"[{"name": "old", "type": "gauge", "samples": [{"labels": {}, "value": 1}]}]"#),
            nowMs: now)
        table.ingest(value: Self.record(host: "b", timestampMs: now - 8000), nowMs: now)
        table.ingest(value: Array("garbage".utf8), nowMs: now)
        #expect(table.recordsTotal.value == 4)
        #expect(table.malformedTotal.value == 1)
        let output = table.render(nowMs: now)
        #expect(!output.contains("old"))
        #expect(output.contains(#"node_load1{host="a"} 0.42"#))
        #expect(output.contains(#"node_cpu_seconds_total{host="b",cpu="0",mode="user"} 1234.5"#))
        // Families are written once with every host's series under them.
        #expect(output.components(separatedBy: "# TYPE node_load1 gauge").count == 2)

        #expect(table.lastSeen(nowMs: now + 2500).map(\.host) == ["a"])
        #expect(table.expiredTotal.value == 1)
        #expect(table.lastSeen(nowMs: now + 9500).isEmpty)
        #expect(table.expiredTotal.value == 2)
        #expect(table.render(nowMs: now + 9500) == "")
    }

    @Test func aSetOlderThanTheTTLIsNotExportedAndAFutureClockDoesNotExtendIt() {
        let table = HostMetricsTable(ttlMs: 10_000)
        table.ingest(value: Self.record(host: "late", timestampMs: 0), nowMs: 1_000_000)
        #expect(table.lastSeen(nowMs: 1_000_000).isEmpty)
        table.ingest(value: Self.record(host: "ahead", timestampMs: 9_000_000), nowMs: 1_000_000)
        #expect(table.lastSeen(nowMs: 1_000_000).map(\.lastSeenMs) == [1_000_000])
        #expect(table.lastSeen(nowMs: 1_010_000).isEmpty)
    }

    @Test func conflictingTypesAcrossHostsKeepOneTypePerFamily() {
        let table = HostMetricsTable(ttlMs: 60_000)
        table.ingest(
            value: Self.record(
                host: "a", families: #"[{"name": "m", "type": "gauge", "samples": [{"labels": {}, "value": 1}]}]"#),
            nowMs: 1_000_000)
        table.ingest(
            value: Self.record(
                host: "b", families: #"[{"name": "m", "type": "counter", "samples": [{"labels": {}, "value": 2}]}]"#),
            nowMs: 1_000_000)
        let output = table.render(nowMs: 1_000_000)
        #expect(output.contains(#"m{host="a"} 1"#))
        #expect(!output.contains(#"m{host="b"}"#))
    }
}
