import SkeinMetrics

/// The delivery core's `skein_agent_*` families on the agent's own /metrics.
public final class DeliveryMetrics: Sendable {
    let recordsEmitted: MetricFamily<Counter>
    let recordsCommitted: MetricFamily<Counter>
    let sequence: MetricFamily<Gauge>
    let bufferedBytes: MetricFamily<Gauge>
    let dropped: MetricFamily<Counter>
    let transactions: MetricFamily<Counter>
    let latency: Histogram
    let exactlyOnce: Gauge
    let failures: Counter
    let checkpoints: Counter
    let recoveryScanned: Counter

    public init(registry: MetricsRegistry, budget: MemoryBudget) {
        recordsEmitted = registry.counterFamily(
            "skein_agent_log_records_total", help: "Log records a source handed to delivery.", labelNames: ["source"])
        recordsCommitted = registry.counterFamily(
            "skein_agent_log_records_committed_total",
            help: "Log records in committed transactions (acknowledged, in at-least-once mode).", labelNames: ["source"]
        )
        sequence = registry.gaugeFamily(
            "skein_agent_source_sequence",
            help: "The sequence number of the source's last committed record.", labelNames: ["source"])
        bufferedBytes = registry.gaugeFamily(
            "skein_agent_buffered_bytes",
            help: "Bytes of the source's records read but not yet committed.", labelNames: ["source"])
        dropped = registry.counterFamily(
            "skein_agent_source_dropped_total",
            help: "Entries lost for good before delivery (UDP overflow, copytruncate window), by reason.",
            labelNames: ["source", "reason"])
        transactions = registry.counterFamily(
            "skein_agent_transactions_total", help: "Delivery transactions by outcome.", labelNames: ["outcome"])
        latency = registry.histogram(
            "skein_agent_delivery_latency_seconds",
            help: "From a source reading a record to its transaction committing.",
            upperBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300])
        exactlyOnce = registry.gauge(
            "skein_agent_exactly_once",
            help: "1 when delivery uses transactions; 0 when the broker has none and delivery is at-least-once.")
        failures = registry.counter(
            "skein_agent_delivery_failures_total",
            help: "Failed delivery attempts; each re-reads the committed position and retries.")
        checkpoints = registry.counter(
            "skein_agent_checkpoints_total", help: "Checkpoint records committed.")
        recoveryScanned = registry.counter(
            "skein_agent_recovery_records_scanned_total",
            help: "Records read back from the partition tail to recover source positions.")
        registry.register(
            CollectorFunction { writer in
                writer.family(
                    "skein_agent_memory_cap_bytes", type: .gauge,
                    help: "The process-wide cap on bytes buffered by log sources.")
                writer.sample("skein_agent_memory_cap_bytes", [], budget.capacity)
                writer.family(
                    "skein_agent_memory_buffered_bytes", type: .gauge,
                    help: "Bytes buffered by all log sources, read but not yet committed.")
                writer.sample("skein_agent_memory_buffered_bytes", [], budget.heldBytes)
                writer.family(
                    "skein_agent_backpressure_seconds_total", type: .counter,
                    help: "Time sources spent paused because the memory cap was reached.")
                writer.sample("skein_agent_backpressure_seconds_total", [], budget.waitedSeconds)
            })
    }
}
