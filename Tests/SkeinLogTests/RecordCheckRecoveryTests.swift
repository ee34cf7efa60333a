import Foundation
import SkeinTestSupport
import Synchronization
import Testing

@testable import SkeinLog

/// Flags batches whose bytes contain "BAD": stands in for the broker's record walker, which this module does
/// not know, and counts how many batches it was shown.
final class MarkerValidator: StoredRecordsValidator, @unchecked Sendable {
    let checked = Mutex(0)
    func problem(inRecordsOf batch: UnsafeRawBufferPointer) -> String? {
        checked.withLock { $0 += 1 }
        let bad = Array("BAD".utf8)
        for start in 0..<max(0, batch.count - bad.count + 1) where batch[start] == bad[0] {
            if Array(batch[start..<start + bad.count]) == bad { return "marked bad" }
        }
        return nil
    }
}

@Suite struct RecordCheckRecoveryTests {
    let topic = TopicPartition("checked", 0)

    /// Ten batches, the sixth carrying "BAD", stored by a manager without a record check (an older version).
    func populate(_ directory: TemporaryDirectory) throws {
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(topic, config: smallConfig(segmentBytes: 600))
        for index in 0..<10 {
            try log.append(batch: smallBatch(index == 5 ? "BAD" : "good\(index)", records: 2))
        }
        try manager.shutdown()
    }

    @Test func directoryPredatingTheCheckIsRescannedOnceAndCutAtTheUnreadableBatch() throws {
        let directory = TemporaryDirectory()
        try populate(directory)
        let validator = MarkerValidator()
        let manager = try LogManager.open(directory: directory.path, records: validator) { _ in
            smallConfig(segmentBytes: 600)
        }
        let log = try #require(manager.log(for: topic))
        #expect(log.logEndOffset == 10, "five batches of two records survive")
        #expect(validator.checked.withLock { $0 } == 6)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("marked bad") })
        #expect(try log.readAllBatches().count == 5)
        #expect(FileManager.default.fileExists(atPath: directory.file(".skein-records-checked")))
        try manager.shutdown()

        // Checked once: a clean restart trusts the directory again and walks only the active segment's tail
        // past its last index entry, as it always checks it.
        let again = MarkerValidator()
        let reopened = try LogManager.open(directory: directory.path, records: again) { _ in
            smallConfig(segmentBytes: 600)
        }
        #expect(reopened.recoveryReport.segmentsRescanned == 0)
        #expect(again.checked.withLock { $0 } <= 2)
        #expect(reopened.log(for: topic)?.logEndOffset == 10)
    }

    @Test func crashRecoveryWalksTheRescannedBatches() throws {
        let directory = TemporaryDirectory()
        do {
            let first = try LogManager.open(directory: directory.path, records: MarkerValidator())
            let log = try first.createLog(topic, config: smallConfig())
            for index in 0..<4 { try log.append(batch: smallBatch("good\(index)")) }
            // A batch that a version without record checks let in, then a crash (no shutdown).
            try log.append(batch: smallBatch("BAD"))
            try log.append(batch: smallBatch("after"))
            try log.flushNow()
        }
        let validator = MarkerValidator()
        let manager = try LogManager.open(directory: directory.path, records: validator) { _ in smallConfig() }
        #expect(manager.log(for: topic)?.logEndOffset == 4)
        #expect(manager.recoveryReport.bytesTruncated > 0)
    }

    @Test func damageAfterTheCheckIsAnErrorForReadersNotAnEmptyAnswer() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager.open(directory: directory.path, records: MarkerValidator())
            let log = try manager.createLog(topic, config: smallConfig(segmentBytes: 600))
            for index in 0..<10 { try log.append(batch: smallBatch("good\(index)", records: 2)) }
            try manager.shutdown()
        }
        // The second batch of the first (closed) segment loses its magic byte at rest.
        let segment = directory.path + "/" + topic.directoryName + "/" + Segment.fileName(0, ".log")
        let first = smallBatch("good0", records: 2).count
        let handle = try #require(FileHandle(forUpdatingAtPath: segment))
        try handle.seek(toOffset: UInt64(first + 16))
        try handle.write(contentsOf: [0x07])
        try handle.close()

        let manager = try LogManager.open(directory: directory.path, records: MarkerValidator()) { _ in
            smallConfig(segmentBytes: 600)
        }
        let log = try #require(manager.log(for: topic))
        // Before the damage, reads are served as stored (a sendfile of the segment does not look inside).
        #expect(try log.read(from: 0, maxBytes: 1 << 20).slice?.firstOffset == 0)
        #expect {
            try log.read(from: 2, maxBytes: 1 << 20)
        } throws: { error in
            guard case LogError.unreadableStoredBatch(_, let position, .invalidMagic(7)) = error else { return false }
            return position == Int64(first)
        }
        try manager.shutdown()
    }
}
