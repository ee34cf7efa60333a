import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

@Suite struct AppendReadTests {
    @Test func appendAssignsConsecutiveOffsetsAndReadsReturnTheStoredBatch() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("events", 0), config: smallConfig())
        var sent: [[UInt8]] = []
        for index in 0..<50 {
            let batch = smallBatch("value-\(index)", records: 1 + index % 4)
            let result = try log.append(batch: batch)
            #expect(result.firstOffset == (sent.isEmpty ? 0 : log.logEndOffset - Int64(1 + index % 4)))
            #expect(result.lastOffset == log.logEndOffset - 1)
            sent.append(batch)
        }
        let stored = try log.readAllBatches()
        #expect(stored.count == 50)
        #expect(stored.map(withBaseOffsetZero) == sent)
        // Every offset, including ones in the middle of a batch, is served from the batch that holds it.
        for offset in 0..<log.logEndOffset {
            let slice = try #require(try log.read(from: offset, maxBytes: 1).slice)
            let batch = try slice.readBytes()
            #expect(baseOffset(of: batch) <= offset)
            #expect(baseOffset(of: batch) + Int64(lastOffsetDelta(of: batch)) >= offset)
        }
    }

    @Test func readIsBoundedByMaxBytesInWholeBatchesButAlwaysReturnsOneBatch() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("bounded", 0), config: smallConfig())
        let batch = BatchFactory.patterned(seed: 1, payloadBytes: 1000)
        for _ in 0..<20 { try log.append(batch: batch) }
        let size = batch.count
        let two = try #require(try log.read(from: 0, maxBytes: size * 2 + size / 2).slice)
        #expect(two.length == size * 2)
        let exact = try #require(try log.read(from: 5, maxBytes: size * 3).slice)
        #expect(exact.length == size * 3)
        #expect(exact.firstOffset == 5)
        let oversized = try #require(try log.read(from: 0, maxBytes: 10).slice)
        #expect(oversized.length == size)
        #expect(try log.read(from: 0, maxBytes: 10, minOneBatch: false).slice == nil)
    }

    @Test func readAtTheEndIsEmptyAndOutsideTheLogIsOutOfRange() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("ends", 0), config: smallConfig())
        try log.append(batch: smallBatch("a", records: 3))
        let atEnd = try log.read(from: 3, maxBytes: 1000)
        #expect(atEnd.slice == nil)
        #expect(atEnd.highWatermark == 3)
        #expect(atEnd.logEndOffset == 3)
        #expect(throws: LogError.offsetOutOfRange(requested: 4, logStartOffset: 0, logEndOffset: 3)) {
            try log.read(from: 4, maxBytes: 1000)
        }
        #expect(throws: LogError.offsetOutOfRange(requested: -1, logStartOffset: 0, logEndOffset: 3)) {
            try log.read(from: -1, maxBytes: 1000)
        }
    }

    @Test func rollsBySegmentBytesAndReadsAcrossSegments() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("rolling", 0), config: smallConfig(segmentBytes: 4096))
        let batch = BatchFactory.patterned(seed: 7, payloadBytes: 900)
        for _ in 0..<40 { try log.append(batch: batch) }
        #expect(log.segmentCount > 5)
        let files = segmentLogFiles(log.directory)
        #expect(files.count == log.segmentCount)
        #expect(files.allSatisfy { $0.count == 24 })
        for (file, base) in zip(files, log.segmentBaseOffsets) {
            #expect(file == String(format: "%020lld.log", base))
        }
        #expect(try log.readAllBatches().count == 40)
        for file in files { #expect(fileSize(log.directory + "/" + file) <= 4096) }
    }

    @Test func rollsBySegmentMsOnTheNextAppend() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig()
        config.segmentMs = 60_000
        let log = try manager.createLog(TopicPartition("timed", 0), config: config)
        try log.append(batch: smallBatch("a"))
        clock.advance(by: 59_999)
        try log.append(batch: smallBatch("b"))
        #expect(log.segmentCount == 1)
        clock.advance(by: 1)
        try log.append(batch: smallBatch("c"))
        #expect(log.segmentBaseOffsets == [0, 2])
    }

    @Test func lookupByTimestampFindsTheFirstRecordAtOrAfterIt() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("times", 0), config: smallConfig(segmentBytes: 2048))
        // Batch i holds 5 records stamped base + 100*i + 0...4.
        let base: Int64 = 1_700_000_000_000
        for index in 0..<60 {
            try log.append(batch: smallBatch("t\(index)", timestamp: base + Int64(index) * 100, records: 5))
        }
        #expect(log.segmentCount > 3)
        #expect(try log.offset(forTimestamp: 0) == TimestampLookup(offset: 0, timestamp: base))
        #expect(try log.offset(forTimestamp: base + 1000) == TimestampLookup(offset: 50, timestamp: base + 1000))
        #expect(try log.offset(forTimestamp: base + 1003) == TimestampLookup(offset: 53, timestamp: base + 1003))
        // Between two batches: the next batch's first record.
        #expect(try log.offset(forTimestamp: base + 1050) == TimestampLookup(offset: 55, timestamp: base + 1100))
        #expect(try log.offset(forTimestamp: base + 5904) == TimestampLookup(offset: 299, timestamp: base + 5904))
        #expect(try log.offset(forTimestamp: base + 5905) == nil)
    }

    @Test func lookupByTimestampToleratesTimestampsThatGoBackwards() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("skewed", 0), config: smallConfig())
        let stamps: [Int64] = [1000, 5000, 2000, 3000, 9000, 4000]
        for stamp in stamps { try log.append(batch: smallBatch("x", timestamp: stamp)) }
        #expect(try log.offset(forTimestamp: 2500)?.offset == 1)
        #expect(try log.offset(forTimestamp: 6000)?.offset == 4)
        #expect(try log.offset(forTimestamp: 9001) == nil)
    }

    @Test func logAppendTimeTopicsStampTheBatchAndKeepItsCRCValid() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(1_800_000_000_000)
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig()
        config.timestampType = .logAppendTime
        let log = try manager.createLog(TopicPartition("stamped", 0), config: config)
        let result = try log.append(batch: smallBatch("v", timestamp: 5, records: 2))
        #expect(result.logAppendTime == 1_800_000_000_000)
        let stored = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice).readBytes()
        let header = try stored.withUnsafeBytes { try StoredBatchHeader.validate($0, .stored) }
        #expect(header.usesLogAppendTime)
        #expect(header.maxTimestamp == 1_800_000_000_000)
        #expect(try log.offset(forTimestamp: 1_800_000_000_000)?.offset == 0)
    }

    @Test func aRecordSetWithSeveralBatchesIsAppendedInOneCall() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("multi", 0), config: smallConfig())
        var records = smallBatch("a", records: 2) + smallBatch("b", records: 3) + smallBatch("c")
        let result = try log.append(&records)
        #expect(result.firstOffset == 0)
        #expect(result.lastOffset == 5)
        #expect(result.batchCount == 3)
        #expect(try log.readAllBatches().map(baseOffset(of:)) == [0, 2, 5])
    }

    @Test func topicPartitionDirectoryNamesRoundTrip() {
        #expect(TopicPartition(directoryName: "my-topic-12") == TopicPartition("my-topic", 12))
        #expect(TopicPartition(directoryName: "a.b_c-0") == TopicPartition("a.b_c", 0))
        #expect(TopicPartition(directoryName: "nodash") == nil)
        #expect(TopicPartition(directoryName: "bad/name-1") == nil)
        #expect(TopicPartition(directoryName: "..-1") == nil)
        #expect(TopicPartition.isValidTopicName(String(repeating: "x", count: 249)))
        #expect(!TopicPartition.isValidTopicName(String(repeating: "x", count: 250)))
    }
}
