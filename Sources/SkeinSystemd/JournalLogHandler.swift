import Glibc
import Logging

/// Log lines for a stderr that is the journal: each starts with its syslog priority as sd-daemon(3) prefixes
/// it (`<4>` for a warning), so `journalctl -p warning -u skeind` selects by level, and carries no timestamp
/// (the journal stamps each entry). One write(2) per line, so lines of concurrent threads never interleave.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public let label: String

    public init(label: String) {
        self.label = label
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
        let fields =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        let text = "<\(Self.priority(level))>\(label): [\(source)] \(message)\(fields)\n"
        var bytes = Array(text.utf8)[...]
        var attempts = 0
        while !bytes.isEmpty && attempts < 100 {
            attempts += 1
            let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if written > 0 { bytes = bytes.dropFirst(written) } else if errno != EINTR { return }
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
