import SkeinProtocol

/// Writes a `LogEvent` as the README's log record: one JSON object per record.
///
/// This runs once per shipped line, so it writes straight into one scratch buffer that a batch of records
/// reuses (`write(_:into:timestamps:)`), with plain stores once room is reserved, and the caller makes one
/// exact-size copy per record: no intermediate tree, no key sorting, no growing array per record, and the
/// common case (printable ASCII) copied in runs rather than byte by byte.
public struct LogRecordEncoder: Sendable {
    public let host: String
    public let sourceKind: String
    /// `,"host":…,"source":…` for the agent's own host, encoded once.
    private let prefix: [UInt8]
    private let hostBytes: [UInt8]
    private let sourceSuffix: [UInt8]

    public init(host: String, sourceKind: String) {
        self.host = host
        self.sourceKind = sourceKind
        self.hostBytes = Array(host.utf8)
        var json = JSONBytes()
        json.raw(",\"source\":")
        json.string(sourceKind)
        sourceSuffix = json.array
        json.reset()
        json.raw(",\"host\":")
        json.string(host)
        json.append(sourceSuffix)
        prefix = json.array
    }

    public func encode(_ event: LogEvent) -> [UInt8] {
        var timestamps = RFC3339.Cache()
        return encode(event, timestamps: &timestamps)
    }

    /// The same, with the date and time of the previous record's second kept in `timestamps` across the
    /// records of one batch (lines read together mostly share it).
    public func encode(_ event: LogEvent, timestamps: inout RFC3339.Cache) -> [UInt8] {
        var json = JSONBytes(capacity: event.message.count + 160 + event.fields.count * 32)
        write(event, into: &json, timestamps: &timestamps)
        return json.array
    }

    /// The record's value, cut (and flagged `truncated`) when it would exceed `maxBytes`: a record the broker
    /// refuses (`message.max.bytes`) would abort every transaction it is in, for good.
    func encodeFitting(_ event: LogEvent, maxBytes: Int, timestamps: inout RFC3339.Cache) -> [UInt8] {
        let value = encode(event, timestamps: &timestamps)
        guard value.count > maxBytes else { return value }
        var cut = event
        cut.flags.insert(.truncated)
        var keep = Self.shorterMessage(event.message.count, valueBytes: value.count, maxBytes: maxBytes)
        while true {
            cut.message = Array(event.message.prefix(keep))
            let shorter = encode(cut)
            if shorter.count <= maxBytes || keep == 0 { return shorter }
            keep = Self.shorterMessage(keep, valueBytes: shorter.count, maxBytes: maxBytes)
        }
    }

    /// How much of a message of `length` bytes to keep when its value came to `valueBytes`: in proportion
    /// (escaping makes some messages six times their size, so cutting only the excess is not enough), with
    /// a margin for the rest of the record, and always less than before.
    public static func shorterMessage(_ length: Int, valueBytes: Int, maxBytes: Int) -> Int {
        let proportional = Int(Double(length) * Double(max(0, maxBytes - 1024)) / Double(max(1, valueBytes)))
        return max(0, min(length - 1, proportional))
    }

    /// Appends the record's JSON to `json`.
    func write(_ event: LogEvent, into json: inout JSONBytes, timestamps: inout RFC3339.Cache) {
        let valid = event.message.withUnsafeBufferPointer { message in
            Self.withUTF8(event.host) { host in
                Self.withUTF8(event.unit) { unit in
                    writeHead(
                        timestamp: event.timestampMilliseconds, host: host, unit: unit, severity: event.severity,
                        message: message, into: &json, timestamps: &timestamps)
                }
            }
        }
        var first = true
        for index in event.fields.indices {
            Self.key(event.fields[index].0, first: &first, into: &json)
            switch event.fields[index].1 {
            case .string(let text): json.string(text)
            case .integer(let number): json.integer(number)
            case .double(let number):
                if number.isFinite { json.append(Array(number.description.utf8)) } else { json.raw("null") }
            case .boolean(let flag):
                if flag { json.raw("true") } else { json.raw("false") }
            }
        }
        event.message.withUnsafeBufferPointer { message in
            Self.writeTail(flags: event.flags, messageValid: valid, message: message, first: &first, into: &json)
        }
    }

