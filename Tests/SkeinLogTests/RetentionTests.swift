import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

@Suite struct RetentionTests {
    @Test func retentionByTimeDeletesOnlyExpiredClosedSegmentsAndAdvancesTheStartOffset() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(1_000_000)
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig(segmentBytes: 1 << 20)
        config.retentionMs = 10_000
        let log = try manager.createLog(TopicPartition("expiring", 0), config: config)
        // Three segments whose batches are stamped 1_000_000, 1_005_000 and 1_020_000.
        for stamp: Int64 in [1_000_000, 1_005_000, 1_020_000] {
            try log.append(batch: smallBatch("a", timestamp: stamp, records: 2))
            try log.append(batch: smallBatch("b", timestamp: stamp, records: 2))
            try log.forceRoll()
        }
        try log.append(batch: smallBatch("active", timestamp: 0))
        #expect(log.segmentBaseOffsets == [0, 4, 8, 12])

        // Each segment's largest timestamp is its stamp + 1 (two records, deltas 0 and 1).
        clock.advance(by: 10_001)  // cutoff now 1_000_001: the first segment is not older than it yet
        #expect(try log.applyRetention().deletedSegments == 0)
        clock.advance(by: 1)
        #expect(try log.applyRetention().deletedSegments == 1)
        #expect(log.logStartOffset == 4)
        #expect(throws: LogError.self) { try log.read(from: 3, maxBytes: 100) }
        clock.advance(by: 1_000_000)
        let outcome = try log.applyRetention()
        #expect(outcome.deletedSegments == 2)
        // The active segment stays even though its only batch is ancient.
        #expect(log.segmentBaseOffsets == [12])
        #expect(log.logStartOffset == 12)
        #expect(try log.readAllBatches().count == 1)
        #expect(segmentLogFiles(log.directory) == ["00000000000000000012.log"])
    }

    @Test func retentionByBytesKeepsThePartitionAtOrAboveTheLimit() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        var config = smallConfig(segmentBytes: 1 << 20)
        config.retentionMs = -1
        let batch = BatchFactory.patterned(seed: 9, payloadBytes: 1000)
        config.retentionBytes = Int64(batch.count * 3)
        let log = try manager.createLog(TopicPartition("sized", 0), config: config)
        for _ in 0..<6 {
            try log.append(batch: batch)
            try log.forceRoll()
        }
        #expect(log.segmentCount == 7)  // six full, one empty active
        let outcome = try log.applyRetention()
        #expect(outcome.deletedSegments == 3)
        #expect(log.sizeInBytes == Int64(batch.count * 3))
        #expect(log.logStartOffset == 3)
    }

    @Test func anIdleActiveSegmentIsRolledSoItCanExpire() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(1_000_000)
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig()
        config.retentionMs = 1000
        config.segmentMs = 5000
        let log = try manager.createLog(TopicPartition("idle", 0), config: config)
        try log.append(batch: smallBatch("old", timestamp: 1_000_000))
        clock.advance(by: 5000)
        let outcome = try log.applyRetention()
        #expect(outcome.rolledIdleSegment)
        #expect(outcome.deletedSegments == 1)
        #expect(log.logStartOffset == 1)
        #expect(log.logEndOffset == 1)
    }

    @Test func aReaderHoldingASliceKeepsItsFileUntilItIsDone() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(1_000_000)
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig()
        config.retentionMs = 1
        let log = try manager.createLog(TopicPartition("held", 0), config: config)
        let batch = BatchFactory.patterned(seed: 11, payloadBytes: 5000, timestamp: 1_000_000)
        try log.append(batch: batch)
        try log.forceRoll()
        var slice = try log.read(from: 0, maxBytes: 1 << 20).slice
        clock.advance(by: 10_000_000)
        #expect(try log.applyRetention().deletedSegments == 1)
        // The file is out of the way but still readable through the slice.
        #expect(!FileManager.default.fileExists(atPath: log.directory + "/00000000000000000000.log"))
        #expect(FileManager.default.fileExists(atPath: log.directory + "/00000000000000000000.log.deleted"))
        #expect(withBaseOffsetZero(try #require(slice).readBytes()) == batch)
        slice = nil
        #expect(!FileManager.default.fileExists(atPath: log.directory + "/00000000000000000000.log.deleted"))
    }

    @Test func backgroundTasksRunRetentionAndTimedFlushes() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        var config = smallConfig()
        config.retentionMs = 1
        config.flushMs = 1
        let log = try manager.createLog(TopicPartition("background", 0), config: config)
        try log.append(batch: smallBatch("old", timestamp: 1000))
        try log.forceRoll()
        try log.append(batch: smallBatch("new"))
        manager.startBackgroundTasks(retentionCheckIntervalMs: 10, flushCheckIntervalMs: 10, checkpointIntervalMs: 10)
        #expect(eventually { log.logStartOffset == 1 })
        #expect(eventually { log.recoveryPoint == 2 })
        try manager.shutdown()
    }

    @Test func deletedLogsDisappearAndStayGoneAfterRestart() throws {
        let directory = TemporaryDirectory()
        let topic = TopicPartition("doomed", 0)
        do {
            let manager = try LogManager.open(directory: directory.path)
            let log = try manager.createLog(topic, config: smallConfig())
            try log.append(batch: smallBatch("x"))
            try manager.deleteLog(topic)
            #expect(manager.log(for: topic) == nil)
            #expect(throws: LogError.logClosed(topic.description)) { try log.append(batch: smallBatch("y")) }
            #expect(
                eventually {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? ["?"]
                    return !names.contains { $0.hasPrefix("doomed") }
                })
            try manager.shutdown()
        }
        let reopened = try LogManager.open(directory: directory.path)
        #expect(reopened.topicPartitions.isEmpty)
    }
}
