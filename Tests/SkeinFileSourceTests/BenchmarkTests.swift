import Foundation
import Glibc
import Logging
import SkeinLogShipping
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinFileSource

/// Reading cost, run only when asked (`SKEIN_FILE_BENCH=1 swift test --filter FileSourceBenchmark`): lines
/// per second into a sink that only counts, CPU seconds per million lines, and CPU while idle.
@Suite struct FileSourceBenchmark {
    final class CountingSink: SourceSink {
        let count = Atomic<Int>(0)
        func emit(_ events: [SkeinLogShipping.LogEvent]) async throws {
            count.add(events.count, ordering: .relaxed)
        }
        func emit(encoded events: EncodedEvents) async throws {
            count.add(events.count, ordering: .relaxed)
        }
        let eventEncoding = LogEventEncoding(host: "bench", sourceKind: "file", maxValueBytes: 1 << 20)
        func retire(stream: String) async {}
        func dropped(_ count: Int, reason: String) {}
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SKEIN_FILE_BENCH"] != nil))
    func millionLines() async throws {
        let dir = TempDirectory()
        let path = dir.file("bench.log")
        let total = 1_000_000
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var chunk = ""
        for n in 0..<total {
            chunk +=
                "2026-12-05T01:00:00.000Z host app[1234]: request \(n) GET /api/v1/items status=200 "
                + "bytes=5123 duration_ms=12 user=someone trace=0123456789abcdef\n"
            if n % 10_000 == 9_999 {
                _ = Array(chunk.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                chunk = ""
            }
        }
        close(fd)
        let sink = CountingSink()
        var configured = FileSourceSettings(id: "files.bench", paths: [path])
        configured.startAt = .beginning
        let source = FileSource(
            settings: configured, defaultTopic: "logs", metrics: MetricsRegistry(), logger: Logger(label: "bench"))
        let cpuBefore = Self.cpuSeconds()
        let start = ContinuousClock.now
        let task = Task { try await source.run(from: SourceState(found: false), into: sink) }
        #expect(await waitUntil(seconds: 120) { sink.count.load(ordering: .relaxed) == total })
        let elapsed = ContinuousClock.now - start
        let cpu = Self.cpuSeconds() - cpuBefore
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let idleBefore = Self.cpuSeconds()
        try await Task.sleep(for: .seconds(5))
        let idle = Self.cpuSeconds() - idleBefore
        task.cancel()
        _ = try? await task.value
        print(
            "FILEBENCH lines=\(total) seconds=\(seconds) lines_per_second=\(Int(Double(total) / seconds)) "
                + "cpu_seconds=\(cpu) idle_cpu_seconds_over_5s=\(idle)")
        #expect(idle < 0.5)
    }
}
