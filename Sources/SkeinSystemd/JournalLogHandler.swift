import CSystemd
import Glibc
import Logging

/// Log lines for a process whose stderr is the journal. Each line goes to journald as a native entry
/// (sd_journal_sendv) so it carries fields a person can select by: `PRIORITY` (so `journalctl -p warning -u
/// skeind` works), `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, the logger's label as `SYSLOG_IDENTIFIER`, the
/// module as `SKEIN_MODULE`, and every metadata key as a `SKEIN_`-prefixed field (`journalctl -u skein-agent
/// SKEIN_TOPIC=logs`). The metadata stays in `MESSAGE` too, because that is what `journalctl` shows by default.
/// When the native socket refuses an entry (a journald restarting, a sandbox without /run/systemd/journal),
/// the line goes to stderr with its sd-daemon(3) priority prefix (`<4>`), which the journal's stream also reads.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let label: String
    /// False sends the stream form only (tests, and the escape hatch `SKEIN_JOURNAL_NATIVE=0`).
    public var native: Bool

    public init(label: String, native: Bool = getenv("SKEIN_JOURNAL_NATIVE").map { String(cString: $0) } != "0") {
        self.label = label
        self.native = native
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var merged = metadata
        if let explicit { merged.merge(explicit) { $1 } }
        let sorted = merged.sorted { $0.key < $1.key }
        let fields = sorted.isEmpty ? "" : " " + sorted.map { "\($0)=\($1)" }.joined(separator: " ")
        let text = "\(label): [\(source)] \(message)\(fields)"
        if native {
            var entry = [
                "MESSAGE=" + text, "PRIORITY=\(Self.priority(level))", "SYSLOG_IDENTIFIER=" + label,
                "CODE_FILE=" + file, "CODE_LINE=\(line)", "CODE_FUNC=" + function, "SKEIN_MODULE=" + source,
            ]
            for (key, value) in sorted {
                guard let name = Self.fieldName(key) else { continue }
                entry.append(name + "=" + "\(value)")
            }
            if Self.send(entry) { return }
        }
        writeToStandardError("<\(Self.priority(level))>\(text)\n")
    }

    /// One write(2) per line, so lines of concurrent threads never interleave.
    private func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)[...]
        var attempts = 0
        while !bytes.isEmpty && attempts < 100 {
            attempts += 1
            let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if written > 0 { bytes = bytes.dropFirst(written) } else if errno != EINTR { return }
        }
    }

    /// Journal field names are `[A-Z0-9_]`, at most 64 bytes, not starting with `_` (those are trusted fields
    /// journald sets itself): a metadata key `records_scanned` becomes `SKEIN_RECORDS_SCANNED`.
    static func fieldName(_ key: String) -> String? {
        var name = "SKEIN_"
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9": name.unicodeScalars.append(scalar)
            default: name.append("_")
            }
        }
        return name.count > 6 && name.utf8.count <= 64 ? name : nil
    }

    /// Each field is its own iovec; values may hold any byte but NUL-free text is all we send.
    private static func send(_ entry: [String]) -> Bool {
        var storage = entry.map { Array($0.utf8) }
        let count = storage.count
        return storage.withUnsafeMutableBufferPointer { fields -> Bool in
            var vectors = [iovec]()
            vectors.reserveCapacity(count)
            for index in 0..<count {
                fields[index].withUnsafeMutableBytes { bytes in
                    vectors.append(iovec(iov_base: bytes.baseAddress, iov_len: bytes.count))
                }
            }
            // The pointers stay valid: `storage`'s arrays are neither resized nor released while this runs.
            return sd_journal_sendv(vectors, Int32(count)) >= 0
        }
    }

    /// syslog(3) priorities: swift-log has no `alert` or `emerg`, and trace is debug.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// True when systemd connected stderr to the journal: `$JOURNAL_STREAM` is `DEVICE:INODE` of that stream,
    /// and only a stderr with exactly that device and inode is it (a redirected stderr of a child is not).
    public static func standardErrorIsJournal(
        _ journalStream: String? = getenv("JOURNAL_STREAM").map { String(cString: $0) }
    )
        -> Bool
    {
        guard let journalStream else { return false }
        let parts = journalStream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}
