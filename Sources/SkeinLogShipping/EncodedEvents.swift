/// Events already written as the log schema's JSON values, with what the core needs to ship them: their
/// timestamps and positions. A source that parses bytes (syslog) writes them with a `LogEventWriter` on the
/// thread that read them, straight from the bytes: no `LogEvent`, no strings or arrays per message.
public struct EncodedEvents: Sendable {
    /// The values back to back.
    var values: [UInt8]
    var entries: [Entry]
    var positions: Positions

    struct Entry: Sendable {
        var end: Int
        var timestamp: Int64
    }

    enum Positions: Sendable {
        /// Event `i` is at `first + i` of `stream` (a counter: syslog numbers its messages).
        case counter(stream: String, first: UInt64)
        /// Each event's own stream and position (the `LogEvent` path).
        case each(streams: [String], positions: [String])
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// Bytes of the values together.
    public var byteCount: Int { values.count }

    /// Numbers the events `first`, `first + 1`, … of `stream`.
    public mutating func number(stream: String, from first: UInt64) {
        positions = .counter(stream: stream, first: first)
    }

    /// Event `index`'s JSON value, its timestamp and where it is (for tests and sinks that look inside).
    public func value(_ index: Int) -> [UInt8] {
        values.withUnsafeBytes { [UInt8](value(index, in: $0)) }
    }

    public func timestamp(_ index: Int) -> Int64 { entries[index].timestamp }

    public func position(_ index: Int) -> (stream: String, position: String) {
        switch positions {
        case .counter(let stream, let first): (stream, String(first + UInt64(index)))
        case .each(let streams, let positions): (streams[index], positions[index])
        }
    }

    func value(_ index: Int, in values: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: values[(index == 0 ? 0 : entries[index - 1].end)..<entries[index].end])
    }
}

/// What a source needs to write events itself: the core's encoder (the agent's host and the source kind)
/// and the largest value the broker takes.
public struct LogEventEncoding: Sendable {
    let encoder: LogRecordEncoder
    let maxValueBytes: Int

    public init(host: String, sourceKind: String, maxValueBytes: Int) {
        encoder = LogRecordEncoder(host: host, sourceKind: sourceKind)
        self.maxValueBytes = maxValueBytes
    }
}

/// Writes events as JSON values into one growing buffer: `begin`, any `field`s, `end`, per event; `take`
/// hands over what was written. The same JSON as `LogRecordEncoder` writes for the equivalent `LogEvent`.
public struct LogEventWriter: ~Copyable {
    private let encoding: LogEventEncoding
    private var json: JSONBytes
    /// What the buffer starts with, and keeps after `take` (an idle connection should not hold its largest
    /// read's worth).
    private let initialCapacity: Int
    private var timestamps = RFC3339.Cache()
    private var entries: [EncodedEvents.Entry] = []
    // The event being written.
    private var eventStart = 0
    private var firstField = true
    private var flags: LogEventFlags = []
    private var messageValid = true
    /// A message that is not UTF-8, kept for its base64 in `end`.
    private var invalidMessage: [UInt8] = []

    public init(_ encoding: LogEventEncoding, capacity: Int = 16 << 10) {
        self.encoding = encoding
        json = JSONBytes(capacity: capacity)
        initialCapacity = capacity
    }

    public var count: Int { entries.count }
    public var byteCount: Int { json.count }

    /// Starts an event. `host` and `unit` must be UTF-8 (a header's printable ASCII is).
    public mutating func begin(
        timestamp: Int64, host: UnsafeRawBufferPointer?, unit: UnsafeRawBufferPointer?, severity: UInt8?,
        message: UnsafeRawBufferPointer, flags: LogEventFlags = []
    ) {
        let message = message.assumingMemoryBound(to: UInt8.self)
        self.flags = flags
        eventStart = json.count
        messageValid = encoding.encoder.writeHead(
            timestamp: timestamp, host: host?.assumingMemoryBound(to: UInt8.self),
            unit: unit?.assumingMemoryBound(to: UInt8.self), severity: severity, message: message, into: &json,
            timestamps: &timestamps)
        if !messageValid { invalidMessage = Array(message) }
        firstField = true
        entries.append(EncodedEvents.Entry(end: 0, timestamp: timestamp))
    }

    /// The size of the last event's value, and the most the broker takes: a writer cuts the message of an event
    /// that is too large (`dropLast`, then again with less) as the core does for `LogEvent`s.
    public var lastValueBytes: Int { json.count - eventStart }
    public var maxValueBytes: Int { encoding.maxValueBytes }

    /// Forgets the last event, written or begun.
    public mutating func dropLast() {
        json.truncate(to: eventStart)
        entries.removeLast()
        invalidMessage = []
    }

    /// A string field whose value is UTF-8 bytes.
    public mutating func field(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        key(name)
        json.quoted(value.assumingMemoryBound(to: UInt8.self))
    }

    public mutating func field(_ name: StaticString, _ value: StaticString) {
        field(name, UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    public mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        json.string(value)
    }

    public mutating func field(_ name: String, _ value: String) {
        LogRecordEncoder.key(name, first: &firstField, into: &json)
        json.string(value)
    }

    /// A string field holding a decimal number.
    public mutating func field(_ name: StaticString, decimal value: Int) {
        key(name)
        json.byte(UInt8(ascii: "\""))
        json.integer(Int64(value))
        json.byte(UInt8(ascii: "\""))
    }

    public mutating func end() {
        invalidMessage.withUnsafeBufferPointer { message in
            LogRecordEncoder.writeTail(
                flags: flags, messageValid: messageValid, message: message, first: &firstField, into: &json)
        }
        if !messageValid { invalidMessage = [] }
        entries[entries.count - 1].end = json.count
    }

    /// A whole `LogEvent`, as `LogRecordEncoder` writes it (cut to fit, as the core does for any source).
    public mutating func append(_ event: LogEvent) {
        let start = json.count
        encoding.encoder.write(event, into: &json, timestamps: &timestamps)
        if json.count - start > encoding.maxValueBytes {
            json.truncate(to: start)
            json.append(
                encoding.encoder.encodeFitting(event, maxBytes: encoding.maxValueBytes, timestamps: &timestamps))
        }
        entries.append(EncodedEvents.Entry(end: json.count, timestamp: event.timestampMilliseconds))
    }

    /// What was written, numbered from 0 of `stream` until the source numbers it; the writer starts over.
    public mutating func take(stream: String) -> EncodedEvents {
        take(positions: .counter(stream: stream, first: 0))
    }

    mutating func take(positions: EncodedEvents.Positions) -> EncodedEvents {
        let values = json.withUnsafeBytes { [UInt8]($0) }
        let taken = EncodedEvents(values: values, entries: entries, positions: positions)
        // A busy connection keeps its buffer; one whose last read was small gives a grown one back.
        if json.capacity > initialCapacity, values.count < json.capacity / 4 {
            json = JSONBytes(capacity: initialCapacity)
        } else {
            json.reset()
        }
        entries.removeAll(keepingCapacity: true)
        return taken
    }

    private mutating func key(_ name: StaticString) {
        LogRecordEncoder.key(
            UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), first: &firstField, into: &json)
    }
}
