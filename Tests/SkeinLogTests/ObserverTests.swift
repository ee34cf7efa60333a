import Foundation
import SkeinTestSupport
import Synchronization
import Testing

@testable import SkeinLog

@Suite struct ObserverTests {
    /// Records what the storage engine reports, as the broker's metrics would.
    final class RecordingObserver: LogObserver {
        let syncs = Mutex<[Double]>([])
        let deletions = Mutex<[(TopicPartition, Int, Int64)]>([])
        func logDidSync(_ topicPartition: TopicPartition, seconds: Double) { syncs.withLock { $0.append(seconds) } }
        func logDidDeleteSegments(_ topicPartition: TopicPartition, segments: Int, bytes: Int64) {
            deletions.withLock { $0.append((topicPartition, segments, bytes)) }
        }
    }

    /// The Fetch path counts records out as `nextOffset - firstOffset` without reading the slice, so
    /// `nextOffset` must be the offset after the slice's last whole batch for every budget, including
    /// budgets that cut within an index interval and reads that span past the offset index's hint.
    @Test func sliceNextOffsetIsTheOffsetAfterItsLastBatch() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("slices", 0), config: smallConfig())
        for index in 0..<200 { try log.append(batch: smallBatch("v\(index)", records: 1 + index % 5)) }
        for from in stride(from: Int64(0), to: log.logEndOffset, by: 37) {
            for maxBytes in [1, 100, 333, 1000, 4096, 10_000, 1 << 20] {
                let slice = try #require(try log.read(from: from, maxBytes: maxBytes).slice)
                let bytes = try slice.readBytes()
                var position = 0
                var last: Int64 = -1
                while position + 61 <= bytes.count {
                    let batch = Array(bytes[position...])
                    last = baseOffset(of: batch) + Int64(lastOffsetDelta(of: batch))
                    position += 12 + Int(bytes[position + 8..<position + 12].reduce(0) { $0 << 8 | Int($1) })
                }
                #expect(position == bytes.count)
                #expect(slice.nextOffset == last + 1, "from \(from), maxBytes \(maxBytes)")
                #expect(slice.firstOffset == baseOffset(of: bytes))
            }
        }
    }

    @Test func fsyncRoundsAndRetentionDeletionsAreReported() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        let observer = RecordingObserver()
        manager.observer = observer
        var config = smallConfig(segmentBytes: 1024)
        config.retentionMs = 1000
        let log = try manager.createLog(TopicPartition("observed", 0), config: config)
        for index in 0..<40 { try log.append(batch: smallBatch("value-\(index)", timestamp: clock.milliseconds())) }
        try await log.flush(upTo: log.logEndOffset)
        #expect(observer.syncs.withLock { $0.count } >= 1)
        #expect(observer.syncs.withLock { $0.allSatisfy { $0 >= 0 } })

        let segmentsBefore = log.segmentCount
        let sizeBefore = log.sizeInBytes
        clock.advance(by: 10_000)
        let outcomes = manager.runRetention()
        let outcome = try #require(outcomes[TopicPartition("observed", 0)])
        let reported = observer.deletions.withLock { $0 }
        #expect(reported.count == 1)
        #expect(reported.first?.0 == TopicPartition("observed", 0))
        #expect(reported.first?.1 == outcome.deletedSegments)
        #expect(reported.first?.2 == outcome.deletedBytes)
        #expect(log.segmentCount == segmentsBefore - outcome.deletedSegments)
        #expect(log.metricsSnapshot.sizeInBytes == sizeBefore - outcome.deletedBytes)
        #expect(log.metricsSnapshot.segments == log.segmentCount)
    }
}
