import Dispatch
import Foundation
import Glibc
import Logging
import SkeinLogShipping
import Synchronization

/// One dedicated thread that owns the source's `sd_journal` handle and hands batches of entries to the
/// source's task through a handoff of at most two batches: while the delivery core applies backpressure
/// the thread stops reading, and the entries wait in the journal. Idle, the thread sleeps in poll(2) on
/// the journal's inotify descriptor and a stop pipe, with no timer: no CPU at all.
final class JournalPump: Sendable {
    struct Batch: Sendable {
        var events: [SkeinLogShipping.LogEvent]
        /// Entries lost to vacuum, for `skein_agent_source_dropped_total{reason="vacuumed"}`.
        var vacuumed = 0
    }

    private struct State {
        var ready: [Result<Batch, any Error>] = []
        var consumer: CheckedContinuation<Result<Batch, any Error>?, Never>?
        var stopped = false
    }

    static let batchEntries = 1024
    static let batchBytes = 512 * 1024

    private let settings: JournaldSettings
    private let cursor: String?
    private let metrics: JournaldMetrics
    private let logger: Logger
    private let state = Mutex(State())
    /// Free places in the handoff: the thread takes one before each read and the task gives it back
    /// when it takes the batch.
    private let space = DispatchSemaphore(value: 2)
    private let stopPipe: (read: Int32, write: Int32)
    private let onIdle: (@Sendable () -> Void)?
    /// Entries read since the journal was opened after which an idle reader reopens it.
    private let reopenAfterEntries: Int

    init(
        settings: JournaldSettings, cursor: String?, metrics: JournaldMetrics, logger: Logger,
        onIdle: (@Sendable () -> Void)? = nil, reopenAfterEntries: Int = 50_000
    ) throws {
        self.onIdle = onIdle
        self.reopenAfterEntries = reopenAfterEntries
        self.settings = settings
        self.cursor = cursor
        self.metrics = metrics
        self.logger = logger
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw JournalError("pipe", -errno) }
        for end in fds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        stopPipe = (fds[0], fds[1])
    }

    deinit {
        close(stopPipe.read)
        close(stopPipe.write)
    }

    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "skein-journald"
        thread.start()
    }

    /// The next batch; nil once stopped. Cancelling the waiting task stops the pump.
    func next() async -> Result<Batch, any Error>? {
        let taken: Result<Batch, any Error>? = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Batch, any Error>?, Never>) in
                let now = state.withLock { state -> Result<Batch, any Error>?? in
                    if !state.ready.isEmpty { return .some(state.ready.removeFirst()) }
                    if state.stopped || Task.isCancelled { return .some(nil) }
                    state.consumer = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            stop()
        }
        if taken != nil { space.signal() }
        return taken
    }

    func stop() {
        let consumer = state.withLock { state -> CheckedContinuation<Result<Batch, any Error>?, Never>? in
            guard !state.stopped else { return nil }
            state.stopped = true
            var byte: UInt8 = 1
            _ = write(stopPipe.write, &byte, 1)
            defer { state.consumer = nil }
            return state.consumer
        }
        space.signal()
        consumer?.resume(returning: nil)
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func hand(_ item: Result<Batch, any Error>) {
        let consumer = state.withLock { state -> CheckedContinuation<Result<Batch, any Error>?, Never>? in
            if let consumer = state.consumer {
                state.consumer = nil
                return consumer
            }
            state.ready.append(item)
            return nil
        }
        consumer?.resume(returning: item)
    }

    private func loop() {
        do {
            var reader = try JournalReader(settings: settings)
            // libsystemd tells runtime and persistent files by their /run and /var paths, so the check
            // means something for the system journal only.
            if settings.journal == .local, !reader.seesFiles {
                logger.warning(
                    "no journal files are visible yet (for the system journal the agent needs the systemd-journal group); waiting for some",
                    metadata: ["source": "\(settings.id)"])
            }
            try position(reader, after: cursor)
            var lastCursor = cursor
            var readSinceOpen = 0
            while !stopped {
                space.wait()
                if stopped { break }
                var events: [SkeinLogShipping.LogEvent] = []
                events.reserveCapacity(Self.batchEntries)
                let (atEnd, error) = reader.read(
                    into: &events, maxEntries: Self.batchEntries, maxBytes: Self.batchBytes)
                if error < 0 {
                    logger.warning(
                        "journal read failed, waiting for the journal to change",
                        metadata: ["source": "\(settings.id)", "error": "\(JournalError("sd_journal_next", error))"])
                }
                if let last = events.last {
                    lastCursor = last.position
                    readSinceOpen += events.count
                    metrics.entriesRead.increment(by: events.count)
                    let age = Int64(Date().timeIntervalSince1970 * 1000) - last.timestampMilliseconds
                    metrics.lagSeconds.set(atEnd ? 0 : max(0, Int(age / 1000)))
                    hand(.success(Batch(events: events)))
                } else {
                    metrics.lagSeconds.set(0)
                    space.signal()
                }
                guard atEnd && !stopped else { continue }
                if readSinceOpen >= reopenAfterEntries, let lastCursor {
                    // libsystemd keeps the 8 MiB windows of journal files it mapped until the handle closes:
                    // after a backlog that is hundreds of MiB of page cache in the agent's RSS. Reopening
                    // at the cursor (the same seek-next-test as a start) gives an idle agent its own RSS.
                    reader = try JournalReader(settings: settings)
                    try position(reader, after: lastCursor)
                    readSinceOpen = 0
                    continue
                }
                onIdle?()
                if reader.wait(stopFD: stopPipe.read) { metrics.invalidations.increment() }
            }
        } catch {
            hand(.failure(error))
        }
    }

    /// Positions `reader` after `cursor` (or at `start_at`), and reports a vacuum gap.
    private func position(_ reader: JournalReader, after cursor: String?) throws {
        guard let gap = try reader.position(after: cursor) else { return }
        space.wait()
        metrics.gaps.increment()
        hand(.success(Batch(events: [warning(gap)], vacuumed: gap.lostEntries.map { Int($0) } ?? 1)))
    }

    /// The record that says entries were lost: the reader never restarts silently.
    private func warning(_ gap: JournalReader.Gap) -> SkeinLogShipping.LogEvent {
        let count = gap.lostEntries.map { "\($0) journal entries" } ?? "an unknown number of journal entries"
        var message = "\(count) were lost to journal vacuum after cursor \(gap.savedCursor)"
        message += gap.resumedCursor.map { "; resuming at \($0)" } ?? "; resuming at the oldest entry"
        logger.warning("\(message)", metadata: ["source": "\(settings.id)"])
        var fields: [(String, LogFieldValue)] = [("journald_gap", .boolean(true))]
        if let lost = gap.lostEntries { fields.append(("lost_entries", .integer(Int64(lost)))) }
        fields.append(("saved_cursor", .string(gap.savedCursor)))
        if let resumed = gap.resumedCursor { fields.append(("resumed_cursor", .string(resumed))) }
        // Its position is the saved cursor: a crash before the next entry is committed finds the same
        // gap again and says so again, rather than losing the warning.
        return SkeinLogShipping.LogEvent(
            timestampMilliseconds: Int64(Date().timeIntervalSince1970 * 1000), message: Array(message.utf8),
            unit: "skein-agent", severity: 4, fields: fields, stream: JournaldSource.stream,
            position: gap.savedCursor)
    }
}
