/// One `[sources.files.NAME]` table. The agent's configuration parses TOML into this; the file source
/// owns the meaning of each setting.
public struct FileSourceSettings: Sendable, Equatable {
    /// `files.NAME`: the source id in record headers and metrics.
    public var id: String
    /// Globs: `*` and `?` within one path component, `**` across components, `[abc]` classes.
    public var paths: [String]
    /// Globs matched against the whole path; a match is never read.
    public var exclude: [String] = []
    /// nil: the agent's default log topic.
    public var topic: String?
    /// Where files that already exist at the first start (no recovered state) are read from.
    public var startAt: StartPosition = .end
    /// Rotated `.gz` files are ignored unless this is set; then they are read when their fingerprint is new.
    public var readCompressed = false
    /// Bytes hashed for a file's identity; shorter files are identified by device and inode.
    public var fingerprintBytes = 1024
    /// Longer lines are split (or truncated) and the record marked.
    public var maxLineBytes = 102_400
    public var longLines: LongLines = .split
    /// The fallback rescan of the globs, for file systems where inotify says nothing (NFS, overlay edits).
    public var scanIntervalSeconds: Double = 10
    /// How long a file that was renamed away or deleted stays open after it last grew: a writer that
    /// has not reopened its log yet (rename without `create`, before the HUP) still appends to it.
    public var rotateWaitSeconds: Double = 5
    public var multiline: MultilineSettings?

    public init(id: String, paths: [String]) {
        self.id = id
        self.paths = paths
    }

    public enum StartPosition: String, Sendable, Equatable, CaseIterable {
        case beginning, end
    }

    public enum LongLines: String, Sendable, Equatable, CaseIterable {
        case split, truncate
    }
}

/// `[sources.files.NAME.multiline]`: exactly one of the two patterns.
public struct MultilineSettings: Sendable, Equatable {
    /// A line matching this starts a new entry; others continue the current one (Java stack traces:
    /// `^\S`, or a timestamp prefix).
    public var startPattern: String?
    /// A line matching this continues the current entry; others start a new one (`^\s`).
    public var continuationPattern: String?
    /// An entry with no new line for this long is emitted as it is.
    public var timeoutMilliseconds = 1000
    public var maxLines = 500
    public var maxBytes = 1_048_576

    public init(startPattern: String? = nil, continuationPattern: String? = nil) {
        self.startPattern = startPattern
        self.continuationPattern = continuationPattern
    }
}
