import struct SkeinLogShipping.LogEventFlags

/// Merges lines into entries by a start or a continuation pattern. An entry is complete only when the next
/// entry starts, so the last one waits for the timeout; its position is the offset after its last line, so
/// after a crash the lines are read again and the entry is rebuilt whole.
struct MultilineAggregator {
    enum Rule {
        case start(Regex<AnyRegexOutput>)
        case continuation(Regex<AnyRegexOutput>)
    }

    struct Entry {
        var bytes: [UInt8]
        var end: Int64
        var lines: Int
        var flags: LogEventFlags
        /// When the last line was added, for the timeout.
        var updated: ContinuousClock.Instant
    }

    let rule: Rule
    let timeout: Duration
    let maxLines: Int
    let maxBytes: Int
    private(set) var current: Entry?

    /// Throws when the pattern is not a valid regular expression or neither pattern is set.
    init(settings: MultilineSettings) throws {
        if let pattern = settings.startPattern {
            rule = .start(try Regex(pattern))
        } else if let pattern = settings.continuationPattern {
            rule = .continuation(try Regex(pattern))
        } else {
            throw FileSourceError.invalidSetting("multiline needs start_pattern or continuation_pattern")
        }
        timeout = .milliseconds(max(0, settings.timeoutMilliseconds))
        maxLines = max(1, settings.maxLines)
        maxBytes = max(1, settings.maxBytes)
    }

    /// Adds one line; appends the entries it completes to `out`.
    mutating func add(_ line: Line, now: ContinuousClock.Instant, into out: inout [Entry]) {
        let continues: Bool
        // Matching runs on a lossy String: invalid UTF-8 only has to be matched, the bytes stay raw.
        let text = String(decoding: line.bytes, as: UTF8.self)
        switch rule {
        case .start(let regex): continues = (try? regex.firstMatch(in: text)) == nil
        case .continuation(let regex): continues = (try? regex.firstMatch(in: text)) != nil
        }
        if continues, var entry = current {
            if entry.bytes.count + 1 + line.bytes.count > maxBytes {
                entry.flags.insert(.multilineFlushed)
                out.append(entry)
                current = Entry(bytes: line.bytes, end: line.end, lines: 1, flags: line.flags, updated: now)
            } else {
                entry.bytes.append(0x0A)
                entry.bytes.append(contentsOf: line.bytes)
                entry.end = line.end
                entry.lines += 1
                entry.flags.formUnion(line.flags)
                entry.updated = now
                current = entry
            }
        } else {
            if let entry = current { out.append(entry) }
            current = Entry(bytes: line.bytes, end: line.end, lines: 1, flags: line.flags, updated: now)
        }
        if let entry = current, entry.lines >= maxLines || entry.bytes.count >= maxBytes {
            var flushed = entry
            flushed.flags.insert(.multilineFlushed)
            out.append(flushed)
            current = nil
        }
    }

    /// When the held entry is due; nil when none is held.
    var deadline: ContinuousClock.Instant? { current.map { $0.updated + timeout } }

    /// The held entry, flagged, if its timeout has passed (or always, when `force`).
    mutating func flush(now: ContinuousClock.Instant, force: Bool = false) -> Entry? {
        guard var entry = current, force || now >= entry.updated + timeout else { return nil }
        entry.flags.insert(.multilineFlushed)
        current = nil
        return entry
    }

    mutating func reset() { current = nil }
}

public enum FileSourceError: Error, CustomStringConvertible {
    case invalidSetting(String)
    case watcher(String)

    public var description: String {
        switch self {
        case .invalidSetting(let message): "file source setting: \(message)"
        case .watcher(let message): "file watcher: \(message)"
        }
    }
}
