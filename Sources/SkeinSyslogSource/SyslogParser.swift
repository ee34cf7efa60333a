/// One syslog message as its header describes it. Pure data: the parser does no I/O and never fails;
/// what it cannot read is kept raw with `parseError` set, because a log line must never be lost for the
/// shape of its header.
public struct SyslogMessage: Equatable, Sendable {
    public enum Format: String, Sendable {
        case rfc5424, rfc3164
        /// Kept as received: the header could not be read (`parseError` says why).
        case raw
    }

    public var format: Format
    /// From the header; nil when it has none (the receiver then stamps the time it read the message).
    public var timestampMilliseconds: Int64?
    /// From PRI; nil when the message has no PRI.
    public var facility: UInt8?
    public var severity: UInt8?
    public var hostname: String?
    /// RFC 5424 APP-NAME or the RFC 3164 tag.
    public var appName: String?
    /// RFC 5424 PROCID or the pid in a tag's brackets.
    public var procId: String?
    public var msgId: String?
    /// `sd.<SD-ID>.<PARAM-NAME>` → value, in the order written; an element without parameters is
    /// `sd.<SD-ID>` → "".
    public var structuredData: [(name: String, value: String)]
    /// Cisco's leading sequence number (`<189>123: *Mar  1 …`).
    public var sequence: String?
    public var message: [UInt8]
    public var parseError: String?

    public init(
        format: Format, timestampMilliseconds: Int64? = nil, facility: UInt8? = nil, severity: UInt8? = nil,
        hostname: String? = nil, appName: String? = nil, procId: String? = nil, msgId: String? = nil,
        structuredData: [(name: String, value: String)] = [], sequence: String? = nil, message: [UInt8],
        parseError: String? = nil
    ) {
        self.format = format
        self.timestampMilliseconds = timestampMilliseconds
        self.facility = facility
        self.severity = severity
        self.hostname = hostname
        self.appName = appName
        self.procId = procId
        self.msgId = msgId
        self.structuredData = structuredData
        self.sequence = sequence
        self.message = message
        self.parseError = parseError
    }

    public static func == (lhs: SyslogMessage, rhs: SyslogMessage) -> Bool {
        lhs.format == rhs.format && lhs.timestampMilliseconds == rhs.timestampMilliseconds
            && lhs.facility == rhs.facility && lhs.severity == rhs.severity && lhs.hostname == rhs.hostname
            && lhs.appName == rhs.appName && lhs.procId == rhs.procId && lhs.msgId == rhs.msgId
            && lhs.structuredData.map(\.name) == rhs.structuredData.map(\.name)
            && lhs.structuredData.map(\.value) == rhs.structuredData.map(\.value) && lhs.sequence == rhs.sequence
            && lhs.message == rhs.message && lhs.parseError == rhs.parseError
    }

    /// RFC 5424's facility names (numbers 12–15 have no agreed keyword; these are rsyslog's).
    public static let facilityNames = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
        "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
        "local7",
    ]
}

/// What the parser read, as ranges of the message's bytes. The syslog source writes records straight from
/// these (no strings or arrays per message unless it carries structured data); `SyslogMessage` is the same
/// with its strings made.
struct SyslogHeader {
    var format: SyslogMessage.Format
    var timestampMilliseconds: Int64?
    var facility: UInt8?
    var severity: UInt8?
    var hostname: Range<Int>?
    var appName: Range<Int>?
    var procId: Range<Int>?
    var msgId: Range<Int>?
    var structuredData: [(name: String, value: String)] = []
    var sequence: Int?
    var message: Range<Int>
    var parseError: String?

    init(format: SyslogMessage.Format, message: Range<Int>, parseError: String? = nil) {
        self.format = format
        self.message = message
        self.parseError = parseError
    }
}

extension SyslogMessage {
    init(_ header: SyslogHeader, in bytes: UnsafeBufferPointer<UInt8>) {
        func text(_ range: Range<Int>?) -> String? {
            range.map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
        }
        self.init(
            format: header.format, timestampMilliseconds: header.timestampMilliseconds, facility: header.facility,
            severity: header.severity, hostname: text(header.hostname), appName: text(header.appName),
            procId: text(header.procId), msgId: text(header.msgId), structuredData: header.structuredData,
            sequence: header.sequence.map(String.init), message: Array(bytes[header.message]),
            parseError: header.parseError)
    }
}

