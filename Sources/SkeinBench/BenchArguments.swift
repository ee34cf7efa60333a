/// Parsers for the human-friendly values the bench flags take ("10s", "1MiB"). They live in the
/// library, not the command, so tests can exercise them without going through ArgumentParser.
public enum BenchArgumentError: Error, Equatable, CustomStringConvertible {
    case invalidDuration(String)
    case invalidByteCount(String)

    public var description: String {
        switch self {
        case .invalidDuration(let text):
            "invalid duration '\(text)': use a number with ns, us, ms, s, m or h (a bare number is seconds)"
        case .invalidByteCount(let text):
            "invalid size '\(text)': use a number with B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)"
        }
    }
}

public enum BenchArguments {
    /// Parses "10s", "250ms", "1.5m", "2h" or a bare number of seconds.
    public static func duration(_ text: String) throws(BenchArgumentError) -> Duration {
        let (number, unit) = try split(text, error: .invalidDuration(text))
        let nanosecondsPerUnit: Double
        switch unit.lowercased() {
        case "ns": nanosecondsPerUnit = 1
        case "us", "µs": nanosecondsPerUnit = 1e3
        case "ms": nanosecondsPerUnit = 1e6
        case "", "s", "sec": nanosecondsPerUnit = 1e9
        case "m", "min": nanosecondsPerUnit = 60e9
        case "h": nanosecondsPerUnit = 3600e9
        default: throw .invalidDuration(text)
        }
        let nanoseconds = number * nanosecondsPerUnit
        // A year is far beyond any benchmark; the bound keeps the Int64 conversion safe.
        guard nanoseconds > 0, nanoseconds < 365 * 24 * 3600e9 else { throw .invalidDuration(text) }
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }

    /// Parses "100", "64KiB", "1MiB", "1MB" (10^6) and the like into a byte count. Units are
    /// case-insensitive; the "i" is what selects powers of 1024, as in IEC notation.
    public static func byteCount(_ text: String) throws(BenchArgumentError) -> Int {
        let (number, unit) = try split(text, error: .invalidByteCount(text))
        let multiplier: Double
        switch unit.lowercased() {
        case "", "b": multiplier = 1
        case "k", "kb": multiplier = 1e3
        case "m", "mb": multiplier = 1e6
        case "g", "gb": multiplier = 1e9
        case "kib": multiplier = 1024
        case "mib": multiplier = 1024 * 1024
        case "gib": multiplier = 1024 * 1024 * 1024
        default: throw .invalidByteCount(text)
        }
        let bytes = (number * multiplier).rounded()
        guard bytes >= 0, bytes <= Double(Int64.max / 2) else { throw .invalidByteCount(text) }
        return Int(bytes)
    }

    /// Splits "1.5MiB" into 1.5 and "MiB".
    private static func split(_ text: String, error: BenchArgumentError) throws(BenchArgumentError)
        -> (Double, Substring)
    {
        let trimmed = Substring(text).trimmingWhitespace()
        let unitStart = trimmed.firstIndex { !($0.isNumber || $0 == ".") } ?? trimmed.endIndex
        guard let number = Double(trimmed[..<unitStart]), number.isFinite else { throw error }
        return (number, trimmed[unitStart...].trimmingWhitespace())
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return self[first...last]
    }
}
