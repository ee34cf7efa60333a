import SkeinMetrics

/// The journald source's metric families, created once per registry (a family may appear only once in a
/// scrape); each source takes its children by its `source` label.
final class JournaldMetricFamilies: Sendable {
    let entriesRead: MetricFamily<Counter>
    let gaps: MetricFamily<Counter>
    let invalidations: MetricFamily<Counter>
    let lagSeconds: MetricFamily<Gauge>

    private init(registry: MetricsRegistry) {
        entriesRead = registry.counterFamily(
            "skein_agent_journald_entries_read_total", help: "Journal entries read (after the matches).",
            labelNames: ["source"])
        gaps = registry.counterFamily(
            "skein_agent_journald_gaps_total",
            help:
                "Starts whose saved cursor was vacuumed away with entries after it (each also sent a warning record).",
            labelNames: ["source"])
        invalidations = registry.counterFamily(
            "skein_agent_journald_invalidations_total",
            help: "Journal file sets changed under the reader: rotation, vacuum, a journald restart.",
            labelNames: ["source"])
        lagSeconds = registry.gaugeFamily(
            "skein_agent_journald_lag_seconds",
            help: "Age of the last entry read when more were waiting; 0 once the reader is at the journal's end.",
            labelNames: ["source"])
    }

    static func families(in registry: MetricsRegistry) -> JournaldMetricFamilies {
        registry.shared(JournaldMetricFamilies.self) { JournaldMetricFamilies(registry: $0) }
    }
}

/// One source's children of the families.
struct JournaldMetrics: Sendable {
    let entriesRead: Counter
    let gaps: Counter
    let invalidations: Counter
    let lagSeconds: Gauge

    init(source: String, registry: MetricsRegistry) {
        let families = JournaldMetricFamilies.families(in: registry)
        entriesRead = families.entriesRead.labels(source)
        gaps = families.gaps.labels(source)
        invalidations = families.invalidations.labels(source)
        lagSeconds = families.lagSeconds.labels(source)
    }
}
