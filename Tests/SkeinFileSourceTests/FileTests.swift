import Foundation
import Glibc
import Logging
import SkeinLogShipping
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinFileSource

/// The source against real files in a temporary directory. Every wait is bounded; a test that times out
/// fails on its expectations rather than hanging.
@Suite struct FileSourceTests {
    @Test func followsAppendsWithEventFields() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<3))
        try #require(await waitUntil { source.sink.events.count == 3 })
        append(path, "partial")
        append(path, " done\r\n")
        try #require(await waitUntil { source.sink.events.count == 4 })
        await source.stop()
        let events = source.sink.events
        #expect(source.sink.messages == lineList("a", 0..<3) + ["partial done"])
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(events.last?.position == String(size))
        #expect(events[0].unit == path)
        #expect(events[0].stream.hasPrefix("fp-") && events[0].stream.count == 19)
        #expect(events[0].fields.map(\.0) == ["path", "file_id"])
        #expect(events[0].fields[1].1 == .string(events[0].stream))
        #expect(source.metric("skein_agent_file_lines_read_total{source=\"files.test\"}") == 4)
    }

    @Test func renameWithCreateReadsTheOldFileToItsEnd() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<5))
        try #require(await waitUntil { source.sink.events.count == 5 })
        // The writer still appends to the renamed file before it reopens: those lines must arrive.
        renameFile(path, dir.file("app.log.1"))
        append(dir.file("app.log.1"), lines("a", 5..<8))
        append(path, lines("b", 0..<4))
        try #require(await waitUntil { source.sink.events.count == 12 })
        let oldStream = source.sink.events[0].stream
        try #require(await waitUntil { source.sink.state.withLock { $0.retired.contains(oldStream) } })
        await source.stop()
        let messages = source.sink.messages
        #expect(messages.filter { $0.hasPrefix("a ") } == lineList("a", 0..<8))
        #expect(messages.filter { $0.hasPrefix("b ") } == lineList("b", 0..<4))
        #expect(source.metric("skein_agent_file_rotations_total{source=\"files.test\"}") == 1)
    }

    @Test func renameToAMatchingNameKeepsTheStream() async throws {
        let dir = TempDirectory()
        let source = RunningSource(settings(dir, ["app.log*"]))
        append(dir.file("app.log"), lines("a", 0..<4))
        try #require(await waitUntil { source.sink.events.count == 4 })
        renameFile(dir.file("app.log"), dir.file("app.log.1"))
        append(dir.file("app.log.1"), lines("a", 4..<6))
        try #require(await waitUntil { source.sink.events.count == 6 })
        await source.stop()
        let events = source.sink.events
        #expect(Set(events.map(\.stream)).count == 1)
        #expect(events.last?.unit == dir.file("app.log.1"))
        #expect(source.sink.messages == lineList("a", 0..<6))
    }

    @Test func copytruncateWithTheCopyFoundReadsTheWindowFromTheCopy() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<5))
        try #require(await waitUntil { source.sink.events.count == 5 })
        // Stop the source from seeing the window lines in the original: pause it by holding the lines
        // in a file the source reads only through the copy. The copy and the truncation happen while the
        // source may or may not have read lines 5..<8; either way each arrives once.
        append(path, lines("a", 5..<8))
        copyFile(path, dir.file("app.log.1"))
        truncateFile(path)
        append(path, lines("b", 0..<3))
        try #require(await waitUntil { source.sink.events.count == 11 })
        await source.stop()
        let messages = source.sink.messages
        #expect(messages.filter { $0.hasPrefix("a ") } == lineList("a", 0..<8))
        #expect(messages.filter { $0.hasPrefix("b ") } == lineList("b", 0..<3))
        #expect(source.sink.state.withLock { $0.dropped.isEmpty })
    }

    @Test func aCopyBeingWrittenUnderAMatchingNameIsNotReadTwice() async throws {
        // logrotate creates the copy empty and fills it: the source sees a new short file, then one with
        // the followed file's first bytes. It must neither read it from 0 nor lose the window lines.
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir, ["app.log*"]))
        append(path, lines("a", 0..<5))
        try #require(await waitUntil { source.sink.events.count == 5 })
        let copy = dir.file("app.log.1")
        // After each step a marker file matching the glob: once its line has arrived, the source has looked
        // at the copy in that state (no sleeping for the race to happen).
        func marker(_ number: Int) async throws {
            append(dir.file("app.log.m\(number)"), lines("m", number..<(number + 1)))
            try #require(await waitUntil { source.sink.messages.contains(lineList("m", number..<(number + 1))[0]) })
        }
        append(copy, String(lines("a", 0..<5).prefix(40)))
        try await marker(0)
        append(copy, String(lines("a", 0..<5).dropFirst(40)))
        try await marker(1)
        truncateFile(path)
        append(path, lines("b", 0..<3))
        try #require(await waitUntil { source.sink.messages.filter { $0.hasPrefix("b ") }.count == 3 })
        try await marker(2)
        await source.stop()
        let messages = source.sink.messages
        #expect(messages.filter { !$0.hasPrefix("m ") } == lineList("a", 0..<5) + lineList("b", 0..<3))
        #expect(messages.filter { $0.hasPrefix("m ") } == lineList("m", 0..<3))
    }

    /// logrotate copied, the writer went on, and the source read the original past the copy's end before
    /// the truncation: the copy, found later under a name the globs match, holds only lines already
    /// shipped under its stream. Reading it from 0 shipped the whole cycle twice (found by the rotation
    /// torture).
    @Test func aCopyShorterThanWhatItsStreamShippedIsNotShippedAgain() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let copyText = lines("a", 0..<4)
        let source = RunningSource(settings(dir, ["app.log*"]))
        append(path, lines("a", 0..<8))
        try #require(await waitUntil { source.sink.events.count == 8 })
        // The copy ends at line 4 (taken before lines 4..<8 were written); then the truncation.
        let staging = dir.path + "/staging"
        precondition(mkdir(staging, 0o755) == 0)
        append(staging + "/app.log.1", copyText)
        truncateFile(path)
        append(path, lines("b", 0..<3))
        renameFile(staging + "/app.log.1", dir.file("app.log.1"))
        // A new file after the copy: once its lines arrive, a scan has seen the copy too.
        append(dir.file("app.log.2"), lines("c", 0..<3))
        try #require(await waitUntil { source.sink.messages.contains(lineList("c", 2..<3)[0]) })
        append(path, lines("b", 3..<5))
        try #require(await waitUntil { source.sink.messages.filter { $0.hasPrefix("b ") }.count == 5 })
        await source.stop()
        let messages = source.sink.messages
        #expect(messages.filter { $0.hasPrefix("a ") } == lineList("a", 0..<8))
        #expect(messages.filter { $0.hasPrefix("b ") } == lineList("b", 0..<5))
        #expect(messages.filter { $0.hasPrefix("c ") } == lineList("c", 0..<3))
    }

    @Test func copytruncateFoundAtStartAfterTheAgentWasAway() async throws {
        // The agent stopped after line 4; logrotate copied and truncated while it was away. The restart
        // finds the old stream in the copy (not matched by the glob) and reads lines 5..<8 from it.
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let first = RunningSource(settings(dir))
        append(path, lines("a", 0..<5))
        try #require(await waitUntil { first.sink.events.count == 5 })
        await first.stop()
        append(path, lines("a", 5..<8))
        copyFile(path, dir.file("app.log.1"))
        truncateFile(path)
        append(path, lines("b", 0..<3))
        let second = RunningSource(settings(dir), state: SourceState(found: true, positions: first.sink.positions))
        try #require(await waitUntil { second.sink.events.count == 6 })
        try? await Task.sleep(for: .milliseconds(300))
        await second.stop()
        let messages = second.sink.messages
        #expect(messages.filter { $0.hasPrefix("a ") } == lineList("a", 5..<8))
        #expect(messages.filter { $0.hasPrefix("b ") } == lineList("b", 0..<3))
    }

    @Test func truncationWithoutACopyRestartsAtZeroAndCountsACutLine() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<5))
        append(path, "a line cut by the trunc")
        try #require(await waitUntil { source.sink.events.count == 5 })
        try #require(
            await waitUntil { source.metric("skein_agent_file_bytes_read_total{source=\"files.test\"}") == 173 })
        truncateFile(path)
        append(path, lines("b", 0..<3))
        try #require(await waitUntil { source.sink.events.count == 8 })
        await source.stop()
        #expect(source.sink.messages == lineList("a", 0..<5) + lineList("b", 0..<3))
        #expect(source.metric("skein_agent_file_truncations_total{source=\"files.test\"}") == 1)
        #expect(source.metric("skein_agent_file_lines_lost_total{source=\"files.test\"}") == 1)
        #expect(source.sink.state.withLock { $0.dropped } == ["copytruncate": 1])
    }

    @Test func truncateAndRewritePastTheOffsetIsSeenByTheFingerprint() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<3))
        try #require(await waitUntil { source.sink.events.count == 3 })
        // Truncate and write more than before in one go: the size alone would hide the truncation.
        let fd = open(path, O_WRONLY | O_TRUNC)
        close(fd)
        append(path, lines("b", 0..<6))
        try #require(await waitUntil { source.sink.events.count == 9 })
        await source.stop()
        #expect(source.sink.messages == lineList("a", 0..<3) + lineList("b", 0..<6))
    }

    @Test func aRewriteToTheSameLengthIsSeenByTheModificationTime() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<5))
        try #require(await waitUntil { source.sink.events.count == 5 })
        // Overwrite in place: the size never changes, only the content and st_mtim.
        let fd = open(path, O_WRONLY)
        let rewritten = Array(lines("b", 0..<5).utf8)
        #expect(rewritten.count == Array(lines("a", 0..<5).utf8).count)
        _ = rewritten.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        try #require(await waitUntil { source.sink.events.count == 10 })
        await source.stop()
        #expect(source.sink.messages == lineList("a", 0..<5) + lineList("b", 0..<5))
        #expect(source.metric("skein_agent_file_truncations_total{source=\"files.test\"}") == 1)
    }

    @Test func aFileDeletedWhileOpenIsReadToItsEnd() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<2))
        try #require(await waitUntil { source.sink.events.count == 2 })
        let fd = open(path, O_WRONLY | O_APPEND)
        removeFile(path)
        let tail = Array((lines("a", 2..<5) + "last without newline").utf8)
        _ = tail.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try #require(await waitUntil { source.sink.events.count == 6 })
        let stream = source.sink.events[0].stream
        try #require(await waitUntil { source.sink.state.withLock { $0.retired.contains(stream) } })
        await source.stop()
        #expect(source.sink.messages == lineList("a", 0..<5) + ["last without newline"])
        #expect(source.metric("skein_agent_files_watched{source=\"files.test\"}") == 0)
    }

    @Test func inodeReuseIsANewFile() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, lines("a", 0..<4))
        try #require(await waitUntil { source.sink.events.count == 4 })
        var before = stat()
        stat(path, &before)
        removeFile(path)
        let stream = source.sink.events[0].stream
        try #require(await waitUntil { source.sink.state.withLock { $0.retired.contains(stream) } })
        // tmpfs and ext4 hand the freed inode to the next file; the new content has a new fingerprint.
        append(path, lines("b", 0..<4))
        try #require(await waitUntil { source.sink.events.count == 8 })
        await source.stop()
        #expect(source.sink.messages == lineList("a", 0..<4) + lineList("b", 0..<4))
        #expect(Set(source.sink.events.map(\.stream)).count == 2)
    }

    @Test func aShortFileKeepsItsOffsetWhenItReachesTheFingerprintLength() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        let source = RunningSource(settings(dir))
        append(path, "one\n")
        try #require(await waitUntil { source.sink.events.count == 1 })
        let inodeStream = source.sink.events[0].stream
        #expect(inodeStream.hasPrefix("ino-"))
        append(path, lines("a", 0..<3))
        try #require(await waitUntil { source.sink.events.count == 4 })
        let events = source.sink.events
        #expect(events[1].stream.hasPrefix("fp-"))
        #expect(events[1].position == String(4 + lineList("a", 0..<1)[0].utf8.count + 1))
        try #require(await waitUntil { source.sink.state.withLock { $0.retired.contains(inodeStream) } })
        await source.stop()
        // Restart from the positions: the fingerprint is found first, nothing is read twice.
        append(path, lines("a", 3..<4))
        let second = RunningSource(settings(dir), state: SourceState(found: true, positions: source.sink.positions))
        try #require(await waitUntil { second.sink.events.count == 1 })
        await second.stop()
        #expect(second.sink.messages == lineList("a", 3..<4))
    }

    @Test func restartInsideASplitLineResumesAtThePiece() async throws {
        let dir = TempDirectory()
        let path = dir.file("app.log")
        append(path, lines("a", 0..<3) + String(repeating: "z", count: 25) + "\n")
        let size = lines("a", 0..<3).utf8.count
        // The last committed record was the first 10-byte piece of the long line.
        let stream = Fingerprint.stream(Fingerprint.hash(Array(lines("a", 0..<3).utf8.prefix(64))))
        let source = RunningSource(
            settings(dir) { $0.maxLineBytes = 10 },
            state: SourceState(found: true, positions: [stream: String(size + 10)]))
        try #require(await waitUntil { source.sink.events.count >= 2 })
        try? await Task.sleep(for: .milliseconds(200))
        await source.stop()
        #expect(source.sink.messages == ["zzzzzzzzzz", "zzzzz"])
    }

    @Test func firstStartReadsExistingFilesFromTheEndAndNewOnesFromTheBeginning() async throws {
        let dir = TempDirectory()
        append(dir.file("old.log"), lines("old", 0..<3))
        let source = RunningSource(settings(dir), state: SourceState(found: false))
        try #require(await waitUntil { source.metric("skein_agent_files_watched{source=\"files.test\"}") == 1 })
        append(dir.file("old.log"), lines("old", 3..<4))
        append(dir.file("new.log"), lines("new", 0..<2))
        try #require(await waitUntil { source.sink.events.count == 3 })
        await source.stop()
        #expect(source.sink.messages.filter { $0.hasPrefix("old") } == lineList("old", 3..<4))
        #expect(source.sink.messages.filter { $0.hasPrefix("new") } == lineList("new", 0..<2))

        let fromStart = RunningSource(settings(dir) { $0.startAt = .beginning }, state: SourceState(found: false))
        try #require(await waitUntil { fromStart.sink.events.count == 6 })
        await fromStart.stop()
    }

    @Test func restartResumesKnownFilesAndReadsUnknownFromZero() async throws {
        let dir = TempDirectory()
        append(dir.file("a.log"), lines("a", 0..<3))
        let first = RunningSource(settings(dir))
        try #require(await waitUntil { first.sink.events.count == 3 })
        await first.stop()
        append(dir.file("a.log"), lines("a", 3..<5))
        append(dir.file("b.log"), lines("b", 0..<2))
        let second = RunningSource(settings(dir), state: SourceState(found: true, positions: first.sink.positions))
        try #require(await waitUntil { second.sink.events.count == 4 })
        try? await Task.sleep(for: .milliseconds(200))
        await second.stop()
        #expect(second.sink.messages.filter { $0.hasPrefix("a") } == lineList("a", 3..<5))
        #expect(second.sink.messages.filter { $0.hasPrefix("b") } == lineList("b", 0..<2))
    }

    @Test func excludeGlobsAndMultilineAndLongLines() async throws {
        let dir = TempDirectory()
        var configured = settings(dir, ["*"]) {
            $0.exclude = [dir.path + "/*.skip"]
            $0.maxLineBytes = 10
            $0.longLines = .truncate
            var multiline = MultilineSettings(startPattern: #"^\S"#)
            multiline.timeoutMilliseconds = 100
            $0.multiline = multiline
        }
        configured.fingerprintBytes = 1024
        let source = RunningSource(configured)
        append(dir.file("x.skip"), "never\n")
        append(dir.file("x.log"), "E one\n  at 1\n  at 2\nI a very long line indeed\n")
        try #require(await waitUntil { source.sink.events.count == 2 })
        await source.stop()
        let events = source.sink.events
        try #require(events.count == 2)
        #expect(source.sink.messages == ["E one\n  at 1\n  at 2", "I a very l"])
        #expect(events[0].flags.isEmpty)
        #expect(events[0].position == "20")
        #expect(events[1].flags == [.truncated, .multilineFlushed])
    }

    @Test func readsRotatedGzipFilesOnlyWhenAskedAndOnlyOnce() async throws {
        let dir = TempDirectory()
        let source = RunningSource(settings(dir, ["app.log*"]) { $0.readCompressed = true })
        // A .gz present at the first scan counts as read; this one must appear after it.
        append(dir.file("app.log"), "started\n")
        try #require(await waitUntil { source.sink.events.count == 1 })
        append(dir.file("other.txt"), lines("z", 0..<3))
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/sh")
        gz.arguments = ["-c", "gzip -c \(dir.file("other.txt")) > \(dir.file("app.log.2.gz"))"]
        try gz.run()
        gz.waitUntilExit()
        try #require(await waitUntil { source.sink.events.count == 4 })
        try? await Task.sleep(for: .milliseconds(300))
        await source.stop()
        #expect(source.sink.messages == ["started"] + lineList("z", 0..<3))
        let ignoring = RunningSource(
            settings(dir, ["app.log*"]) { $0.startAt = .beginning }, state: SourceState(found: false))
        try #require(await waitUntil { ignoring.sink.events.count == 1 })
        try? await Task.sleep(for: .milliseconds(300))
        await ignoring.stop()
        #expect(ignoring.sink.messages == ["started"])
    }

    @Test func anIdleSourceSleeps() async throws {
        let dir = TempDirectory()
        append(dir.file("app.log"), lines("a", 0..<3))
        let turns = TurnCounter()
        var source = FileSource(
            settings: settings(dir), defaultTopic: "logs", metrics: MetricsRegistry(), logger: Logger(label: "t"))
        source.onLoopTurn = { turns.value.add(1, ordering: .relaxed) }
        let sink = RecordingSink()
        let task = Task { try await source.run(from: SourceState(found: true), into: sink) }
        try #require(await waitUntil { sink.events.count == 3 })
        let before = turns.value.load(ordering: .relaxed)
        try await Task.sleep(for: .milliseconds(1500))
        let idleTurns = turns.value.load(ordering: .relaxed) - before
        // One rescan a second (scan_interval_seconds = 1 here) and the odd late inotify event; a loop
        // that does not sleep turns thousands of times.
        #expect(idleTurns <= 6, "\(idleTurns) turns while idle")
        append(dir.file("app.log"), lines("a", 3..<4))
        try #require(await waitUntil { sink.events.count == 4 })
        task.cancel()
        _ = try? await task.value
    }
}

final class TurnCounter: Sendable {
    let value = Atomic<Int>(0)
}
