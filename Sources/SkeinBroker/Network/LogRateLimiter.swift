import Dispatch
import Logging
import Synchronization

/// Caps the log lines one kind of event may write: at most `linesPerInterval` per interval, then a
/// single line saying how many were left out. Every warning a client can trigger at will (refused
/// requests, malformed frames, refused or timed-out connections) goes through one of these, so a client
/// retrying in a loop cannot fill the journal; one such client once wrote 196 warnings in 20 s.
public final class LogRateLimiter: Sendable {
    private struct Window {
        var start: UInt64
        var written = 0
        var suppressed = 0
        var level: Logger.Level
    }

    private let logger: Logger
    private let linesPerInterval: Int
    private let intervalNanos: UInt64
    private let windows = Mutex<[String: Window]>([:])

    public init(logger: Logger, linesPerInterval: Int, intervalMs: Int64) {
        self.logger = logger
        self.linesPerInterval = max(0, linesPerInterval)
        self.intervalNanos = UInt64(max(1, intervalMs)) * 1_000_000
    }

    /// Logs `message` unless `kind` has used its lines for the current interval. `kind` names the event
    /// in the summary line; it comes from the broker's code, never from a client.
    public func log(
        _ level: Logger.Level, _ kind: String, _ message: @autoclosure () -> Logger.Message,
        now: UInt64 = DispatchTime.now().uptimeNanoseconds
    ) {
        guard logger.logLevel <= level else { return }
        let (write, summary) = windows.withLock { windows -> (Bool, Window?) in
            var window = windows[kind] ?? Window(start: now, level: level)
            var ended: Window?
            if now &- window.start >= intervalNanos {
                if window.suppressed > 0 { ended = window }
                window = Window(start: now, level: level)
            }
            let write = window.written < linesPerInterval
            if write { window.written += 1 } else { window.suppressed += 1 }
            windows[kind] = window
            return (write, ended)
        }
        if let summary { report(kind, summary, now: now) }
        if write { logger.log(level: level, message()) }
    }

    public func warning(_ kind: String, _ message: @autoclosure () -> Logger.Message) {
        log(.warning, kind, message())
    }

    /// Writes the summary of every interval that has ended with lines left out. The server calls this
    /// once per interval, so the count appears even when the client has gone quiet.
    public func flush(now: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        let ended = windows.withLock { windows -> [(String, Window)] in
            var ended: [(String, Window)] = []
            for (kind, window) in windows where now &- window.start >= intervalNanos {
                if window.suppressed > 0 { ended.append((kind, window)) }
                windows[kind] = nil
            }
            return ended
        }
        for (kind, window) in ended.sorted(by: { $0.0 < $1.0 }) { report(kind, window, now: now) }
    }

    private func report(_ kind: String, _ window: Window, now: UInt64) {
        let seconds = Double((now &- window.start) / 1_000_000) / 1000
        logger.log(
            level: window.level,
            "\(window.suppressed) more \(kind) lines suppressed in the last \(seconds) s (at most \(linesPerInterval) per \(Double(intervalNanos / 1_000_000) / 1000) s)"
        )
    }
}
