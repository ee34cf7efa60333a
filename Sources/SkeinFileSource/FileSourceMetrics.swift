import SkeinMetrics

/// The file source's metric families. Every file source of an agent shares one registry, and a family may
/// appear only once in a scrape, so the families are created once per registry and each source takes its
/// children by its `source` label.
final class FileSourceMetricFamilies: Sendable {
    let linesRead: MetricFamily<Counter>
    let bytesRead: MetricFamily<Counter>
    let lagBytes: MetricFamily<Gauge>
    let rotations: MetricFamily<Counter>
    let truncations: MetricFamily<Counter>
    let linesLost: MetricFamily<Counter>
    let filesWatched: MetricFamily<Gauge>

    private init(registry: MetricsRegistry) {
        linesRead = registry.counterFamily(
            "skein_agent_file_lines_read_total", help: "Lines read from files (before multiline merging).",
            labelNames: ["source"])
        bytesRead = registry.counterFamily(
            "skein_agent_file_bytes_read_total", help: "Bytes read from files.", labelNames: ["source"])
        lagBytes = registry.gaugeFamily(
            "skein_agent_file_lag_bytes",
            help: "Bytes between the last emitted line and the end of each open file.",
            labelNames: ["source", "path"])
        rotations = registry.counterFamily(
            "skein_agent_file_rotations_total", help: "Followed files renamed away (rename rotation).",
            labelNames: ["source"])
        truncations = registry.counterFamily(
            "skein_agent_file_truncations_total",
            help: "Followed files found shorter than the read position or rewritten (copytruncate, truncate).",
            labelNames: ["source"])
        linesLost = registry.counterFamily(
            "skein_agent_file_lines_lost_total",
            help: "Lines provably lost to truncation (copytruncate window); a lower bound.",
            labelNames: ["source"])
        filesWatched = registry.gaugeFamily(
            "skein_agent_files_watched", help: "Files held open by the file source.",
            labelNames: ["source"])
    }

    static func families(in registry: MetricsRegistry) -> FileSourceMetricFamilies {
        registry.shared(FileSourceMetricFamilies.self) { FileSourceMetricFamilies(registry: $0) }
    }
}

/// One source's children of the families.
struct FileSourceMetrics: Sendable {
    let source: String
    let families: FileSourceMetricFamilies
    let linesRead: Counter
    let bytesRead: Counter
    let rotations: Counter
    let truncations: Counter
    let linesLost: Counter
    let filesWatched: Gauge

    init(source: String, registry: MetricsRegistry) {
        self.source = source
        families = FileSourceMetricFamilies.families(in: registry)
        linesRead = families.linesRead.labels(source)
        bytesRead = families.bytesRead.labels(source)
        rotations = families.rotations.labels(source)
        truncations = families.truncations.labels(source)
        linesLost = families.linesLost.labels(source)
        filesWatched = families.filesWatched.labels(source)
    }

    func lag(path: String) -> Gauge { families.lagBytes.labels(source, path) }
    func removeLag(path: String) { families.lagBytes.remove([source, path]) }
}