/// RFC 5424, RFC 3164 and what senders really write: no hostname, ISO timestamps, no year, tags with and
/// without `[pid]`, Cisco's sequence numbers and `*` for an unsynchronised clock, no PRI at all.
public struct SyslogParser: Sendable {
    /// Offset of the zone that timestamps without one (every BSD timestamp) are read in, when fixed.
    public var utcOffsetSeconds: Int
    /// The agent's zone, followed across daylight saving changes; when set, it decides instead.
    let localZone: LocalZoneOffset?

    public init(utcOffsetSeconds: Int = 0) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.localZone = nil
    }

    /// Reads zone-less timestamps in the agent's local zone as it is when each message arrives.
    init(localZone: LocalZoneOffset) {
        self.utcOffsetSeconds = 0
        self.localZone = localZone
    }

    private func offset(at now: Int64) -> Int { localZone?.seconds(at: now) ?? utcOffsetSeconds }

    /// `now` (Unix milliseconds) resolves a BSD timestamp's missing year.
    public func parse(_ bytes: [UInt8], now: Int64) -> SyslogMessage {
        bytes.withUnsafeBufferPointer { parse($0, now: now) }
    }

    public func parse(_ bytes: UnsafeRawBufferPointer, now: Int64) -> SyslogMessage {
        parse(bytes.assumingMemoryBound(to: UInt8.self), now: now)
    }

    public func parse(_ bytes: UnsafeBufferPointer<UInt8>, now: Int64) -> SyslogMessage {
        SyslogMessage(scan(bytes, now: now), in: bytes)
    }

    /// The header's parts as ranges of `bytes`.
    func scan(_ bytes: UnsafeBufferPointer<UInt8>, now: Int64) -> SyslogHeader {
        var cursor = ByteCursor(bytes)
        guard !bytes.isEmpty else { return SyslogHeader(format: .raw, message: 0..<0, parseError: "empty message") }
        var facility: UInt8?
        var severity: UInt8?
        if cursor.peek == UInt8(ascii: "<") {
            guard let pri = cursor.priority() else {
                return SyslogHeader(format: .raw, message: 0..<bytes.count, parseError: "invalid PRI")
            }
            facility = pri >> 3
            severity = pri & 7
        }
        // "<PRI>1 " is RFC 5424; a BSD header never starts with a digit and a space.
        if facility != nil, let version = cursor.version5424() {
            var message = parse5424(&cursor, version: version, bytes: bytes, now: now)
            message.facility = facility
            message.severity = severity
            return message
        }
        var message = parse3164(&cursor, now: now)
        message.facility = facility
        message.severity = severity
        return message
    }

    // MARK: RFC 5424

    private func parse5424(_ cursor: inout ByteCursor, version: Int, bytes: UnsafeBufferPointer<UInt8>, now: Int64)
        -> SyslogHeader
    {
        func failure(_ reason: String) -> SyslogHeader {
            SyslogHeader(format: .raw, message: 0..<bytes.count, parseError: "rfc5424: \(reason)")
        }
        /// NILVALUE: a lone '-'.
        func value(_ range: Range<Int>) -> Range<Int>? {
            range.count == 1 && bytes[range.lowerBound] == UInt8(ascii: "-") ? nil : range
        }
        guard version == 1 else { return failure("unknown version \(version)") }
        var result = SyslogHeader(format: .rfc5424, message: 0..<0)
        if cursor.skip(UInt8(ascii: "-")) {
        } else if let time = cursor.isoTimestamp(defaultOffset: offset(at: now), allowSpace: false) {
            result.timestampMilliseconds = time
        } else {
            return failure("invalid TIMESTAMP")
        }
        guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after TIMESTAMP") }
        // The four header fields, without arrays: this runs for every message.
        guard let hostname = cursor.token(maxLength: 255) else { return failure("invalid HOSTNAME") }
        guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after HOSTNAME") }
        guard let appName = cursor.token(maxLength: 48) else { return failure("invalid APP-NAME") }
        guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after APP-NAME") }
        guard let procId = cursor.token(maxLength: 128) else { return failure("invalid PROCID") }
        guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after PROCID") }
        guard let msgId = cursor.token(maxLength: 32) else { return failure("invalid MSGID") }
        guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after MSGID") }
        result.hostname = value(hostname)
        result.appName = value(appName)
        result.procId = value(procId)
        result.msgId = value(msgId)
        if cursor.skip(UInt8(ascii: "-")) {
        } else if cursor.peek == UInt8(ascii: "[") {
            guard let elements = cursor.structuredData() else { return failure("invalid STRUCTURED-DATA") }
            result.structuredData = elements
        } else {
            return failure("invalid STRUCTURED-DATA")
        }
        if !cursor.atEnd {
            guard cursor.skip(UInt8(ascii: " ")) else { return failure("no space after STRUCTURED-DATA") }
            // A UTF-8 byte order mark marks the MSG as UTF-8; it is not part of the text.
            if cursor.remaining.starts(with: [0xEF, 0xBB, 0xBF]) { cursor.index += 3 }
        }
        result.message = min(cursor.index, bytes.count)..<bytes.count
        return result
    }

    // MARK: RFC 3164 and what is seen in practice

    private func parse3164(_ cursor: inout ByteCursor, now: Int64) -> SyslogHeader {
        var result = SyslogHeader(format: .rfc3164, message: 0..<0)
        // Cisco IOS: "<189>123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: …"
        let start = cursor.index
        if let digits = cursor.digits(max: 10), cursor.skip(UInt8(ascii: ":")), cursor.skip(UInt8(ascii: " ")) {
            result.sequence = digits
        } else {
            cursor.index = start
        }
        let beforeTime = cursor.index
        // '*' or '.' before a Cisco timestamp: the clock is not synchronised (it is still the time given).
        if cursor.peek == UInt8(ascii: "*") || cursor.peek == UInt8(ascii: ".") { cursor.index += 1 }
        if let time = cursor.bsdTimestamp(offsetSeconds: offset(at: now), now: now)
            ?? cursor.isoTimestamp(defaultOffset: offset(at: now), allowSpace: true)
        {
            result.timestampMilliseconds = time
            cursor.skipTimeZoneAbbreviation()
            _ = cursor.skip(UInt8(ascii: ":"))
            guard cursor.skip(UInt8(ascii: " ")) || cursor.atEnd else {
                // Digits glued to something else: not a timestamp after all.
                cursor.index = beforeTime
                result.timestampMilliseconds = nil
                return finish3164(&cursor, result, hostnameAllowed: false)
            }
            while cursor.skip(UInt8(ascii: " ")) {}
            return finish3164(&cursor, result, hostnameAllowed: true)
        }
        cursor.index = beforeTime
        return finish3164(&cursor, result, hostnameAllowed: false)
    }

    /// After the timestamp: `HOSTNAME TAG: MSG`, `TAG: MSG` (no hostname: what local senders and many
    /// devices write) or just `MSG`. A first word ending in ':' or carrying `[pid]` is a tag; otherwise a word
    /// that can be a host name is one.
    private func finish3164(_ cursor: inout ByteCursor, _ partial: SyslogHeader, hostnameAllowed: Bool)
        -> SyslogHeader
    {
        var result = partial
        if let tag = cursor.tag() {
            (result.appName, result.procId) = tag
        } else if hostnameAllowed, let host = cursor.hostname() {
            result.hostname = host
            if let tag = cursor.tag() { (result.appName, result.procId) = tag }
        }
        result.message = min(cursor.index, cursor.bytes.count)..<cursor.bytes.count
        return result
    }
}

