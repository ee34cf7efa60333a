import CSystemd
import Glibc
import SkeinLogShipping

struct JournalError: Error, CustomStringConvertible {
    var description: String

    init(_ call: String, _ result: Int32) {
        description = "\(call): \(String(cString: strerror(-result)))"
    }
}

/// One open `sd_journal` handle. libsystemd's handles are not thread-safe, so a reader is made, used and
/// closed on one thread (the pump's).
final class JournalReader {
    let settings: JournaldSettings
    private let journal: OpaquePointer
    /// The journal's inotify descriptor, taken right after opening so no change after the first read is missed.
    let fd: Int32
    /// Set when positioning already stands on an entry that has not been read: the next read takes it
    /// rather than stepping past it.
    private var standsOnUnread = false
    private let names = FieldNameCache()

    /// A saved cursor whose entry is gone, and what the journal holds after it.
    struct Gap {
        var savedCursor: String
        /// Entries of the whole journal (any unit) between the saved entry and the first one left; nil
        /// when unknown (the cursor did not parse, or the journal's sequence numbers were reset).
        var lostEntries: UInt64?
        var resumedCursor: String?
    }

    init(settings: JournaldSettings) throws {
        self.settings = settings
        var handle: OpaquePointer?
        let result: Int32
        switch settings.journal {
        case .local: result = sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        case .directory(let path): result = sd_journal_open_directory(&handle, path, 0)
        case .namespace(let name): result = sd_journal_open_namespace(&handle, name, Int32(SD_JOURNAL_LOCAL_ONLY))
        }
        guard result >= 0, let handle else { throw JournalError("opening the journal", result) }
        journal = handle
        let fd = sd_journal_get_fd(handle)
        guard fd >= 0 else {
            sd_journal_close(handle)
            throw JournalError("sd_journal_get_fd", fd)
        }
        self.fd = fd
        // Values longer than the delivery core's record cap could never be shipped whole anyway; the
        // threshold keeps libsystemd from decompressing more than that of one field.
        _ = sd_journal_set_data_threshold(handle, 1 << 20)
    }

    deinit { sd_journal_close(journal) }

    /// Whether any journal file is visible: none usually means the agent lacks the systemd-journal group.
    var seesFiles: Bool {
        sd_journal_has_runtime_files(journal) > 0 || sd_journal_has_persistent_files(journal) > 0
    }

    /// Positions the reader: just after `cursor` when one was recovered, else at `startAt`. Returns the
    /// gap when the saved entry no longer exists and entries after it are gone too.
    func position(after cursor: String?) throws -> Gap? {
        guard let cursor else {
            try addMatches()
            switch settings.startAt {
            case .beginning: _ = sd_journal_seek_head(journal)
            case .end:
                // Stand on the last entry (which is not read): the next read returns the first new one.
                _ = sd_journal_seek_tail(journal)
                _ = sd_journal_previous(journal)
            }
            return nil
        }
        // Whether the saved entry still exists is asked without matches: the filters may have changed
        // since it was read, and a changed filter must not look like a vacuum.
        var gap: Gap?
        guard sd_journal_seek_cursor(journal, cursor) >= 0 else {
            try addMatches()
            _ = sd_journal_seek_head(journal)
            return Gap(savedCursor: cursor, lostEntries: nil, resumedCursor: nil)
        }
        let step = sd_journal_next(journal)
        if step > 0, sd_journal_test_cursor(journal, cursor) <= 0 {
            let first = currentCursor()
            let saved = JournalCursor(cursor)
            let lost = first.flatMap { JournalCursor($0) }.flatMap { saved?.entriesBetween($0) }
            if lost != 0 { gap = Gap(savedCursor: cursor, lostEntries: lost, resumedCursor: first) }
        }
        // Nothing after the saved position (step 0) means nothing after it was lost either: vacuum never
        // removes the newest file.
        try addMatches()
        _ = sd_journal_seek_cursor(journal, cursor)
        let again = sd_journal_next(journal)
        if again > 0 && sd_journal_test_cursor(journal, cursor) <= 0 { standsOnUnread = true }
        return gap
    }

