import Foundation
import SkeinClient

/// Syslog severities (RFC 5424), which journald's PRIORITY uses too. Lower is more severe.
public enum Severity: Int, Comparable, CaseIterable, Sendable {
    case emergency = 0, alert, critical, error, warning, notice, info, debug

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The short names journalctl and syslog use.
    public var name: String {
        switch self {
        case .emergency: "emerg"
        case .alert: "alert"
        case .critical: "crit"
        case .error: "err"
        case .warning: "warning"
        case .notice: "notice"
        case .info: "info"
        case .debug: "debug"
        }
    }

    /// Names ("err", "error", "WARN", "warning"…) and numbers 0–7.
    public init?(parsing text: String) {
        let lowered = text.lowercased()
        if let number = Int(lowered), let severity = Severity(rawValue: number) {
            self = severity
            return
        }
        switch lowered {
        case "emerg", "emergency", "panic": self = .emergency
        case "alert": self = .alert
        case "crit", "critical", "fatal": self = .critical
        case "err", "error": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "info", "informational", "information": self = .info
        case "debug", "trace": self = .debug
        default: return nil
        }
    }
}

/// A log record as the agents write it: a JSON object in the record value (schema in README,
/// "Log records"). Records that are not JSON objects still show, as their text with no fields.
public struct LogEntry: Sendable {
    /// Milliseconds since the epoch: the `timestamp` field, else the Kafka record's timestamp.
    public var timestamp: Int64
    public var host: String?
    public var source: String?
    public var unit: String?
    public var severity: Severity?
    public var message: String
    /// Every top-level field (and the members of a `fields` object) as text, for `--field`.
    public var fields: [String: String]

    public init(record: ConsumerRecord) {
        timestamp = record.timestamp
        fields = [:]
        guard let value = record.value, value.first == UInt8(ascii: "{"),
            let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any]
        else {
            message = String(decoding: record.value ?? [], as: UTF8.self)
            return
        }
        for (key, item) in object {
            if key == "fields", let nested = item as? [String: Any] {
                for (nestedKey, nestedItem) in nested { fields[nestedKey] = Self.text(nestedItem) }
            } else {
                fields[key] = Self.text(item)
            }
        }
        host = fields["host"]
        source = fields["source"]
        unit = fields["unit"]
        severity = fields["severity"].flatMap(Severity.init(parsing:))
        message = fields["message"] ?? ""
        if let stamp = object["timestamp"], let milliseconds = Self.milliseconds(stamp) { timestamp = milliseconds }
    }

    static func text(_ item: Any) -> String {
        switch item {
        case let string as String: return string
        case let number as NSNumber: return number.stringValue
        case is NSNull: return ""
        default:
            if let data = try? JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(item)"
        }
    }

    /// RFC 3339 text, or a number of seconds (with fraction) or milliseconds since the epoch.
    static func milliseconds(_ item: Any) -> Int64? {
        if let string = item as? String {
            return try? TimeExpression.parse(string.contains("T") || string.contains("-") ? string : "@" + string)
        }
        if let number = item as? NSNumber {
            // Out-of-range values are somebody else's bug; they fall back to the record's time.
            let value = number.doubleValue
            let milliseconds = value > 100_000_000_000 ? value : value * 1000
            guard milliseconds.isFinite, milliseconds >= 0, milliseconds <= Double(TimeExpression.latest) else {
                return nil
            }
            return Int64(milliseconds)
        }
        return nil
    }
}

/// The `skein logs` filters; all given ones must match.
public struct LogFilter: Sendable {
    public var since: Int64?
    public var until: Int64?
    public var hosts: [String] = []
    public var units: [String] = []
    /// At or above this severity (journalctl -p). Entries without a severity count as info.
    public var severity: Severity?
    public var grep: String?
    public var fields: [(key: String, value: String)] = []

    public init() {}

    public func matches(_ entry: LogEntry) -> Bool {
        if let since, entry.timestamp < since { return false }
        if let until, entry.timestamp > until { return false }
        if !hosts.isEmpty, !hosts.contains(entry.host ?? "") { return false }
        if !units.isEmpty, !units.contains(where: { Self.unit(entry.unit, matches: $0) }) { return false }
        if let severity, (entry.severity ?? .info) > severity { return false }
        for field in fields where entry.fields[field.key] != field.value { return false }
        if let grep, entry.message.range(of: grep, options: .regularExpression) == nil { return false }
        return true
    }

    /// "nginx" matches the unit "nginx.service", as `journalctl -u nginx` does.
    static func unit(_ unit: String?, matches wanted: String) -> Bool {
        guard let unit else { return false }
        return unit == wanted || unit == wanted + ".service"
    }

    /// Checks the regular expression once, before reading, so a typo is a usage error.
    public static func validate(regex: String) throws(ToolError) {
        do {
            _ = try NSRegularExpression(pattern: regex)
        } catch {
            throw .usage("invalid --grep regular expression '\(regex)'")
        }
    }
}

/// Prints entries like journalctl's short format: `Nov 22 10:00:01 host unit[severity]: message`.
public struct LogRenderer {
    public enum Style: String, CaseIterable, Sendable {
        /// journalctl's `short`: local time to the second.
        case short
        /// ISO 8601 time with milliseconds and zone.
        case shortISO = "short-iso"
        /// The record value as stored.
        case json
        /// The message only.
        case cat
    }

    public var style: Style
    public var colour: Bool
    public var utc: Bool
    private let shortFormatter: DateFormatter
    private let isoFormatter: DateFormatter

    public init(style: Style, colour: Bool, utc: Bool) {
        self.style = style
        self.colour = colour
        self.utc = utc
        let zone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        shortFormatter = DateFormatter()
        shortFormatter.locale = Locale(identifier: "en_US_POSIX")
        shortFormatter.timeZone = zone
        shortFormatter.dateFormat = "MMM dd HH:mm:ss"
        isoFormatter = DateFormatter()
        isoFormatter.locale = Locale(identifier: "en_US_POSIX")
        isoFormatter.timeZone = zone
        isoFormatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX"
    }

    public func line(for entry: LogEntry, record: ConsumerRecord) -> String {
        switch style {
        case .json:
            return String(decoding: record.value ?? [], as: UTF8.self)
        case .cat:
            return paint(entry.message, entry.severity)
        case .short, .shortISO:
            let date = Date(timeIntervalSince1970: Double(entry.timestamp) / 1000)
            let time = style == .short ? shortFormatter.string(from: date) : isoFormatter.string(from: date)
            let unit = entry.unit ?? entry.source ?? record.topicPartition.topic
            let severity = entry.severity.map { "[\($0.name)]" } ?? ""
            return "\(time) \(entry.host ?? "-") \(unit)\(severity): " + paint(entry.message, entry.severity)
        }
    }

    /// journalctl's colours: red and bold for err and worse, yellow for warning, bold for notice.
    private func paint(_ message: String, _ severity: Severity?) -> String {
        guard colour, let severity else { return message }
        switch severity {
        case .emergency, .alert, .critical, .error: return "\u{1B}[1;31m" + message + "\u{1B}[0m"
        case .warning: return "\u{1B}[33m" + message + "\u{1B}[0m"
        case .notice: return "\u{1B}[1m" + message + "\u{1B}[0m"
        case .info, .debug: return message
        }
    }
}
