/// One `[sources.journald.NAME]` table. The agent's configuration parses TOML into this; the journald
/// source owns the meaning of each setting.
public struct JournaldSettings: Sendable, Equatable {
    /// `journald.NAME`: the source id in record headers and metrics.
    public var id: String
    /// nil: the agent's default log topic.
    public var topic: String?
    /// Where the entries come from: the local system journal, one directory's journal files, or a
    /// journal namespace.
    public var journal: Journal = .local
    /// `_SYSTEMD_UNIT` values, any of which matches; a name without a unit suffix gets `.service`, as
    /// systemctl and journalctl -u read it.
    public var units: [String] = []
    /// `SYSLOG_IDENTIFIER` values, any of which matches.
    public var identifiers: [String] = []
    /// Entries at this priority or more urgent (0 emerg … 7 debug). 7 adds no match, so entries without
    /// a PRIORITY field are read too.
    public var priority: UInt8 = 7
    /// Only entries of the boot the agent runs in (`_BOOT_ID`).
    public var currentBootOnly = false
    /// Where the very first start reads from, when nothing of this source was ever committed.
    public var startAt: StartPosition = .beginning
    /// Cap on the encoded size of `fields` beyond the kept ones; fields past it are left out and the
    /// record gets `fields_truncated: true`.
    public var maxFieldsBytes = 65_536

    public init(id: String) { self.id = id }

    public enum Journal: Sendable, Equatable {
        case local
        case directory(String)
        case namespace(String)
    }

    public enum StartPosition: String, Sendable, Equatable, CaseIterable {
        case beginning, end
    }

    /// Syslog's names for the levels, as journalctl -p takes them.
    public static let priorityNames = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    /// `"err"`, `"error"`, `"3"` → 3.
    public static func parsePriority(_ text: String) -> UInt8? {
        let name = text.lowercased()
        if let number = UInt8(name), number <= 7 { return number }
        if let index = priorityNames.firstIndex(of: name) { return UInt8(index) }
        switch name {
        case "error": return 3
        case "warn": return 4
        case "panic": return 0
        default: return nil
        }
    }

    /// `nginx` → `nginx.service`; `foo.socket`, `user@1000.service` stay as they are.
    public static func unitName(_ name: String) -> String {
        let suffixes = [
            ".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap", ".timer", ".path",
            ".slice", ".scope",
        ]
        return suffixes.contains(where: { name.hasSuffix($0) }) ? name : name + ".service"
    }
}
