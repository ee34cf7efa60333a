// Storage engine benchmark: reports, in one run, the figures issue #2 sets goals for.
//   swift run -c release skein-storage-bench [--dir DIR] [--quick]
// Every figure that is a ratio is measured against its peer in the same run, since these machines are noisy.
import Dispatch
import Foundation
import SkeinLog
import SkeinTestSupport

struct Options {
    var directory = NSTemporaryDirectory() + "skein-storage-bench-\(getpid())"
    var quick = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--dir": directory = iterator.next() ?? directory
            case "--quick": quick = true
            default:
                print("usage: skein-storage-bench [--dir DIR] [--quick]")
                exit(2)
            }
        }
    }
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonicSeconds()
    try body()
    return monotonicSeconds() - start
}

func freshDirectory(_ path: String) -> String {
    try? FileManager.default.removeItem(atPath: path)
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func report(_ name: String, _ value: String, goal: String = "") {
    let padded = name.padding(toLength: 62, withPad: " ", startingAt: 0)
    // Written straight away so a figure survives even if a later section fails.
    FileHandle.standardOutput.write(Data("\(padded) \(value)\(goal.isEmpty ? "" : "   (goal: \(goal))")\n".utf8))
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

let options = Options(CommandLine.arguments)
let root = freshDirectory(options.directory)
defer { try? FileManager.default.removeItem(atPath: root) }
print("skein storage benchmark, data in \(root)\(options.quick ? " (quick)" : "")")

// MARK: 1. Appending 1 MiB batches to the page cache, against dd bs=1M to the same filesystem.

func ddMegabytesPerSecond(megabytes: Int) throws -> Double {
    let target = root + "/dd.bin"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/dd")
    process.arguments = ["if=/dev/zero", "of=\(target)", "bs=1M", "count=\(megabytes)"]
    process.standardError = FileHandle.nullDevice
    let seconds = try timed {
        try process.run()
        process.waitUntilExit()
    }
    try FileManager.default.removeItem(atPath: target)
    return Double(megabytes) / seconds
}

func appendMegabytesPerSecond(megabytes: Int) throws -> Double {
    let directory = freshDirectory(root + "/append")
    let manager = try LogManager.open(directory: directory)
    var config = LogConfig()
    config.maxMessageBytes = 2 << 20
    let log = try manager.createLog(TopicPartition("append", 0), config: config)
    var batch = BatchFactory.patterned(seed: 1, recordCount: 16, payloadBytes: (1 << 20) - 1024)
    let batchBytes = batch.count
    // append rewrites only the base offset, so one buffer serves every call without copying.
    let seconds = try timed {
        try batch.withUnsafeMutableBytes { raw in
            for _ in 0..<megabytes { _ = try log.append(raw) }
        }
    }
    try manager.shutdown()
    try FileManager.default.removeItem(atPath: directory)
    return Double(megabytes * batchBytes) / 1_048_576 / seconds
}

let appendMegabytes = options.quick ? 256 : 1024
var ddRuns: [Double] = []
var appendRuns: [Double] = []
for _ in 0..<3 {
    ddRuns.append(try ddMegabytesPerSecond(megabytes: appendMegabytes))
    appendRuns.append(try appendMegabytesPerSecond(megabytes: appendMegabytes))
}
let ddBest = ddRuns.max()!
let appendBest = appendRuns.max()!
report("dd bs=1M to page cache, MB/s (best of 3)", format(ddBest))
report("append 1 MiB batches to page cache, MB/s (best of 3)", format(appendBest))
report("append / dd", format(appendBest / ddBest, 2), goal: ">= 0.70")

// MARK: 2. fsync group commit: 16 writers of 16 KiB batches, each waiting for its batch to be durable.

do {
    let directory = freshDirectory(root + "/groupcommit")
    let manager = try LogManager.open(directory: directory)
    let log = try manager.createLog(TopicPartition("durable", 0), config: LogConfig())
    let writers = 16
    let duration = options.quick ? 2.0 : 5.0
    let template = BatchFactory.patterned(seed: 2, recordCount: 8, payloadBytes: 16 * 1024 - 200)
    let deadline = monotonicSeconds() + duration
    let latencies = LatencyRecorder()
    let group = DispatchGroup()
    let start = monotonicSeconds()
    for _ in 0..<writers {
        group.enter()
        Thread.detachNewThread {
            var batch = template
            var mine: [Double] = []
            while monotonicSeconds() < deadline {
                let began = monotonicSeconds()
                let result = try! batch.withUnsafeMutableBytes { try log.append($0) }
                let durable = DispatchSemaphore(value: 0)
                log.flush(upTo: result.lastOffset + 1) { _ in durable.signal() }
                durable.wait()
                mine.append(monotonicSeconds() - began)
            }
            latencies.add(mine)
            group.leave()
        }
    }
    group.wait()
    let elapsed = monotonicSeconds() - start
    let all = latencies.sorted()
    let batches = Double(all.count)
    report("group commit, 16 writers x 16 KiB: acknowledged batches/s", format(batches / elapsed, 0))
    report("group commit: MB/s made durable", format(batches * Double(template.count) / 1_048_576 / elapsed))
    report("group commit: fsync rounds/s", format(Double(log.flushCount) / elapsed, 0))
    report("group commit: batches per fsync", format(batches / Double(max(1, log.flushCount)), 1))
    report(
        "group commit: ack latency p50 / p99, ms",
        "\(format(percentile(all, 0.5) * 1000, 2)) / \(format(percentile(all, 0.99) * 1000, 2))")
    try manager.shutdown()
}

final class LatencyRecorder: @unchecked Sendable {
    private var values: [Double] = []
    private let lock = NSLock()
    func add(_ more: [Double]) { lock.lock(); values += more; lock.unlock() }
    func sorted() -> [Double] { lock.lock(); defer { lock.unlock() }; return values.sorted() }
}

// MARK: 3. Random offset lookup in a partition with 1,000 segments.

do {
    let directory = freshDirectory(root + "/lookup")
    let manager = try LogManager.open(directory: directory)
    var config = LogConfig()
    config.segmentBytes = 64 * 1024
    let log = try manager.createLog(TopicPartition("lookup", 0), config: config)
    var batch = BatchFactory.patterned(seed: 3, recordCount: 10, payloadBytes: 900)
    try batch.withUnsafeMutableBytes { raw in
        while log.segmentCount < 1000 { _ = try log.append(raw) }
    }
    let end = log.logEndOffset
    var generator = SystemRandomNumberGenerator()
    let lookups = options.quick ? 20_000 : 100_000
    var samples: [Double] = []
    samples.reserveCapacity(lookups)
    for _ in 0..<lookups {
        let offset = Int64.random(in: 0..<end, using: &generator)
        let began = monotonicSeconds()
        let result = try log.read(from: offset, maxBytes: 16 * 1024)
        samples.append(monotonicSeconds() - began)
        precondition(result.slice != nil)
    }
    samples.sort()
    report(
        "random lookup, \(log.segmentCount) segments, \(end) offsets: median µs",
        format(percentile(samples, 0.5) * 1e6, 2), goal: "<= 10")
    report("random lookup: p99 µs", format(percentile(samples, 0.99) * 1e6, 2))
    try manager.shutdown()
}

// MARK: 4. Recovery scan speed from the page cache.

do {
    let directory = freshDirectory(root + "/recovery")
    let megabytes = options.quick ? 256 : 1024
    do {
        let manager = try LogManager.open(directory: directory)
        var config = LogConfig()
        config.segmentBytes = 128 << 20
        let log = try manager.createLog(TopicPartition("recover", 0), config: config)
        var batch = BatchFactory.patterned(seed: 4, recordCount: 64, payloadBytes: 64 * 1024)
        try batch.withUnsafeMutableBytes { raw in
            while log.sizeInBytes < Int64(megabytes) << 20 { _ = try log.append(raw) }
        }
        // Dropped without shutdown: the next open finds no clean-shutdown marker and rescans everything.
    }
    var manager: LogManager?
    let seconds = try timed { manager = try LogManager.open(directory: directory) }
    let report4 = manager!.recoveryReport
    report(
        "recovery rescan of \(report4.bytesRescanned >> 20) MiB: GB/s",
        format(Double(report4.bytesRescanned) / 1e9 / seconds, 2), goal: ">= 1")
    try manager!.shutdown()
}

// MARK: 5. Opening 1,000 partitions x 10 segments after a clean shutdown.

do {
    let directory = freshDirectory(root + "/open")
    let partitions = 1000
    do {
        let manager = try LogManager.open(directory: directory)
        var config = LogConfig()
        config.segmentBytes = 4096
        var batch = BatchFactory.patterned(seed: 5, recordCount: 4, payloadBytes: 900)
        for partition in 0..<partitions {
            let log = try manager.createLog(
                TopicPartition("open-\(partition % 100)", Int32(partition / 100)), config: config)
            try batch.withUnsafeMutableBytes { raw in
                while log.segmentCount < 10 { _ = try log.append(raw) }
            }
        }
        try manager.shutdown()
    }
    var manager: LogManager?
    let seconds = try timed { manager = try LogManager.open(directory: directory) }
    let opened = manager!.recoveryReport
    report(
        "open \(opened.partitions) partitions, \(opened.segments) segments, clean: seconds", format(seconds, 3),
        goal: "<= 2")
    report("  segments rescanned at that open", String(opened.segmentsRescanned))
    try manager!.shutdown()
}
