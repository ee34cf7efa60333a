/// The contract between a log source (files, journald, syslog) and the delivery core.
///
/// A source reads entries and hands them to its `SourceSink` in the order it read them, each with the
/// position just after it. The core gives every entry the source's next sequence number, turns it into a
/// record in the log schema with the position headers, and delivers it in a transaction. On start the core
/// recovers each source's committed state from the tail of its partition and hands it to `run`: that is
/// where the source resumes, whatever any local file says.
public protocol LogSource: Sendable {
    /// Stable id, unique within one agent: the configuration table's name, e.g. `files.nginx`.
    var id: String { get }
    /// The record's `source` field: `file`, `journald`, `syslog`.
    var kind: String { get }
    /// Where this source's records go (default `logs`).
    var topic: String { get }
    /// Reads until the task is cancelled (graceful shutdown cancels sources first, then the core delivers
    /// what they emitted). Throws only for errors that stop the source for good; the agent logs them.
    func run(from state: SourceState, into sink: SourceSink) async throws
    /// Whether the source reads without the recovered state (syslog: nothing to resume from). Such a source
    /// starts at once, before delivery has reached the broker, into a `DeferredSink`; the others start once
    /// their positions are recovered.
    var startsBeforeRecovery: Bool { get }
}

extension LogSource {
    public var startsBeforeRecovery: Bool { false }
}

/// What the core recovered for one source from its partition.
public struct SourceState: Sendable, Equatable {
    /// Whether any record or checkpoint of this source was found. A file source reads files that exist
    /// at the first start from their end (unless configured otherwise); later, from the recovered
    /// positions.
    public var found: Bool
    /// The sequence number of the last committed record (0 when none): the next record gets `sequence + 1`.
    public var sequence: UInt64
    /// Stream → position just after the last committed record of that stream. For files the stream is
    /// the file's identity (`fp-…` or `ino-…`) and the position a decimal byte offset; for journald the
    /// stream is `journal` and the position its cursor.
    public var positions: [String: String]

    public init(found: Bool = false, sequence: UInt64 = 0, positions: [String: String] = [:]) {
        self.found = found
        self.sequence = sequence
        self.positions = positions
    }
}

/// One log line or journal entry as a source reads it.
public struct LogEvent: Sendable {
    /// The entry's own time, which becomes the record's timestamp and `timestamp` field.
    public var timestampMilliseconds: Int64
    /// The raw bytes (without the line terminator). Invalid UTF-8 is kept: the core flags it.
    public var message: [UInt8]
    /// `unit` in the log schema: systemd unit, syslog app-name, or the file's path.
    public var unit: String?
    /// `host` in the log schema when the entry names its own (journald's `_HOSTNAME`, a syslog header's
    /// HOSTNAME); nil means the agent's host. The record key stays the agent's host either way, so one
    /// agent's records keep one partition and its recovery reads one tail.
    public var host: String?
    /// Syslog severity 0–7, when the source knows it.
    public var severity: UInt8?
    /// `fields` in the log schema, in order.
    public var fields: [(String, LogFieldValue)]
    /// Which stream of the source the position belongs to (a file's identity; `journal`).
    public var stream: String
    /// The position just after this entry within `stream`.
    public var position: String
    public var flags: LogEventFlags

    public init(
        timestampMilliseconds: Int64, message: [UInt8], unit: String? = nil, host: String? = nil,
        severity: UInt8? = nil, fields: [(String, LogFieldValue)] = [], stream: String, position: String,
        flags: LogEventFlags = []
    ) {
        self.timestampMilliseconds = timestampMilliseconds
        self.message = message
        self.unit = unit
        self.host = host
        self.severity = severity
        self.fields = fields
        self.stream = stream
        self.position = position
        self.flags = flags
    }
}

public enum LogFieldValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case double(Double)
    case boolean(Bool)
}

/// Marks set on a record's `fields` so readers know the message is not the line as written.
public struct LogEventFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Cut at `max_line_bytes`; the rest was dropped.
    public static let truncated = LogEventFlags(rawValue: 1)
    /// Cut at `max_line_bytes`; the rest follows in the next record(s).
    public static let split = LogEventFlags(rawValue: 2)
    /// Several lines merged by a multiline rule, flushed by its timeout or caps rather than a new start.
    public static let multilineFlushed = LogEventFlags(rawValue: 4)
}

/// How a source hands entries to the core. Bound to one source.
public protocol SourceSink: Sendable {
    /// Queues `events` for delivery, in order. Suspends while the process-wide memory cap is reached:
    /// that is the source's backpressure (a file source simply stops reading). Throws `CancellationError`
    /// when the agent is stopping.
    ///
    /// Calls may overlap; each call's records are numbered and queued together, in the order the calls get
    /// room under the cap.
    func emit(_ events: [LogEvent]) async throws
    /// Queues events the source wrote itself (`LogEventWriter`), as `emit(_:)` does.
    func emit(encoded events: EncodedEvents) async throws
    /// What a source needs to write events itself.
    var eventEncoding: LogEventEncoding { get }
    /// The stream is finished (its file was deleted or no longer matches, and was read to its end): its
    /// position leaves the next checkpoint once everything emitted before this call is committed.
    func retire(stream: String) async
    /// Counts entries that could not be delivered and are gone for good (UDP overflow, copytruncate
    /// loss), by reason, in `skein_agent_source_dropped_total{source,reason}`.
    func dropped(_ count: Int, reason: String)
}
