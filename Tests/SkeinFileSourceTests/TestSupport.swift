import Foundation
import Glibc
import Logging
import SkeinLogShipping
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinFileSource

/// A sink that records what a source hands the core: events in order, retired streams and drops.
final class RecordingSink: SourceSink {
    struct Recorded {
        var events: [SkeinLogShipping.LogEvent] = []
        var retired: [String] = []
        /// Each retire with the number of events emitted before it.
        var retiredAt: [(String, Int)] = []
        var dropped: [String: Int] = [:]
        var emitCalls = 0
    }
    let state = Mutex(Recorded())

    func emit(_ events: [SkeinLogShipping.LogEvent]) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.events.append(contentsOf: events)
            $0.emitCalls += 1
        }
    }

    func retire(stream: String) async {
        state.withLock {
            $0.retired.append(stream)
            $0.retiredAt.append((stream, $0.events.count))
        }
    }

    func dropped(_ count: Int, reason: String) { state.withLock { $0.dropped[reason, default: 0] += count } }

    let eventEncoding = LogEventEncoding(host: "test", sourceKind: "file", maxValueBytes: 1 << 20)

    func emit(encoded events: EncodedEvents) async throws {
        Issue.record("a file source emits LogEvents")
    }

    var events: [SkeinLogShipping.LogEvent] { state.withLock { $0.events } }
    var messages: [String] { events.map { String(decoding: $0.message, as: UTF8.self) } }

    /// The last position of each stream, as the core recovers it.
    var positions: [String: String] {
        state.withLock { recorded in
            var positions: [String: String] = [:]
            for event in recorded.events { positions[event.stream] = event.position }
            return positions
        }
    }
}

/// A temporary directory removed at the end of the test.
final class TempDirectory {
    let path: String

    init() {
        var template = Array("/tmp/skein-files-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Appends bytes with one write(2), as a logging library does.
func append(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    precondition(fd >= 0, "open \(path): \(errno)")
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    precondition(written == bytes.count)
    close(fd)
}

func truncateFile(_ path: String, to size: Int = 0) { precondition(truncate(path, off_t(size)) == 0) }

func renameFile(_ from: String, _ to: String) { precondition(rename(from, to) == 0) }

func removeFile(_ path: String) { precondition(unlink(path) == 0) }

func copyFile(_ from: String, _ to: String) {
    let data = FileManager.default.contents(atPath: from) ?? Data()
    precondition(FileManager.default.createFile(atPath: to, contents: data))
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held. The default bound
/// is generous because the whole Swift suite starts at once on two cores: a source's task can wait seconds
/// for a thread (a 10 s bound failed in CI); a condition that holds returns at once.
func waitUntil(seconds: Double = 30, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A running source on a task of its own.
final class RunningSource {
    let sink: RecordingSink
    let task: Task<Void, any Error>
    let registry: MetricsRegistry
    let finished = Flag()

    init(
        _ settings: FileSourceSettings, state: SourceState = SourceState(found: true),
        sink: RecordingSink = RecordingSink(), registry: MetricsRegistry = MetricsRegistry()
    ) {
        self.sink = sink
        self.registry = registry
        let source = FileSource(
            settings: settings, defaultTopic: "logs", metrics: registry, logger: Logger(label: "test"))
        let finished = self.finished
        task = Task {
            defer { finished.value.store(true, ordering: .releasing) }
            try await source.run(from: state, into: sink)
        }
    }

    /// Cancels the run and waits (bounded) for it to finish.
    func stop() async {
        task.cancel()
        if !(await waitUntil(seconds: 5) { finished.value.load(ordering: .acquiring) }) {
            Issue.record("the source did not stop within 5 s of its cancellation")
        }
    }

    /// The value of the sample whose name and labels are `line`, as the registry renders it.
    func metric(_ line: String) -> Int? {
        for sample in registry.render().split(separator: "\n") where sample.hasPrefix(line + " ") {
            return Int(sample.split(separator: " ").last!)
        }
        return nil
    }
}

func settings(
    _ directory: TempDirectory, _ patterns: [String] = ["*.log"],
    configure: (inout FileSourceSettings) -> Void = { _ in }
) -> FileSourceSettings {
    var settings = FileSourceSettings(id: "files.test", paths: patterns.map { directory.path + "/" + $0 })
    settings.fingerprintBytes = 64
    settings.rotateWaitSeconds = 0.2
    settings.scanIntervalSeconds = 1
    configure(&settings)
    return settings
}

/// Numbered lines long enough that a file passes fingerprint_bytes (64 in tests) after two of them.
func lines(_ prefix: String, _ range: Range<Int>) -> String {
    lineList(prefix, range).map { $0 + "\n" }.joined()
}

func lineList(_ prefix: String, _ range: Range<Int>) -> [String] {
    range.map { "\(prefix) line \($0) " + String(repeating: "x", count: 20) }
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
