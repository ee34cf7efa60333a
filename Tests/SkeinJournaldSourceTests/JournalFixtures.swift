import Foundation
import Logging
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinJournaldSource
@testable import SkeinLogShipping

/// Real journal files, written by systemd-journal-remote from the export format (DESIGN.md §5), so the
/// tests read what libsystemd really reads rather than a mock.
enum JournalFixtures {
    static let bootId = "0123456789abcdef0123456789abcdef"
    static let baseRealtime: UInt64 = 1_700_000_000_000_000
    static let journalRemote = "/lib/systemd/systemd-journal-remote"

    typealias Entry = [(String, [UInt8])]

    /// An entry numbered `index`: its time, boot and MESSAGE `entry <index>` unless `fields` give one.
    static func entry(_ index: Int, _ fields: [(String, String)] = [], message: [UInt8]? = nil) -> Entry {
        var entry: Entry = [
            ("__REALTIME_TIMESTAMP", Array(String(baseRealtime + UInt64(index) * 1000).utf8)),
            ("__MONOTONIC_TIMESTAMP", Array(String(1_000_000 + UInt64(index) * 1000).utf8)),
            ("_BOOT_ID", Array(bootId.utf8)),
            ("_HOSTNAME", Array("fixture-host".utf8)),
            ("MESSAGE", message ?? Array("entry \(index)".utf8)),
        ]
        entry += fields.map { ($0.0, Array($0.1.utf8)) }
        return entry
    }

    /// The export format: `NAME=value` lines, or for a value with a newline or any binary byte the name,
    /// a newline, a little-endian 64-bit length and the raw bytes; a blank line after each entry.
    static func export(_ entries: [Entry]) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in entries {
            for (name, value) in entry {
                if value.contains(where: { $0 < 32 || $0 >= 127 }) {
                    bytes += Array(name.utf8) + [10]
                    withUnsafeBytes(of: UInt64(value.count).littleEndian) { bytes += $0 }
                    bytes += value + [10]
                } else {
                    bytes += Array("\(name)=".utf8) + value + [10]
                }
            }
            bytes.append(10)
        }
        return bytes
    }

    /// Writes `entries` as the journal file `name` in `directory` (created if needed).
    static func write(_ entries: [Entry], to directory: String, name: String = "x.journal") throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let input = directory + "/.\(name).export"
        try Data(export(entries)).write(to: URL(fileURLWithPath: input))
        defer { try? FileManager.default.removeItem(atPath: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: journalRemote)
        process.arguments = ["--output=\(directory)/\(name)", "-"]
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input))
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: "systemd-journal-remote exited \(process.terminationStatus)")
        }
    }

    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "skein-journald-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct FixtureError: Error, CustomStringConvertible { var description: String }
}

/// Collects what a source emits.
final class CollectingSink: SourceSink {
    let events = Mutex<[SkeinLogShipping.LogEvent]>([])
    let drops = Mutex<[String: Int]>([:])

    func emit(_ batch: [SkeinLogShipping.LogEvent]) async throws {
        events.withLock { $0 += batch }
    }

    func retire(stream: String) async {}

    func dropped(_ count: Int, reason: String) {
        drops.withLock { $0[reason, default: 0] += count }
    }

    let eventEncoding = LogEventEncoding(host: "test", sourceKind: "journald", maxValueBytes: 1 << 20)

    func emit(encoded events: EncodedEvents) async throws {
        Issue.record("a journald source emits LogEvents")
    }

    var messages: [String] { events.withLock { $0.map { String(decoding: $0.message, as: UTF8.self) } } }
}

/// A source running in a task the test owns.
struct RunningSource {
    let task: Task<Void, any Error>
    let sink: CollectingSink
    /// Times the reader went to wait for the journal to change: it had read all it could see.
    let idle = Counter()
    let registry = MetricsRegistry()

    init(_ settings: JournaldSettings, state: SourceState = SourceState(), reopenAfterEntries: Int = 50_000) {
        let sink = CollectingSink()
        var source = JournaldSource(
            settings: settings, defaultTopic: "logs", metrics: registry, logger: Logger(label: "test"))
        let idle = idle
        source.onIdle = { idle.increment() }
        source.reopenAfterEntries = reopenAfterEntries
        let running = source
        task = Task { try await running.run(from: state, into: sink) }
        self.sink = sink
    }

    /// Polls (10 ms steps, bounded) until `done` holds for the events emitted so far.
    func wait(
        seconds: Double = 20, _ done: @Sendable ([SkeinLogShipping.LogEvent]) -> Bool,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if sink.events.withLock({ done($0) }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out; got \(sink.messages)", sourceLocation: sourceLocation)
    }

    /// Waits until the reader has gone idle at least `count` times (it has read all it can see).
    func waitIdle(atLeast count: Int = 1) async {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline, idle.value < count {
            try? await Task.sleep(for: .milliseconds(10))
        }
        #expect(idle.value >= count)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
