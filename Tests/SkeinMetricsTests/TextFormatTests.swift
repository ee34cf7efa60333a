import Testing

@testable import SkeinMetrics

@Suite struct TextFormatTests {
    @Test func countersAndGaugesRenderWithHelpAndType() {
        let registry = MetricsRegistry()
        let requests = registry.counterFamily(
            "skein_requests_total", help: "Requests.", labelNames: ["api", "outcome"])
        requests.labels("Produce", "ok").increment(by: 3)
        requests.labels("Fetch", "error").increment()
        registry.gauge("skein_connections_open", help: "Open connections.").set(2)
        #expect(
            registry.render() == """
                # HELP skein_requests_total Requests.
                # TYPE skein_requests_total counter
                skein_requests_total{api="Fetch",outcome="error"} 1
                skein_requests_total{api="Produce",outcome="ok"} 3
                # HELP skein_connections_open Open connections.
                # TYPE skein_connections_open gauge
                skein_connections_open 2

                """)
    }

    @Test func histogramBucketsAreCumulativeWithInfSumAndCount() {
        let registry = MetricsRegistry()
        let histogram = registry.histogram("latency_seconds", help: "Latency.", upperBounds: [0.5, 1, 2.5])
        for value in [0.1, 0.5, 0.7, 3.0] { histogram.observe(value) }
        #expect(
            registry.render() == """
                # HELP latency_seconds Latency.
                # TYPE latency_seconds histogram
                latency_seconds_bucket{le="0.5"} 2
                latency_seconds_bucket{le="1"} 3
                latency_seconds_bucket{le="2.5"} 3
                latency_seconds_bucket{le="+Inf"} 4
                latency_seconds_sum 4.3
                latency_seconds_count 4

                """)
    }

    @Test func labelValuesAndHelpAreEscaped() {
        var writer = PrometheusTextWriter()
        writer.family("m", type: .gauge, help: "a \\ b\nc \"q\"")
        writer.sample("m", [("path", "C:\\x\n\"y\"")], 1.5)
        #expect(writer.output == "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\nm{path=\"C:\\\\x\\n\\\"y\\\"\"} 1.5\n")
    }

    /// "\r\n" is one Swift Character; escaping must still see its line break, or a group id or host record
    /// could add lines of its own to the exposition.
    @Test func crlfInLabelsAndHelpCannotStartANewLine() {
        var writer = PrometheusTextWriter()
        writer.family("m", type: .gauge, help: "a\r\nfake_series 1")
        writer.sample("m", [("group", "x\r\nkafka_fake 1")], 1)
        #expect(writer.output.split(separator: "\n").count == 3)
        #expect(!writer.output.contains("\r"))
    }

    @Test func specialValuesUsePrometheusSpelling() {
        #expect(PrometheusTextWriter.format(.infinity) == "+Inf")
        #expect(PrometheusTextWriter.format(-.infinity) == "-Inf")
        #expect(PrometheusTextWriter.format(.nan) == "NaN")
        #expect(PrometheusTextWriter.format(42) == "42")
        #expect(PrometheusTextWriter.format(0.25) == "0.25")
        #expect(PrometheusTextWriter.format(1e20) == "1e+20")
    }

    @Test func namesFollowPrometheusRules() {
        #expect(MetricNames.isValidMetricName("node_cpu_seconds_total"))
        #expect(MetricNames.isValidMetricName("a:b_c"))
        #expect(!MetricNames.isValidMetricName("1abc"))
        #expect(!MetricNames.isValidMetricName("a-b"))
        #expect(!MetricNames.isValidMetricName(""))
        #expect(MetricNames.isValidLabelName("mode"))
        #expect(!MetricNames.isValidLabelName("__name__"))
        #expect(!MetricNames.isValidLabelName("a:b"))
        #expect(!MetricNames.isValidLabelName("é"))
    }

    @Test func concurrentIncrementsAreNotLost() async {
        let counter = Counter()
        let histogram = Histogram(upperBounds: [1])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10_000 {
                        counter.increment()
                        histogram.observe(0.5)
                    }
                }
            }
        }
        #expect(counter.value == 80_000)
        #expect(histogram.snapshot.count == 80_000)
        #expect(histogram.snapshot.bucketCounts == [80_000, 0])
    }

    @Test func procStatParsesFieldsAfterTheCommandName() {
        // Command names may contain spaces and parentheses.
        let stat =
            "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1000 123456789 2048 18446744073709551615"
        let sample = ProcessMetricsCollector.parseStat(
            stat, bootTimeSeconds: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096)
        #expect(
            sample
                == .init(
                    residentBytes: 2048 * 4096, virtualBytes: 123_456_789, cpuSeconds: 3.0,
                    startTimeSeconds: 1_700_000_010))
        #expect(ProcessMetricsCollector.parseBootTime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
    }

    @Test func processCollectorReportsThisProcess() {
        var writer = PrometheusTextWriter()
        ProcessMetricsCollector().collect(into: &writer)
        #expect(writer.output.contains("\nprocess_max_fds "))
        #if os(Linux)
            for name in ["process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"] {
                #expect(writer.output.contains("\n\(name) "), "\(name) missing")
            }
        #endif
    }
}
