/// Storage events the broker turns into metrics. The storage engine only reports them; it knows nothing of
/// metric types, so it stays usable (and testable) without the metrics library.
public protocol LogObserver: AnyObject, Sendable {
    /// One group-commit round finished its fsyncs, taking `seconds`.
    func logDidSync(_ topicPartition: TopicPartition, seconds: Double)
    /// Retention deleted segments of a partition.
    func logDidDeleteSegments(_ topicPartition: TopicPartition, segments: Int, bytes: Int64)
}

/// The observer a LogManager and all its partitions report to; set once the broker has its metrics.
final class LogObserverSlot: @unchecked Sendable {
    private let lock = Lock()
    private var current: (any LogObserver)?

    var observer: (any LogObserver)? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

extension LogManager {
    /// Receives fsync timings and retention deletions of every partition of this manager.
    public var observer: (any LogObserver)? {
        get { observerSlot.observer }
        set { observerSlot.observer = newValue }
    }
}