/// A read position in one message. Every method either consumes what it recognises and returns it, or
/// leaves the position where it was and returns nil.
struct ByteCursor {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    var remaining: Slice<UnsafeBufferPointer<UInt8>> { bytes[min(index, bytes.count)...] }

    func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    static func isDigit(_ byte: UInt8?) -> Bool {
        guard let byte else { return false }
        return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// 1 to `max` decimal digits.
    mutating func digits(max: Int) -> Int? {
        var value = 0
        var count = 0
        while count < max, Self.isDigit(peek) {
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
            count += 1
        }
        if count == 0 { return nil }
        if Self.isDigit(peek) {
            index -= count
            return nil
        }
        return value
    }

    /// Exactly `count` digits.
    mutating func fixedDigits(_ count: Int) -> Int? {
        var value = 0
        for offset in 0..<count {
            guard Self.isDigit(peek(offset)) else { return nil }
            value = value * 10 + Int(bytes[index + offset] - UInt8(ascii: "0"))
        }
        index += count
        return value
    }

    /// `<0>` … `<191>`, no leading zeros but `<0>` itself (RFC 5424 §6.2.1, which RFC 3164 senders follow).
    mutating func priority() -> UInt8? {
        let start = index
        guard skip(UInt8(ascii: "<")), let first = peek, Self.isDigit(first) else {
            index = start
            return nil
        }
        guard let value = digits(max: 3), skip(UInt8(ascii: ">")), value <= 191,
            first != UInt8(ascii: "0") || value == 0 && index - start == 3
        else {
            index = start
            return nil
        }
        return UInt8(value)
    }

    /// RFC 5424's VERSION and the space after it.
    mutating func version5424() -> Int? {
        let start = index
        guard let first = peek, first != UInt8(ascii: "0"), let version = digits(max: 2),
            skip(UInt8(ascii: " "))
        else {
            index = start
            return nil
        }
        return version
    }

    /// A run of printable ASCII up to a space, 1 to `maxLength` bytes.
    mutating func token(maxLength: Int) -> Range<Int>? {
        let start = index
        while let byte = peek, byte > 32, byte < 127 { index += 1 }
        guard index > start, index - start <= maxLength else {
            index = start
            return nil
        }
        return start..<index
    }

    /// `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`; with `allowSpace`, a space may stand for the `T` and the zone
    /// may be missing (then `defaultOffset` applies), as ISO-style BSD headers write it.
    mutating func isoTimestamp(defaultOffset: Int, allowSpace: Bool) -> Int64? {
        let start = index
        func fail() -> Int64? {
            index = start
            return nil
        }
        guard let year = fixedDigits(4), skip(UInt8(ascii: "-")), let month = fixedDigits(2),
            skip(UInt8(ascii: "-")), let day = fixedDigits(2)
        else { return fail() }
        guard skip(UInt8(ascii: "T")) || (allowSpace && peek == UInt8(ascii: " ") && Self.isDigit(peek(1))) else {
            return fail()
        }
        if bytes[index - 1] != UInt8(ascii: "T") { index += 1 }
        guard let (hour, minute, second) = clock() else { return fail() }
        let millisecond = fraction()
        var offset = defaultOffset
        if skip(UInt8(ascii: "Z")) || skip(UInt8(ascii: "z")) {
            offset = 0
        } else if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
            let negative = bytes[index] == UInt8(ascii: "-")
            index += 1
            guard let hours = fixedDigits(2), skip(UInt8(ascii: ":")), let minutes = fixedDigits(2),
                hours <= 23, minutes <= 59
            else { return fail() }
            offset = (hours * 3600 + minutes * 60) * (negative ? -1 : 1)
        } else if !allowSpace {
            return fail()
        }
        guard (1...12).contains(month), (1...31).contains(day) else { return fail() }
        return SyslogCalendar.milliseconds(
            year: year, month: month, day: day, hour: hour, minute: minute, second: second,
            millisecond: millisecond, offsetSeconds: offset)
    }

