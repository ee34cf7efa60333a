import Foundation
import Testing

@testable import SkeinAgent

@Suite struct RecordTests {
    func decode(_ bytes: [UInt8]) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(bytes))
        return try #require(object as? [String: Any])
    }

    @Test func recordHasTheContractShape() throws {
        let record = HostMetricsRecord(
            host: "web-1", timestampMilliseconds: 1_763_780_000_000, intervalSeconds: 15,
            families: [
                MetricFamily(name: "node_load1", type: .gauge, help: "1m load average.", value: 0.42),
                MetricFamily(
                    name: "node_cpu_seconds_total", type: .counter, help: "Seconds the CPUs spent in each mode.",
                    samples: [MetricSample(labels: [("cpu", "0"), ("mode", "user")], value: 1234.5)]),
            ])
        let json = try decode(record.encodedJSON())
        #expect(Set(json.keys) == ["schema", "host", "timestamp_ms", "interval_seconds", "families"])
        #expect(json["schema"] as? String == "skein.host-metrics.v1")
        #expect(json["host"] as? String == "web-1")
        #expect((json["timestamp_ms"] as? NSNumber)?.int64Value == 1_763_780_000_000)
        #expect((json["interval_seconds"] as? NSNumber)?.doubleValue == 15)
        let families = try #require(json["families"] as? [[String: Any]])
        #expect(families.count == 2)
        #expect(Set(families[0].keys) == ["name", "type", "help", "samples"])
        #expect(families[0]["name"] as? String == "node_load1")
        #expect(families[0]["type"] as? String == "gauge")
        #expect(families[1]["type"] as? String == "counter")
        let samples = try #require(families[1]["samples"] as? [[String: Any]])
        #expect(samples[0]["labels"] as? [String: String] == ["cpu": "0", "mode": "user"])
        #expect((samples[0]["value"] as? NSNumber)?.doubleValue == 1234.5)
        let load = try #require(families[0]["samples"] as? [[String: Any]])
        #expect(load[0]["labels"] as? [String: String] == [:])
        #expect((load[0]["value"] as? NSNumber)?.doubleValue == 0.42)
    }

    @Test func stringsAreEscapedAndNumbersRoundTrip() throws {
        let awkward = "quote\" backslash\\ newline\n tab\t bell\u{7} ünïcode"
        let values: [Double] = [0, -1, 1e21, 123_456_789_012_345_678, 0.1, 1.0 / 3, -2.5e-12, 9_007_199_254_740_993]
        let record = HostMetricsRecord(
            host: awkward, timestampMilliseconds: 1, intervalSeconds: 0.5,
            families: [
                MetricFamily(
                    name: "x", type: .untyped, help: awkward,
                    samples: values.enumerated().map {
                        MetricSample(labels: [("i", "\($0.offset)"), ("v", awkward)], value: $0.element)
                    })
            ])
        let json = try decode(record.encodedJSON())
        #expect(json["host"] as? String == awkward)
        #expect((json["interval_seconds"] as? NSNumber)?.doubleValue == 0.5)
        let family = try #require((json["families"] as? [[String: Any]])?.first)
        #expect(family["help"] as? String == awkward)
        #expect(family["type"] as? String == "untyped")
        let samples = try #require(family["samples"] as? [[String: Any]])
        #expect(samples.compactMap { ($0["value"] as? NSNumber)?.doubleValue } == values)
        #expect(samples.allSatisfy { ($0["labels"] as? [String: String])?["v"] == awkward })
    }

    @Test func nonFiniteValuesAndInvalidNamesAreLeftOut() throws {
        let record = HostMetricsRecord(
            host: "h", timestampMilliseconds: 1, intervalSeconds: 15,
            families: [
                MetricFamily(
                    name: "ok", type: .gauge, help: "",
                    samples: [
                        MetricSample(value: .nan), MetricSample(labels: [("a", "1")], value: .infinity),
                        MetricSample(labels: [("a", "2")], value: 7),
                        MetricSample(labels: [("bad-label", "3")], value: 8),
                        MetricSample(labels: [("__reserved", "4")], value: 9),
                        MetricSample(labels: [("a", "2")], value: 10),
                    ]),
                MetricFamily(name: "1starts_with_digit", type: .gauge, help: "", value: 1),
                MetricFamily(name: "has-dash", type: .gauge, help: "", value: 1),
                MetricFamily(name: "only_nan", type: .gauge, help: "", value: .nan),
                MetricFamily(name: "with:colon", type: .gauge, help: "", value: 2),
                MetricFamily(name: "ok", type: .gauge, help: "a repeated family", value: 3),
            ])
        let json = try decode(record.encodedJSON())
        let families = try #require(json["families"] as? [[String: Any]])
        #expect(families.compactMap { $0["name"] as? String } == ["ok", "with:colon"])
        let samples = try #require(families[0]["samples"] as? [[String: Any]])
        #expect(samples.count == 1)
        #expect(samples[0]["labels"] as? [String: String] == ["a": "2"])
    }

    @Test func collectorOverFixtureTreeProducesEverySource() throws {
        let collector = HostMetricsCollector(
            files: Fixture.hostA, ticksPerSecond: 100, pageSize: 4096, machine: "x86_64",
            filesystemUsage: { _ in
                FilesystemUsage(sizeBytes: 100, freeBytes: 50, availableBytes: 40, files: 10, filesFree: 5)
            })
        let sample = collector.collect(wallClockSeconds: 1_763_780_000.25)
        #expect(sample.failures.isEmpty)
        let names = Set(sample.families.map(\.name))
        for expected in [
            "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1", "node_load5", "node_load15",
            "node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_disk_read_bytes_total",
            "node_disk_io_time_seconds_total", "node_network_receive_bytes_total", "node_network_transmit_bytes_total",
            "node_network_up", "node_boot_time_seconds", "node_time_seconds", "node_uname_info",
            "skein_agent_cpu_seconds_total", "skein_agent_collector_success",
        ] {
            #expect(names.contains(expected), "missing \(expected)")
        }
        #expect(sample.families.family(named: "node_time_seconds")?.value() == 1_763_780_000.25)
        #expect(Set(sample.families.map(\.name)).count == sample.families.count, "a family appears twice")
        let success = try #require(sample.families.family(named: "skein_agent_collector_success"))
        #expect(success.samples.count == 7)
        #expect(success.samples.allSatisfy { $0.value == 1 })
    }

    @Test func aMissingSourceCostsOnlyItsFamilies() throws {
        let collector = HostMetricsCollector(
            files: SystemFiles(procRoot: Fixture.directory + "/host-a/sys", sysRoot: "/nonexistent"),
            ticksPerSecond: 100, pageSize: 4096, machine: "", includesAgentProcess: false)
        let sample = collector.collect(wallClockSeconds: 1)
        #expect(Set(sample.failures.keys) == ["cpu", "meminfo", "loadavg", "filesystem", "diskstats", "netdev"])
        let success = try #require(sample.families.family(named: "skein_agent_collector_success"))
        #expect(success.samples.count == 6)
        #expect(success.samples.allSatisfy { $0.value == 0 })
        #expect(sample.families.family(named: "node_time_seconds") != nil)
    }

    @Test func samplerKeysTheRecordByHostWithTheContentTypeHeader() throws {
        let sampler = HostMetricsSampler(
            hostName: "web-1", intervalSeconds: 15,
            collector: HostMetricsCollector(files: Fixture.hostA, filesystemUsage: { _ in nil }))
        let record = sampler.sample(delivery: ShipperStatistics(sent: 5, dropped: 2, failedAttempts: 3, buffered: 1))
        #expect(record.families.family(named: "skein_agent_records_sent_total")?.value() == 5)
        #expect(record.families.family(named: "skein_agent_records_dropped_total")?.value() == 2)
        #expect(record.families.family(named: "skein_agent_records_buffered")?.value() == 1)
        let outgoing = sampler.outgoingRecord(record)
        #expect(outgoing.key == Array("web-1".utf8))
        #expect(
            outgoing.headers == [
                .init(key: "content-type", value: Array("application/vnd.skein.host-metrics.v1+json".utf8))
            ])
        #expect(outgoing.timestampMilliseconds == record.timestampMilliseconds)
        #expect(try decode(outgoing.value)["host"] as? String == "web-1")
    }
}
