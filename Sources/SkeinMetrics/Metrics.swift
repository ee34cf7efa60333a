import Synchronization

/// Something that writes one or more metric families at scrape time.
public protocol MetricsCollector: Sendable {
    func collect(into writer: inout PrometheusTextWriter)
}

/// A counter updated on hot paths (every request): one atomic add, no lock.
public final class Counter: Sendable {
    private let storage = Atomic<Int>(0)

    public init() {}

    public func increment(by amount: Int = 1) {
        storage.add(amount, ordering: .relaxed)
    }

    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A gauge kept up to date by the code that changes it (open connections); gauges that can be read off
/// existing state are computed at scrape time instead.
public final class Gauge: Sendable {
    private let storage = Atomic<Int>(0)

    public init() {}

    public func increment(by amount: Int = 1) { storage.add(amount, ordering: .relaxed) }
    public func decrement(by amount: Int = 1) { storage.subtract(amount, ordering: .relaxed) }
    public func set(_ value: Int) { storage.store(value, ordering: .relaxed) }
    public var value: Int { storage.load(ordering: .relaxed) }
}

/// A cumulative histogram with fixed upper bounds. One short uncontended lock per observation: the bucket
/// counts and the sum must move together or a scrape could see a count without its sum.
public final class Histogram: Sendable {
    public let upperBounds: [Double]
    private let state: Mutex<State>

    struct State {
        var bucketCounts: [Int]
        var sum: Double = 0
        var count = 0
    }

    public struct Snapshot: Sendable, Equatable {
        /// Per-bucket (not cumulative) counts; the last entry counts observations above every bound.
        public var bucketCounts: [Int]
        public var sum: Double
        public var count: Int
    }

    public init(upperBounds: [Double]) {
        precondition(!upperBounds.isEmpty && zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 })
        self.upperBounds = upperBounds
        state = Mutex(State(bucketCounts: Array(repeating: 0, count: upperBounds.count + 1)))
    }

    public func observe(_ value: Double) {
        observe(value, times: 1)
    }

    /// `times` observations of the same value under one lock (a batch of records read together).
    public func observe(_ value: Double, times: Int) {
        guard times > 0 else { return }
        // Linear scan: the bound lists are short and most observations land in the first few buckets.
        var index = 0
        while index < upperBounds.count && value > upperBounds[index] { index += 1 }
        state.withLock {
            $0.bucketCounts[index] += times
            $0.sum += value * Double(times)
            $0.count += times
        }
    }

    public var snapshot: Snapshot {
        state.withLock { Snapshot(bucketCounts: $0.bucketCounts, sum: $0.sum, count: $0.count) }
    }

    /// Writes `_bucket` lines (cumulative, ending with `le="+Inf"`), `_sum` and `_count`.
    public func write(_ name: String, labels: [(String, String)], to writer: inout PrometheusTextWriter) {
        let snapshot = self.snapshot
        var cumulative = 0
        for (index, bound) in upperBounds.enumerated() {
            cumulative += snapshot.bucketCounts[index]
            writer.sample(name + "_bucket", labels + [("le", PrometheusTextWriter.format(bound))], cumulative)
        }
        writer.sample(name + "_bucket", labels + [("le", "+Inf")], snapshot.count)
        writer.sample(name + "_sum", labels, snapshot.sum)
        writer.sample(name + "_count", labels, snapshot.count)
    }

    /// Bounds in seconds for request and I/O latencies: 100 µs to 10 s.
    public static let latencySeconds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    /// Bounds for byte sizes: powers of four from 64 B to 16 MiB.
    public static let sizeBytes: [Double] = (0..<10).map { 64 * Double(1 << (2 * $0)) }
}

/// A family of metrics told apart by label values. Children are created on first use and live as long
/// as the family; hot paths keep the child they got instead of looking it up per event.
public final class MetricFamily<Metric: Sendable>: Sendable {
    public let name: String
    public let help: String
    public let type: MetricType
    public let labelNames: [String]
    private let make: @Sendable () -> Metric
    private let children: Mutex<[[String]: Metric]>

    public init(
        name: String, help: String, type: MetricType, labelNames: [String], make: @escaping @Sendable () -> Metric
    ) {
        self.name = name
        self.help = help
        self.type = type
        self.labelNames = labelNames
        self.make = make
        self.children = Mutex([:])
    }

    public func labels(_ values: String...) -> Metric { labels(values) }

    public func labels(_ values: [String]) -> Metric {
        precondition(values.count == labelNames.count, "\(name) takes labels \(labelNames)")
        return children.withLock { children in
            if let existing = children[values] { return existing }
            let created = make()
            children[values] = created
            return created
        }
    }

    /// Drops a child, e.g. the counters of a deleted topic.
    public func remove(_ values: [String]) {
        _ = children.withLock { $0.removeValue(forKey: values) }
    }

