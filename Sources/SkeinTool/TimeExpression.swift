import Foundation

/// The points in time `--since` and `--until` accept, resolved to milliseconds since the epoch:
/// relative ages as journalctl and kubectl take them ("10m", "2h30m", "-1d", "now"), absolute
/// times ("2026-11-22T10:00:00Z", "2026-11-22 10:00", "2026-11-22", local time unless a zone is
/// given, "today", "yesterday"), and epoch values ("@1763805600" seconds, "1763805600000" ms).
public enum TimeExpression {
    public static func parse(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) throws(ToolError)
        -> Int64
    {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let nowMs = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        switch trimmed.lowercased() {
        case "now": return nowMs
        case "today": return startOfDay(now, offsetDays: 0, timeZone: timeZone)
        case "yesterday": return startOfDay(now, offsetDays: -1, timeZone: timeZone)
        default: break
        }
        if let age = relativeAge(trimmed) { return clamp(nowMs - age) }
        if trimmed.hasPrefix("@"), let seconds = Double(trimmed.dropFirst()), seconds.isFinite,
            abs(seconds) < 1e13
        {
            return clamp(Int64(seconds * 1000))
        }
        if trimmed.allSatisfy(\.isNumber), let milliseconds = Int64(trimmed) { return clamp(milliseconds) }
        if let absolute = absoluteTime(trimmed, timeZone: timeZone) { return clamp(absolute) }
        throw .usage(
            "cannot read time '\(text)': use an age like 10m, 2h, 1d, a time like 2026-11-22T10:00:00Z or '2026-11-22 10:00', or @EPOCH_SECONDS"
        )
    }

    /// The range of times a broker can be asked about: before 1970 means "from the beginning" (ListOffsets
    /// reads negative timestamps as the special earliest/latest values), and the cap (year 9999) leaves
    /// room for arithmetic such as `until + 1`.
    static let latest: Int64 = 253_402_300_799_999

    static func clamp(_ milliseconds: Int64) -> Int64 {
        min(max(milliseconds, 0), latest)
    }

    /// "10m", "1h30m", "45s", "2d", "500ms", optionally with a leading "-" or a trailing " ago".
    static func relativeAge(_ text: String) -> Int64? {
        var rest = Substring(text)
        if rest.hasPrefix("-") { rest = rest.dropFirst() }
        if rest.hasSuffix(" ago") { rest = rest.dropLast(4) }
        guard !rest.isEmpty, rest.first!.isNumber else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let amount = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit.lowercased() {
            case "ms": scale = 1
            case "s", "sec", "secs", "second", "seconds": scale = 1000
            case "m", "min", "mins", "minute", "minutes": scale = 60_000
            case "h", "hr", "hour", "hours": scale = 3_600_000
            case "d", "day", "days": scale = 86_400_000
            case "w", "week", "weeks": scale = 604_800_000
            default: return nil
            }
            // Ages beyond ten thousand years are not ages; refusing them keeps the arithmetic in range.
            let milliseconds = amount * scale
            guard milliseconds.isFinite, milliseconds < 3.2e14 else { return nil }
            total += Int64(milliseconds)
            guard total < 320_000_000_000_000 else { return nil }
            rest = rest.drop { $0 == " " }
        }
        return total
    }

    static func absoluteTime(_ text: String, timeZone: TimeZone) -> Int64? {
        let normalised = text.replacingOccurrences(of: " ", with: "T")
        let iso = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [
            [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
        ] {
            iso.formatOptions = options
            if let date = iso.date(from: normalised) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        for format in [
            "yyyy-MM-dd'T'HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd",
        ] {
            formatter.dateFormat = format
            if let date = formatter.date(from: normalised) {
                return Int64((date.timeIntervalSince1970 * 1000).rounded())
            }
        }
        return nil
    }

    static func startOfDay(_ now: Date, offsetDays: Int, timeZone: TimeZone) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.startOfDay(for: now)
        let day = calendar.date(byAdding: .day, value: offsetDays, to: start) ?? start
        return Int64(day.timeIntervalSince1970 * 1000)
    }
}

/// Where `skein consume --offset` starts each partition.
public enum StartPosition: Equatable, Sendable {
    case beginning
    case end
    case offset(Int64)
    /// This many records before the end of each partition (kcat's -o -N).
    case fromEnd(Int64)

    public static func parse(_ text: String) throws(ToolError) -> StartPosition {
        switch text.lowercased() {
        case "beginning", "earliest", "start", "oldest": return .beginning
        case "end", "latest", "newest": return .end
        default: break
        }
        if text.hasPrefix("-"), let count = Int64(text.dropFirst()), count >= 0 { return .fromEnd(count) }
        if let offset = Int64(text), offset >= 0 { return .offset(offset) }
        throw .usage("cannot read offset '\(text)': use a number, -N (N before the end), beginning or end")
    }
}