    /// Everything up to the opening of `fields`: `{"timestamp":…,"host":…,"source":…,"unit":…,"severity":…,
    /// "message":…,"fields":{`. Returns whether the message is valid UTF-8 (`writeTail` then adds its bytes).
    func writeHead(
        timestamp: Int64, host entryHost: UnsafeBufferPointer<UInt8>?, unit: UnsafeBufferPointer<UInt8>?,
        severity: UInt8?, message: UnsafeBufferPointer<UInt8>, into json: inout JSONBytes,
        timestamps: inout RFC3339.Cache
    ) -> Bool {
        json.raw("{\"timestamp\":\"")
        RFC3339.appendUTC(milliseconds: timestamp, to: &json, cache: &timestamps)
        json.byte(UInt8(ascii: "\""))
        if let entryHost, !hostBytes.elementsEqual(entryHost) {
            json.raw(",\"host\":")
            json.quoted(entryHost)
            json.append(sourceSuffix)
        } else {
            json.append(prefix)
        }
        if let unit {
            json.raw(",\"unit\":")
            json.quoted(unit)
        }
        if let severity, severity < 8 {
            json.raw(",\"severity\":")
            json.string(Self.severityNames[Int(severity)])
        }
        json.raw(",\"message\":")
        let valid = json.utf8String(message)
        json.raw(",\"fields\":{")
        return valid
    }

    /// The flags' fields, the original bytes of a message that was not UTF-8, and the closing braces.
    static func writeTail(
        flags: LogEventFlags, messageValid: Bool, message: UnsafeBufferPointer<UInt8>, first: inout Bool,
        into json: inout JSONBytes
    ) {
        if flags.contains(.truncated) {
            key("truncated", first: &first, into: &json)
            json.raw("true")
        }
        if flags.contains(.split) {
            key("split", first: &first, into: &json)
            json.raw("true")
        }
        if flags.contains(.multilineFlushed) {
            key("multiline_flushed", first: &first, into: &json)
            json.raw("true")
        }
        if !messageValid {
            key("invalid_utf8", first: &first, into: &json)
            json.raw("true")
            key("message_base64", first: &first, into: &json)
            json.byte(UInt8(ascii: "\""))
            Base64.append(Array(message), to: &json)
            json.byte(UInt8(ascii: "\""))
        }
        json.raw("}}")
    }

    static func withUTF8<R>(_ text: String?, _ body: (UnsafeBufferPointer<UInt8>?) -> R) -> R {
        guard var text else { return body(nil) }
        return text.withUTF8 { body($0) }
    }

    /// A field's name (quoted) and colon, after a comma unless it is the first.
    static func key(_ name: UnsafeBufferPointer<UInt8>, first: inout Bool, into json: inout JSONBytes) {
        if !first { json.byte(UInt8(ascii: ",")) }
        first = false
        json.quoted(name)
        json.byte(UInt8(ascii: ":"))
    }

    static func key(_ name: String, first: inout Bool, into json: inout JSONBytes) {
        if !first { json.byte(UInt8(ascii: ",")) }
        first = false
        json.string(name)
        json.byte(UInt8(ascii: ":"))
    }

    /// syslog's names, as `skein logs --severity` and journalctl spell them.
    public static let severityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
}