    /// Children sorted by label values, so scrapes are stable and diffable.
    public var sortedChildren: [([(String, String)], Metric)] {
        let copy = children.withLock { $0 }
        return copy.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map {
            (Array(zip(labelNames, $0.key)), $0.value)
        }
    }
}

extension MetricFamily: MetricsCollector where Metric: ExposableMetric {
    public func collect(into writer: inout PrometheusTextWriter) {
        writer.family(name, type: type, help: help)
        for (labels, metric) in sortedChildren { metric.write(name, labels: labels, to: &writer) }
    }
}

/// A metric that can write its own sample lines.
public protocol ExposableMetric: Sendable {
    func write(_ name: String, labels: [(String, String)], to writer: inout PrometheusTextWriter)
}

extension Counter: ExposableMetric {
    public func write(_ name: String, labels: [(String, String)], to writer: inout PrometheusTextWriter) {
        writer.sample(name, labels, value)
    }
}

extension Gauge: ExposableMetric {
    public func write(_ name: String, labels: [(String, String)], to writer: inout PrometheusTextWriter) {
        writer.sample(name, labels, value)
    }
}

extension Histogram: ExposableMetric {}

/// An unlabelled metric with its name and help, ready to register.
public struct SingleMetric<Metric: ExposableMetric>: MetricsCollector {
    public let name: String
    public let help: String
    public let type: MetricType
    public let metric: Metric

    public init(name: String, help: String, type: MetricType, metric: Metric) {
        self.name = name
        self.help = help
        self.type = type
        self.metric = metric
    }

    public func collect(into writer: inout PrometheusTextWriter) {
        writer.family(name, type: type, help: help)
        metric.write(name, labels: [], to: &writer)
    }
}

/// A collector made of a closure, for values read off other state when scraped.
public struct CollectorFunction: MetricsCollector {
    let body: @Sendable (inout PrometheusTextWriter) -> Void

    public init(_ body: @escaping @Sendable (inout PrometheusTextWriter) -> Void) {
        self.body = body
    }

    public func collect(into writer: inout PrometheusTextWriter) { body(&writer) }
}

/// The collectors behind one scrape path, written in registration order. A registry is itself a collector,
/// so a part that is rebuilt (the agent's log shipping at a reload) gets a fresh one inside the scraped one.
public final class MetricsRegistry: MetricsCollector {
    private let collectors = Mutex<[any MetricsCollector]>([])
    private let sharedFamilies = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init() {}

    /// The one `Families` of this registry, made on first use: every source of a kind registers its
    /// labelled children in the same families, as a family (a `# TYPE` line) may appear only once per scrape.
    public func shared<Families: Sendable>(
        _ type: Families.Type, make: (MetricsRegistry) -> Families
    ) -> Families {
        sharedFamilies.withLock { all in
            if let existing = all[ObjectIdentifier(type)] as? Families { return existing }
            let created = make(self)
            all[ObjectIdentifier(type)] = created
            return created
        }
    }

    public func register(_ collector: any MetricsCollector) {
        collectors.withLock { $0.append(collector) }
    }

    @discardableResult
    public func counter(_ name: String, help: String) -> Counter {
        let counter = Counter()
        register(SingleMetric(name: name, help: help, type: .counter, metric: counter))
        return counter
    }

    @discardableResult
    public func gauge(_ name: String, help: String) -> Gauge {
        let gauge = Gauge()
        register(SingleMetric(name: name, help: help, type: .gauge, metric: gauge))
        return gauge
    }

    @discardableResult
    public func histogram(_ name: String, help: String, upperBounds: [Double]) -> Histogram {
        let histogram = Histogram(upperBounds: upperBounds)
        register(SingleMetric(name: name, help: help, type: .histogram, metric: histogram))
        return histogram
    }

    public func counterFamily(_ name: String, help: String, labelNames: [String]) -> MetricFamily<Counter> {
        let family = MetricFamily(name: name, help: help, type: .counter, labelNames: labelNames) { Counter() }
        register(family)
        return family
    }

    public func gaugeFamily(_ name: String, help: String, labelNames: [String]) -> MetricFamily<Gauge> {
        let family = MetricFamily(name: name, help: help, type: .gauge, labelNames: labelNames) { Gauge() }
        register(family)
        return family
    }

    public func histogramFamily(
        _ name: String, help: String, labelNames: [String], upperBounds: [Double]
    ) -> MetricFamily<Histogram> {
        let family = MetricFamily(name: name, help: help, type: .histogram, labelNames: labelNames) {
            Histogram(upperBounds: upperBounds)
        }
        register(family)
        return family
    }

    public func collect(into writer: inout PrometheusTextWriter) {
        let current = collectors.withLock { $0 }
        for collector in current { collector.collect(into: &writer) }
    }

    public func render() -> String {
        let current = collectors.withLock { $0 }
        var writer = PrometheusTextWriter()
        for collector in current { collector.collect(into: &writer) }
        return writer.output
    }
}
