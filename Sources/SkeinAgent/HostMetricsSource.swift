import Logging
import ServiceLifecycle
import SkeinClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns one pass of the collector into a record.
public struct HostMetricsSampler: Sendable {
    public var hostName: String
    public var intervalSeconds: Double
    public var collector: HostMetricsCollector

    public init(hostName: String, intervalSeconds: Double, collector: HostMetricsCollector) {
        self.hostName = hostName
        self.intervalSeconds = intervalSeconds
        self.collector = collector
    }

    /// - Parameter delivery: the shipper's counters, added as `skein_agent_records_*`; nil for `--once`.
    public func sample(delivery: ShipperStatistics? = nil) -> HostMetricsRecord {
        let started = ContinuousClock.now
        let now = Self.wallClockSeconds()
        var families = collector.collect(wallClockSeconds: now).families
        if let delivery {
            families += [
                MetricFamily(
                    name: "skein_agent_records_sent_total", type: .counter,
                    help: "Sample sets the broker acknowledged.", value: Double(delivery.sent)),
                MetricFamily(
                    name: "skein_agent_records_dropped_total", type: .counter,
                    help: "Sample sets dropped because the delivery buffer was full.", value: Double(delivery.dropped)),
                MetricFamily(
                    name: "skein_agent_send_failures_total", type: .counter,
                    help: "Delivery attempts that failed and were retried.", value: Double(delivery.failedAttempts)),
                MetricFamily(
                    name: "skein_agent_records_buffered", type: .gauge,
                    help: "Sample sets waiting for delivery.", value: Double(delivery.buffered)),
            ]
        }
        let elapsed = ContinuousClock.now - started
        families.append(
            MetricFamily(
                name: "skein_agent_sample_duration_seconds", type: .gauge,
                help: "How long reading /proc and /sys took for this sample set.", value: elapsed.seconds))
        return HostMetricsRecord(
            host: hostName, timestampMilliseconds: Int64((now * 1000).rounded()), intervalSeconds: intervalSeconds,
            families: families)
    }

    public func outgoingRecord(_ record: HostMetricsRecord) -> OutgoingRecord {
        OutgoingRecord(
            key: Array(record.host.utf8), value: record.encodedJSON(),
            headers: [RecordHeader(key: "content-type", value: Array(HostMetricsRecord.contentType.utf8))],
            timestampMilliseconds: record.timestampMilliseconds)
    }

    public static func wallClockSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// The host-metrics source as a long-running service: samples every interval and hands each sample
/// set to a `RecordShipper`. On graceful shutdown (SIGTERM/SIGINT) it stops sampling and gives the
/// shipper `shutdownFlush` to deliver what is buffered.
public struct HostMetricsService: Service {
    public let sampler: HostMetricsSampler
    public let shipper: RecordShipper
    public let shutdownFlush: Duration
    private let logger: Logger

    public init(sampler: HostMetricsSampler, shipper: RecordShipper, shutdownFlush: Duration, logger: Logger) {
        self.sampler = sampler
        self.shipper = shipper
        self.shutdownFlush = shutdownFlush
        self.logger = logger
    }

    public func run() async throws {
        let shipper = self.shipper
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await shipper.run() }
            await sampleUntilShutdown()
            await shipper.finish(deadline: .now + shutdownFlush)
            await group.waitForAll()
        }
        let statistics = await shipper.statistics
        logger.info(
            "host metrics stopped",
            metadata: [
                "sent": "\(statistics.sent)", "dropped": "\(statistics.dropped)",
                "undelivered": "\(statistics.buffered)",
            ])
    }

    private func sampleUntilShutdown() async {
        let interval = Duration.seconds(sampler.intervalSeconds)
        let clock = ContinuousClock()
        var next = clock.now
        logger.info(
            "sampling host metrics",
            metadata: [
                "host": "\(sampler.hostName)", "interval_seconds": "\(sampler.intervalSeconds)",
                "topic": "\(shipper.settings.topic)",
            ])
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let record = sampler.sample(delivery: await shipper.statistics)
            await shipper.enqueue(sampler.outgoingRecord(record))
            next += interval
            // A stall longer than an interval (a suspended VM, say) skips the missed ticks
            // instead of sampling in a burst to catch up.
            if next <= clock.now { next = clock.now + interval }
            let wakeAt = next
            do {
                try await cancelWhenGracefulShutdown {
                    try await Task.sleep(until: wakeAt, clock: .continuous)
                }
            } catch {
                break
            }
        }
    }
}