/// A growing JSON text in memory it owns, written with plain stores after one capacity check per piece.
///
/// Not an array: a profile put 7.5 % of the agent's CPU into `Array.append(contentsOf:)` on the small pieces
/// of each record (a uniqueness and a capacity check each). One buffer serves a whole batch (`reset`), and
/// `array` is the one exact-size copy a record keeps.
struct JSONBytes: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 256) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    mutating func reset() { count = 0 }

    /// Drops what was written after the first `length` bytes.
    mutating func truncate(to length: Int) { count = min(count, length) }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The text so far, as an array of exactly its size.
    var array: [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
    }

    /// Room for `extra` more bytes; pieces then write without checks.
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private mutating func grow(to needed: Int) {
        base = base.grown(keeping: count, capacity: &capacity, toAtLeast: needed)
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        reserve(1)
        base[count] = value
        count += 1
    }

    mutating func raw(_ text: StaticString) {
        append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    mutating func integer(_ value: Int64) {
        append(Array(String(value).utf8))
    }

    mutating func string(_ text: String) {
        var copy = text
        copy.withUTF8 { _ = appendQuoted($0, validate: false) }
    }

    /// Text known to be UTF-8 (a String's, or printable ASCII from a header), quoted and escaped.
    mutating func quoted(_ text: UnsafeBufferPointer<UInt8>) {
        _ = appendQuoted(text, validate: false)
    }

    /// Appends `raw` as a JSON string. Invalid UTF-8 sequences become U+FFFD; returns whether the input
    /// was valid, so the caller can keep the original bytes beside it.
    mutating func utf8String(_ raw: [UInt8]) -> Bool {
        raw.withUnsafeBufferPointer { appendQuoted($0, validate: true) }
    }

    mutating func utf8String(_ raw: UnsafeBufferPointer<UInt8>) -> Bool {
        appendQuoted(raw, validate: true)
    }

    private mutating func appendQuoted(_ input: UnsafeBufferPointer<UInt8>, validate: Bool) -> Bool {
        // The longest the text can become: six bytes (`\u00XX`) per input byte, plus the quotes. An invalid
        // byte becomes three (U+FFFD).
        reserve(input.count * 6 + 2)
        let out = base
        var at = count
        out[at] = UInt8(ascii: "\"")
        at += 1
        var valid = true
        var index = 0
        let total = input.count
        guard let source = input.baseAddress else {
            out[at] = UInt8(ascii: "\"")
            count = at + 1
            return true
        }
        while index < total {
            // Copy the longest run that needs no escaping and is plain ASCII in one move, found eight bytes
            // at a time first.
            var end = index
            while end + 8 <= total,
                !Self.needsEscapeOrValidation(UnsafeRawPointer(source + end).loadUnaligned(as: UInt64.self))
            {
                end += 8
            }
            while end < total, source[end] >= 0x20, source[end] < 0x80, source[end] != 0x22, source[end] != 0x5C {
                end += 1
            }
            if end > index {
                (out + at).update(from: source + index, count: end - index)
                at += end - index
                index = end
                if index == total { break }
            }
            let byte = source[index]
            if byte < 0x80 {
                out[at] = UInt8(ascii: "\\")
                switch byte {
                case 0x22: out[at + 1] = 0x22
                case 0x5C: out[at + 1] = 0x5C
                case 0x0A: out[at + 1] = UInt8(ascii: "n")
                case 0x0D: out[at + 1] = UInt8(ascii: "r")
                case 0x09: out[at + 1] = UInt8(ascii: "t")
                default:
                    out[at + 1] = UInt8(ascii: "u")
                    out[at + 2] = UInt8(ascii: "0")
                    out[at + 3] = UInt8(ascii: "0")
                    out[at + 4] = Self.hexDigit(byte >> 4)
                    out[at + 5] = Self.hexDigit(byte & 0xF)
                    at += 4
                }
                at += 2
                index += 1
                continue
            }
            let length = validate ? Self.validSequenceLength(input, at: index) : Self.sequenceLength(byte)
            if length == 0 {
                valid = false
                out[at] = 0xEF
                out[at + 1] = 0xBF
                out[at + 2] = 0xBD
                at += 3
                index += 1
            } else {
                let kept = min(length, total - index)
                (out + at).update(from: source + index, count: kept)
                at += kept
                index += kept
            }
        }
        out[at] = UInt8(ascii: "\"")
        count = at + 1
        return valid
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Whether any of the eight bytes is a control byte, non-ASCII, `"` or `\\` (exact as a yes/no; the byte
    /// loop then finds which).
    @inline(__always)
    static func needsEscapeOrValidation(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below0x20 = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote & highs
        let hasBackslash = (backslash &- ones) & ~backslash & highs
        return (word & highs) | below0x20 | hasQuote | hasBackslash != 0
    }

    private static func sequenceLength(_ lead: UInt8) -> Int {
        lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
    }

    /// The length of the well-formed UTF-8 sequence at `index` (RFC 3629: no overlongs, no surrogates,
    /// nothing above U+10FFFF), or 0.
    private static func validSequenceLength(_ input: UnsafeBufferPointer<UInt8>, at index: Int) -> Int {
        let lead = input[index]
        let remaining = input.count - index
        func continuation(_ offset: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            offset < remaining && input[index + offset] >= low && input[index + offset] <= high
        }
        switch lead {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }
}

enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func append(_ input: [UInt8], to output: inout JSONBytes) {
        var text: [UInt8] = []
        text.reserveCapacity((input.count + 2) / 3 * 4)
        append(input, to: &text)
        output.append(text)
    }

    static func append(_ input: [UInt8], to output: inout [UInt8]) {
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            for shift in [18, 12, 6, 0] { output.append(alphabet[Int((chunk >> UInt32(shift)) & 63)]) }
            index += 3
        }
        let rest = input.count - index
        if rest > 0 {
            var chunk = UInt32(input[index]) << 16
            if rest == 2 { chunk |= UInt32(input[index + 1]) << 8 }
            output.append(alphabet[Int((chunk >> 18) & 63)])
            output.append(alphabet[Int((chunk >> 12) & 63)])
            output.append(rest == 2 ? alphabet[Int((chunk >> 6) & 63)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
    }
}

/// `2026-12-05T01:02:03.456Z` without Foundation's formatters, which allocate per call.
public enum RFC3339 {
    /// The last second written and its `YYYY-MM-DDTHH:MM:SS` text.
    public struct Cache: Sendable {
        var second = Int64.min
        var text: [UInt8] = []
        public init() {}

        mutating func set(second: Int64) {
            var text: [UInt8] = []
            text.reserveCapacity(24)
            RFC3339.appendUTC(milliseconds: second * 1000, to: &text)
            text.removeLast(5)
            self.second = second
            self.text = text
        }
    }

    static func appendUTC(milliseconds: Int64, to out: inout JSONBytes, cache: inout Cache) {
        let millis = Int(((milliseconds % 1000) + 1000) % 1000)
        let second = (milliseconds - Int64(millis)) / 1000
        if second != cache.second { cache.set(second: second) }
        out.append(cache.text)
        out.reserve(5)
        out.byte(UInt8(ascii: "."))
        out.byte(UInt8(ascii: "0") + UInt8(millis / 100))
        out.byte(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.byte(UInt8(ascii: "0") + UInt8(millis % 10))
        out.byte(UInt8(ascii: "Z"))
    }

    static func appendUTC(milliseconds: Int64, to out: inout [UInt8], cache: inout Cache) {
        let millis = Int(((milliseconds % 1000) + 1000) % 1000)
        let second = (milliseconds - Int64(millis)) / 1000
        if second != cache.second { cache.set(second: second) }
        out.append(contentsOf: cache.text)
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(millis / 100))
        out.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis % 10))
        out.append(UInt8(ascii: "Z"))
    }

    static func appendUTC(milliseconds: Int64, to out: inout [UInt8]) {
        let millis = Int(((milliseconds % 1000) + 1000) % 1000)
        var seconds = (milliseconds - Int64(millis)) / 1000
        let secondOfDay = Int(((seconds % 86_400) + 86_400) % 86_400)
        seconds -= Int64(secondOfDay)
        let (year, month, day) = civil(fromDays: seconds / 86_400)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(year), 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(millis, 3)
        out.append(UInt8(ascii: "Z"))
    }

    /// Days since 1970-01-01 → proleptic Gregorian date (Howard Hinnant's days-to-civil algorithm).
    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
