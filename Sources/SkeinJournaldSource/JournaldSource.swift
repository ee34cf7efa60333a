import Logging
import SkeinLogShipping
import SkeinMetrics

/// The journald source: reads the system journal (or a directory's journal files, or a namespace)
/// through libsystemd and hands its entries to the delivery core. The position of each record is the
/// entry's cursor, so a restart resumes just after the last committed entry.
public struct JournaldSource: LogSource {
    public static let stream = "journal"
    public let settings: JournaldSettings
    public let topic: String
    public var id: String { settings.id }
    public var kind: String { "journald" }
    let metrics: JournaldMetrics
    let logger: Logger
    /// Called each time the reader has read all it can see and goes to wait; tests use it to know the
    /// reader is positioned, and to count wakeups of an idle source.
    var onIdle: (@Sendable () -> Void)?
    /// An idle reader that has read this many entries since it opened the journal reopens it, to give
    /// back the journal file mappings libsystemd keeps; tests lower it.
    var reopenAfterEntries = 50_000

    public init(settings: JournaldSettings, defaultTopic: String, metrics: MetricsRegistry, logger: Logger) {
        self.settings = settings
        self.topic = settings.topic ?? defaultTopic
        self.metrics = JournaldMetrics(source: settings.id, registry: metrics)
        self.logger = logger
    }

    public func run(from state: SourceState, into sink: SourceSink) async throws {
        let pump = try JournalPump(
            settings: settings, cursor: state.positions[Self.stream], metrics: metrics, logger: logger,
            onIdle: onIdle, reopenAfterEntries: reopenAfterEntries)
        pump.start()
        defer { pump.stop() }
        do {
            while let result = await pump.next() {
                let batch = try result.get()
                if batch.vacuumed > 0 { sink.dropped(batch.vacuumed, reason: "vacuumed") }
                try await sink.emit(batch.events)
            }
        } catch is CancellationError {
            // Shutdown: what was emitted is the core's; the rest is read again from the journal.
        }
    }
}