    /// `hh:mm:ss` (a leap second 60 is accepted).
    mutating func clock() -> (Int, Int, Int)? {
        let start = index
        guard let hour = fixedDigits(2), skip(UInt8(ascii: ":")), let minute = fixedDigits(2),
            skip(UInt8(ascii: ":")), let second = fixedDigits(2), hour <= 23, minute <= 59, second <= 60
        else {
            index = start
            return nil
        }
        return (hour, minute, second)
    }

    /// `.digits` after the seconds, as milliseconds (extra digits ignored).
    mutating func fraction() -> Int {
        guard peek == UInt8(ascii: "."), Self.isDigit(peek(1)) else { return 0 }
        index += 1
        var millisecond = 0
        var count = 0
        while Self.isDigit(peek) {
            if count < 3 { millisecond = millisecond * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
            count += 1
            index += 1
        }
        if count < 3 { for _ in count..<3 { millisecond *= 10 } }
        return millisecond
    }

    /// `Mmm dd hh:mm:ss[.frac]`, `Mmm dd yyyy hh:mm:ss` or `Mmm dd hh:mm:ss yyyy`: the day may be padded with
    /// a space or a zero. Without a year, the nearest past one.
    mutating func bsdTimestamp(offsetSeconds: Int, now: Int64) -> Int64? {
        let start = index
        func fail() -> Int64? {
            index = start
            return nil
        }
        guard index + 3 <= bytes.count else { return fail() }
        let name = bytes[index..<index + 3]
        guard let monthIndex = SyslogCalendar.monthNames.firstIndex(where: { $0.elementsEqual(name) }) else {
            return fail()
        }
        index += 3
        guard skip(UInt8(ascii: " ")) else { return fail() }
        _ = skip(UInt8(ascii: " "))
        guard let day = digits(max: 2), (1...31).contains(day), skip(UInt8(ascii: " ")) else { return fail() }
        var year: Int?
        if Self.isDigit(peek), Self.isDigit(peek(3)), peek(4) == UInt8(ascii: " ") {
            year = fixedDigits(4)
            index += 1
        }
        guard let (hour, minute, second) = clock() else { return fail() }
        let millisecond = fraction()
        if year == nil, peek == UInt8(ascii: " "), Self.isDigit(peek(1)), Self.isDigit(peek(4)),
            peek(5) == nil || peek(5) == UInt8(ascii: " ") || peek(5) == UInt8(ascii: ":")
        {
            index += 1
            year = fixedDigits(4)
        }
        if let year {
            return SyslogCalendar.milliseconds(
                year: year, month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second,
                millisecond: millisecond, offsetSeconds: offsetSeconds)
        }
        return SyslogCalendar.resolveYear(
            month: monthIndex + 1, day: day, hour: hour, minute: minute, second: second, millisecond: millisecond,
            offsetSeconds: offsetSeconds, now: now)
    }

    /// ` UTC` or ` CET` right after a Cisco time, before its ':' (the time is read in the agent's zone
    /// anyway; naming zones by abbreviation is ambiguous).
    mutating func skipTimeZoneAbbreviation() {
        guard peek == UInt8(ascii: " ") else { return }
        var end = index + 1
        while end < bytes.count, end - index <= 5, bytes[end] >= UInt8(ascii: "A"), bytes[end] <= UInt8(ascii: "Z") {
            end += 1
        }
        if end - index >= 4, end < bytes.count, bytes[end] == UInt8(ascii: ":") { index = end }
    }

    /// `tag: `, `tag[pid]: ` or `tag[pid] `: at most 64 bytes of tag with no space, ':' or '['. A tag must end
    /// with ':' or carry a pid, so an ordinary first word of a message is not taken for one.
    mutating func tag() -> (Range<Int>, Range<Int>?)? {
        let start = index
        while let byte = peek, byte > 32, byte < 127, byte != UInt8(ascii: ":"), byte != UInt8(ascii: "["),
            index - start < 64
        {
            index += 1
        }
        let tagEnd = index
        guard tagEnd > start else { return nil }
        var pid: Range<Int>?
        if skip(UInt8(ascii: "[")) {
            let pidStart = index
            while let byte = peek, byte != UInt8(ascii: "]"), byte > 32, byte < 127, index - pidStart < 32 {
                index += 1
            }
            guard peek == UInt8(ascii: "]"), index > pidStart else {
                index = start
                return nil
            }
            pid = pidStart..<index
            index += 1
            _ = skip(UInt8(ascii: ":"))
        } else if !skip(UInt8(ascii: ":")) {
            index = start
            return nil
        }
        guard skip(UInt8(ascii: " ")) || atEnd else {
            index = start
            return nil
        }
        return (start..<tagEnd, pid)
    }

    /// A host name or address: letters, digits, '.', '-', '_' and ':' (IPv6), up to 255 bytes, then a space.
    mutating func hostname() -> Range<Int>? {
        let start = index
        while let byte = peek, Self.isHostByte(byte), index - start < 256 { index += 1 }
        guard index > start, index - start <= 255, skip(UInt8(ascii: " ")) || atEnd else {
            index = start
            return nil
        }
        let end = atEnd && bytes[index - 1] != UInt8(ascii: " ") ? index : index - 1
        return start..<end
    }

    static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || isDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: ":")
    }

    /// One or more `[SD-ID PARAM="value" …]`; values unescape `\"`, `\\` and `\]`.
    mutating func structuredData() -> [(name: String, value: String)]? {
        let start = index
        var result: [(name: String, value: String)] = []
        func fail() -> [(name: String, value: String)]? {
            index = start
            return nil
        }
        while skip(UInt8(ascii: "[")) {
            guard let id = sdName() else { return fail() }
            var parameters = 0
            while skip(UInt8(ascii: " ")) {
                guard let name = sdName(), skip(UInt8(ascii: "=")), skip(UInt8(ascii: "\"")) else { return fail() }
                var value: [UInt8] = []
                while let byte = peek, byte != UInt8(ascii: "\"") {
                    if byte == UInt8(ascii: "\\"), let next = peek(1),
                        next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") || next == UInt8(ascii: "]")
                    {
                        value.append(next)
                        index += 2
                    } else {
                        value.append(byte)
                        index += 1
                    }
                }
                guard skip(UInt8(ascii: "\"")) else { return fail() }
                result.append(("sd.\(id).\(name)", String(decoding: value, as: UTF8.self)))
                parameters += 1
            }
            guard skip(UInt8(ascii: "]")) else { return fail() }
            if parameters == 0 { result.append(("sd.\(id)", "")) }
        }
        return result
    }

    /// SD-NAME: 1–32 printable ASCII bytes except '=', ' ', ']' and '"'.
    mutating func sdName() -> String? {
        let start = index
        while let byte = peek, byte > 32, byte < 127, byte != UInt8(ascii: "="), byte != UInt8(ascii: "]"),
            byte != UInt8(ascii: "\""), index - start < 32
        {
            index += 1
        }
        guard index > start else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }
}