    /// Units OR'ed, identifiers OR'ed, priorities OR'ed; the groups AND'ed, and the boot.
    private func addMatches() throws {
        var groups: [[String]] = []
        groups.append(settings.units.map { "_SYSTEMD_UNIT=" + JournaldSettings.unitName($0) })
        groups.append(settings.identifiers.map { "SYSLOG_IDENTIFIER=" + $0 })
        if settings.priority < 7 { groups.append((0...settings.priority).map { "PRIORITY=\($0)" }) }
        if settings.currentBootOnly {
            var boot = sd_id128_t()
            let result = sd_id128_get_boot(&boot)
            guard result >= 0 else { throw JournalError("sd_id128_get_boot", result) }
            groups.append(["_BOOT_ID=" + Self.hex(boot)])
        }
        for group in groups where !group.isEmpty {
            for match in group {
                let bytes = Array(match.utf8)
                let result = sd_journal_add_match(journal, bytes, bytes.count)
                guard result >= 0 else { throw JournalError("sd_journal_add_match \(match)", result) }
            }
            let result = sd_journal_add_conjunction(journal)
            guard result >= 0 else { throw JournalError("sd_journal_add_conjunction", result) }
        }
    }

    static func hex(_ id: sd_id128_t) -> String {
        withUnsafeBytes(of: id.bytes) { bytes in
            let digits = Array("0123456789abcdef".utf8)
            var text: [UInt8] = []
            for byte in bytes {
                text.append(digits[Int(byte >> 4)])
                text.append(digits[Int(byte & 15)])
            }
            return String(decoding: text, as: UTF8.self)
        }
    }

    func currentCursor() -> String? {
        var raw: UnsafeMutablePointer<CChar>?
        guard sd_journal_get_cursor(journal, &raw) >= 0, let raw else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }

    /// Reads entries after the current one until `maxEntries` or `maxBytes`; returns whether it reached
    /// the end of the journal.
    func read(into events: inout [LogEvent], maxEntries: Int, maxBytes: Int) -> (atEnd: Bool, error: Int32) {
        var bytes = 0
        while events.count < maxEntries && bytes < maxBytes {
            if standsOnUnread {
                standsOnUnread = false
            } else {
                let step = sd_journal_next(journal)
                if step < 0 { return (true, step) }
                if step == 0 { return (true, 0) }
            }
            guard let event = currentEvent() else { continue }
            bytes += event.message.count + 256
            events.append(event)
        }
        return (false, 0)
    }

    private func currentEvent() -> LogEvent? {
        guard let cursor = currentCursor() else { return nil }
        var realtime: UInt64 = 0
        _ = sd_journal_get_realtime_usec(journal, &realtime)
        var builder = JournalEntryBuilder(maxFieldsBytes: settings.maxFieldsBytes, names: names)
        sd_journal_restart_data(journal)
        var data: UnsafeRawPointer?
        var length = 0
        while sd_journal_enumerate_available_data(journal, &data, &length) > 0 {
            guard let data else { continue }
            builder.add(UnsafeRawBufferPointer(start: data, count: length))
        }
        return builder.event(realtimeMicroseconds: realtime, cursor: cursor)
    }

    /// Waits in poll(2) until the journal changes or `stopFD` becomes readable; then lets libsystemd
    /// take in the change. Returns true when the files changed (rotation, vacuum, a journald restart).
    func wait(stopFD: Int32) -> Bool {
        var timeout: Int32 = -1
        var until: UInt64 = 0
        if sd_journal_get_timeout(journal, &until) >= 0, until != UInt64.max {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let nowMicroseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
            timeout = until > nowMicroseconds ? Int32(min((until - nowMicroseconds + 999) / 1000, 60_000)) : 0
        }
        let events = sd_journal_get_events(journal)
        var fds = [
            pollfd(fd: fd, events: Int16(events > 0 ? events : Int32(POLLIN)), revents: 0),
            pollfd(fd: stopFD, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&fds, 2, timeout)
        return sd_journal_process(journal) == Int32(SD_JOURNAL_INVALIDATE)
    }
}
