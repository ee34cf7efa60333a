import Foundation
import SkeinLogShipping
import Testing

@testable import SkeinJournaldSource

typealias F = JournalFixtures

@Suite("JournaldSource", .serialized)
struct JournaldSourceTests {
    func settings(_ directory: String, _ change: (inout JournaldSettings) -> Void = { _ in }) -> JournaldSettings {
        var settings = JournaldSettings(id: "journald.test")
        settings.journal = .directory(directory)
        change(&settings)
        return settings
    }

    @Test func fieldMapping() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write(
            [
                F.entry(
                    1,
                    [
                        ("_SYSTEMD_UNIT", "nginx.service"), ("SYSLOG_IDENTIFIER", "nginx"), ("_COMM", "nginx"),
                        ("PRIORITY", "3"), ("_PID", "4242"), ("_TRANSPORT", "journal"), ("CODE_FILE", "main.c"),
                        ("_UID", "33"), ("PID", "7"),
                    ]),
                F.entry(2, [("SYSLOG_IDENTIFIER", "cron"), ("_COMM", "cron")]),
                F.entry(3, [("_COMM", "bash")]),
            ], to: directory)
        let running = RunningSource(settings(directory))
        await running.wait { $0.count >= 3 }
        await running.stop()
        let events = running.sink.events.withLock { $0 }
        #expect(events.count == 3)
        let first = events[0]
        #expect(first.message == Array("entry 1".utf8))
        #expect(first.unit == "nginx.service")
        #expect(first.host == "fixture-host")
        #expect(first.severity == 3)
        #expect(first.timestampMilliseconds == Int64(F.baseRealtime / 1000) + 1)
        #expect(first.stream == "journal")
        #expect(first.position.hasPrefix("s="))
        let fields = Dictionary(first.fields, uniquingKeysWith: { a, _ in a })
        #expect(fields["pid"] == .integer(4242))
        #expect(fields["boot_id"] == .string(F.bootId))
        #expect(fields["transport"] == .string("journal"))
        #expect(fields["syslog_identifier"] == .string("nginx"))
        #expect(fields["comm"] == .string("nginx"))
        #expect(fields["code_file"] == .string("main.c"))
        #expect(fields["_uid"] == .string("33"))
        #expect(fields["journal_pid"] == .string("7"))
        #expect(fields["message"] == nil && fields["_hostname"] == nil && fields["priority"] == nil)
        #expect(fields["fields_truncated"] == nil && fields["message_binary"] == nil)
        #expect(events[1].unit == "cron")
        #expect(events[1].severity == nil)
        #expect(events[2].unit == "bash")
    }

    @Test func matchesAreOrWithinAFieldAndAndAcrossFields() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let combinations: [(String, String, String)] = [
            ("a.service", "x", "3"), ("a.service", "y", "6"), ("b.service", "x", "2"), ("a.service", "z", "1"),
            ("c.service", "y", "0"), ("a.service", "y", "4"), ("b.service", "y", "5"),
        ]
        var entries = combinations.enumerated().map { index, combination in
            F.entry(
                index + 1,
                [("_SYSTEMD_UNIT", combination.0), ("SYSLOG_IDENTIFIER", combination.1), ("PRIORITY", combination.2)])
        }
        entries.append(F.entry(99, [("_SYSTEMD_UNIT", "b.service"), ("SYSLOG_IDENTIFIER", "x"), ("PRIORITY", "0")]))
        try F.write(entries, to: directory)
        let running = RunningSource(
            settings(directory) {
                $0.units = ["a", "b.service"]
                $0.identifiers = ["x", "y"]
                $0.priority = JournaldSettings.parsePriority("warning")!
            })
        await running.wait { $0.contains { $0.message == Array("entry 99".utf8) } }
        await running.stop()
        // a|b AND x|y AND priority <= 4: entries 1 (a,x,3), 3 (b,x,2), 6 (a,y,4) and the marker 99.
        #expect(running.sink.messages == ["entry 1", "entry 3", "entry 6", "entry 99"])
    }

    @Test func binaryMessageIsKeptAsBytesAndMarked() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary: [UInt8] = [0xFF, 0x00, 0x41, 0x0A, 0xC3]
        try F.write([F.entry(1, message: binary), F.entry(2)], to: directory)
        let running = RunningSource(settings(directory))
        await running.wait { $0.count >= 2 }
        await running.stop()
        let events = running.sink.events.withLock { $0 }
        #expect(events.first?.message == binary)
        #expect(events.first?.fields.contains { $0.0 == "message_binary" && $0.1 == .boolean(true) } == true)
        #expect(events.last?.fields.contains { $0.0 == "message_binary" } == false)
        let record = String(
            decoding: LogRecordEncoder(host: "h", sourceKind: "journald").encode(events[0]), as: UTF8.self)
        #expect(record.contains("\"message_base64\":\"/wBBCsM=\""))
    }

    @Test func fieldsBeyondTheCapAreLeftOutAndMarked() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let many = (1...50).map { ("CUSTOM_\($0)", String(repeating: "v", count: 100)) }
        try F.write([F.entry(1, many + [("_PID", "1")]), F.entry(2, [("SMALL", "s")])], to: directory)
        let running = RunningSource(settings(directory) { $0.maxFieldsBytes = 1000 })
        await running.wait { $0.count >= 2 }
        await running.stop()
        let events = running.sink.events.withLock { $0 }
        let fields = events[0].fields
        let custom = fields.filter { $0.0.hasPrefix("custom_") }
        #expect(custom.count == 8)  // 8 × (9 or 10 + 100 + 6) ≤ 1000 < 9 × …
        #expect(fields.contains { $0.0 == "pid" && $0.1 == .integer(1) })
        #expect(fields.last.map { $0.0 == "fields_truncated" && $0.1 == .boolean(true) } == true)
        #expect(
            events[1].fields.contains { $0.0 == "small" } && !events[1].fields.contains { $0.0 == "fields_truncated" })
    }

    /// The rsyslog#3662 / vector#1106 trap: seeking to a cursor and reading on returns the saved entry
    /// itself, which must not be shipped again.
    @Test func resumesAfterTheCursorWithoutADuplicate() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write((1...10).map { F.entry($0) }, to: directory)
        let first = RunningSource(settings(directory))
        await first.wait { $0.count >= 10 }
        await first.stop()
        let cursors = first.sink.events.withLock { $0.map(\.position) }
        #expect(Set(cursors).count == 10)

        let resumed = RunningSource(
            settings(directory), state: SourceState(found: true, sequence: 5, positions: ["journal": cursors[4]]))
        await resumed.wait { $0.contains { $0.message == Array("entry 10".utf8) } }
        await resumed.waitIdle()
        await resumed.stop()
        #expect(resumed.sink.messages == (6...10).map { "entry \($0)" })
        #expect(resumed.sink.drops.withLock { $0 }.isEmpty)

        // From the last entry: nothing until a new journal file appears, then exactly its entries.
        let atEnd = RunningSource(
            settings(directory), state: SourceState(found: true, sequence: 10, positions: ["journal": cursors[9]]))
        await atEnd.waitIdle()
        try F.write((11...12).map { F.entry($0) }, to: directory, name: "y.journal")
        await atEnd.wait { $0.contains { $0.message == Array("entry 12".utf8) } }
        await atEnd.stop()
        #expect(atEnd.sink.messages == ["entry 11", "entry 12"])
    }

    /// The saved entry was vacuumed away with the ones after it: a warning record, a drop count, and
    /// reading resumes at the oldest entry left, never silently at the head or the tail.
    @Test func vacuumedCursorGivesAWarningAndADropCount() async throws {
        let full = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: full) }
        try F.write((1...10).map { F.entry($0) }, to: full)
        let first = RunningSource(settings(full))
        await first.wait { $0.count >= 10 }
        await first.stop()
        let cursor = first.sink.events.withLock { $0[2].position }

        let vacuumed = F.temporaryDirectory()

        defer { try? FileManager.default.removeItem(atPath: vacuumed) }
        try F.write((6...10).map { F.entry($0) }, to: vacuumed)
        let resumed = RunningSource(
            settings(vacuumed), state: SourceState(found: true, sequence: 3, positions: ["journal": cursor]))
        await resumed.wait { $0.contains { $0.message == Array("entry 10".utf8) } }
        await resumed.stop()
        let events = resumed.sink.events.withLock { $0 }
        #expect(events.count == 6)
        let warning = events[0]
        #expect(warning.unit == "skein-agent")
        #expect(warning.severity == 4)
        #expect(
            String(decoding: warning.message, as: UTF8.self).contains("lost to journal vacuum after cursor \(cursor)"))
        #expect(warning.position == cursor)
        #expect(warning.fields.contains { $0.0 == "journald_gap" && $0.1 == .boolean(true) })
        #expect(
            events.dropFirst().map { String(decoding: $0.message, as: UTF8.self) } == (6...10).map { "entry \($0)" })
        // Two separately written files have two sequence-number series, so the count is unknown: one.
        #expect(resumed.sink.drops.withLock { $0 } == ["vacuumed": 1])
        #expect(resumed.registry.render().contains("skein_agent_journald_gaps_total{source=\"journald.test\"} 1"))
    }

    @Test func startAtEndSkipsWhatIsThere() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write((1...3).map { F.entry($0) }, to: directory)
        let running = RunningSource(settings(directory) { $0.startAt = .end })
        await running.waitIdle()
        try F.write((4...5).map { F.entry($0) }, to: directory, name: "y.journal")
        await running.wait { $0.contains { $0.message == Array("entry 5".utf8) } }
        await running.stop()
        #expect(running.sink.messages == ["entry 4", "entry 5"])
    }

    /// After a backlog the idle reader reopens the journal at its cursor: nothing read twice, nothing missed.
    @Test func reopeningAfterABacklogKeepsThePosition() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write((1...10).map { F.entry($0) }, to: directory)
        let running = RunningSource(settings(directory), reopenAfterEntries: 3)
        await running.wait { $0.count >= 10 }
        await running.waitIdle()
        try F.write((11...12).map { F.entry($0) }, to: directory, name: "y.journal")
        await running.wait { $0.contains { $0.message == Array("entry 12".utf8) } }
        await running.waitIdle(atLeast: 2)
        await running.stop()
        #expect(running.sink.messages == (1...12).map { "entry \($0)" })
        #expect(running.sink.drops.withLock { $0 }.isEmpty)
    }

    @Test func startAtBeginningReadsEverything() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write((1...3).map { F.entry($0) }, to: directory)
        let running = RunningSource(settings(directory))
        await running.wait { $0.count >= 3 }
        await running.waitIdle()
        await running.stop()
        #expect(running.sink.messages == ["entry 1", "entry 2", "entry 3"])
    }

    /// An idle reader sleeps in poll(2) with no timer: over a second with no change it does not wake.
    @Test func idleReaderDoesNotWake() async throws {
        let directory = F.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try F.write([F.entry(1)], to: directory)
        let running = RunningSource(settings(directory))
        await running.wait { $0.count >= 1 }
        await running.waitIdle()
        let before = running.idle.value
        try await Task.sleep(for: .seconds(1))  // the window measured, not a synchronisation
        #expect(running.idle.value == before)
        await running.stop()
    }

    @Test func cursorGapCount() {
        let saved = JournalCursor("s=abc;i=10;b=b1;m=20;t=30;x=40")
        let later = JournalCursor("s=abc;i=1a;b=b1;m=25;t=35;x=41")
        let reset = JournalCursor("s=def;i=1;b=b1;m=25;t=35;x=41")
        #expect(saved?.seqnum == 16)
        #expect(saved.flatMap { s in later.flatMap { s.entriesBetween($0) } } == 9)
        #expect(saved.flatMap { s in reset.flatMap { s.entriesBetween($0) } } == nil)
        #expect(JournalCursor("garbage") == nil)
    }

    @Test func priorityNamesAndUnits() {
        #expect(JournaldSettings.parsePriority("err") == 3)
        #expect(JournaldSettings.parsePriority("7") == 7)
        #expect(JournaldSettings.parsePriority("8") == nil)
        #expect(JournaldSettings.unitName("nginx") == "nginx.service")
        #expect(JournaldSettings.unitName("sshd.socket") == "sshd.socket")
    }
}
