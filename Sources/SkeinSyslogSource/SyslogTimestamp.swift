/// Calendar arithmetic for syslog timestamps, without Foundation: the parser runs once per message, and a
/// date formatter per call (or a shared one behind a lock) would cost more than the rest of the parse.
enum SyslogCalendar {
    static let monthNames: [[UInt8]] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ].map { Array($0.utf8) }

    /// Days from 1970-01-01 to the given civil date (proleptic Gregorian); out-of-range days roll over,
    /// which only matters for Feb 29 in a guessed year.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let monthIndex = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The civil year of a Unix time in milliseconds.
    static func year(ofMilliseconds milliseconds: Int64) -> Int {
        let days = Int((milliseconds >= 0 ? milliseconds : milliseconds - 86_399_999) / 86_400_000)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    static func milliseconds(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int, offsetSeconds: Int
    ) -> Int64 {
        let days = Int64(daysFromCivil(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millisecond)
    }

    /// A BSD timestamp has no year: the sender's date is the one nearest to `now` that is not more than a
    /// day ahead of it (clock skew), so a December line read in January lands in the old year and a line
    /// stamped a minute past midnight on New Year's Eve by a fast clock does not land a year back.
    static func resolveYear(
        month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int, offsetSeconds: Int, now: Int64
    ) -> Int64 {
        let year = SyslogCalendar.year(ofMilliseconds: now + Int64(offsetSeconds) * 1000)
        var best: Int64?
        for candidateYear in [year + 1, year, year - 1] {
            let candidate = milliseconds(
                year: candidateYear, month: month, day: day, hour: hour, minute: minute, second: second,
                millisecond: millisecond, offsetSeconds: offsetSeconds)
            guard candidate <= now + 86_400_000 else { continue }
            if best == nil || abs(candidate - now) < abs(best! - now) { best = candidate }
        }
        return best
            ?? milliseconds(
                year: year - 1, month: month, day: day, hour: hour, minute: minute, second: second,
                millisecond: millisecond, offsetSeconds: offsetSeconds)
    }
}
