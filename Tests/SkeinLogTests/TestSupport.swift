import Foundation
import SkeinTestSupport
import Synchronization

@testable import SkeinLog

/// A clock tests move by hand, so rolls and retention happen exactly when a test says.
final class ManualClock: LogClock, @unchecked Sendable {
    private let now: Mutex<Int64>
    init(_ start: Int64 = 1_700_000_000_000) { now = Mutex(start) }
    func milliseconds() -> Int64 { now.withLock { $0 } }
    func advance(by milliseconds: Int64) { now.withLock { $0 += milliseconds } }
}

/// A fresh directory under the system temp dir, removed when the test's scope ends.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "skein-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

func smallBatch(_ value: String, timestamp: Int64 = 1_700_000_000_000, records: Int = 1) -> [UInt8] {
    BatchFactory.batch(
        records: (0..<records).map {
            BatchFactory.Record(timestampDelta: Int64($0), value: Array("\(value)-\($0)".utf8))
        },
        baseTimestamp: timestamp)
}

extension PartitionLog {
    /// Appends a copy of `batch` (append rewrites offsets in place).
    @discardableResult
    func append(batch: [UInt8]) throws -> AppendResult {
        var copy = batch
        return try append(&copy)
    }

    /// Every batch from `offset` to the end, read back through `read`.
    func readAllBatches(from offset: Int64? = nil) throws -> [[UInt8]] {
        var next = offset ?? logStartOffset
        var batches: [[UInt8]] = []
        while next < logEndOffset {
            let result = try read(from: next, maxBytes: 1 << 20)
            guard let slice = result.slice else { break }
            let bytes = try slice.readBytes()
            var position = 0
            while position + 61 <= bytes.count {
                let length = Int(bytes[position + 8..<position + 12].reduce(0) { $0 << 8 | Int($1) })
                let batch = Array(bytes[position..<position + 12 + length])
                batches.append(batch)
                next = baseOffset(of: batch) + Int64(lastOffsetDelta(of: batch)) + 1
                position += 12 + length
            }
        }
        return batches
    }
}

func baseOffset(of batch: [UInt8]) -> Int64 {
    batch[0..<8].reduce(Int64(0)) { $0 << 8 | Int64($1) }
}

func lastOffsetDelta(of batch: [UInt8]) -> Int32 {
    Int32(bitPattern: batch[23..<27].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
}

/// The batch as a producer sent it: stored bytes differ only in the base offset.
func withBaseOffsetZero(_ batch: [UInt8]) -> [UInt8] {
    var copy = batch
    copy.replaceSubrange(0..<8, with: [UInt8](repeating: 0, count: 8))
    return copy
}

func smallConfig(segmentBytes: Int = 1 << 30) -> LogConfig {
    var config = LogConfig()
    config.segmentBytes = segmentBytes
    config.indexIntervalBytes = 256
    return config
}

func fileSize(_ path: String) -> Int64 {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? -1
}

func segmentLogFiles(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
}

/// Polls `condition` every few milliseconds for at most `seconds`.
func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}
