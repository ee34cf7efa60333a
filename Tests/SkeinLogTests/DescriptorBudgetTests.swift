import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

/// More partitions than descriptors: idle segment files are closed and reopened, and nothing a reader holds
/// is closed under it.
@Suite struct DescriptorBudgetTests {
    /// Descriptors of this process that point into `directory`, read from /proc/self/fd, so that files
    /// other tests running alongside hold do not count.
    func openDescriptors(under directory: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter { entry in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry)
            else { return false }
            return target.hasPrefix(directory + "/")
        }.count
    }

    @Test func morePartitionsThanTheBudgetAreAllAppendedToAndReadBack() throws {
        let directory = TemporaryDirectory()
        let budget = 24
        let descriptors = DescriptorCache(budget: budget)
        let partitions = 120
        // Small segments, so that partitions also roll and hold closed segments.
        let config = smallConfig(segmentBytes: 400)
        var expected: [[[UInt8]]] = Array(repeating: [], count: partitions)
        var peak = 0
        do {
            let manager = try LogManager.open(directory: directory.path, descriptors: descriptors)
            let logs = try (0..<partitions).map {
                try manager.createLog(TopicPartition("wide", Int32($0)), config: config)
            }
            for round in 0..<12 {
                for (index, log) in logs.enumerated() {
                    let batch = smallBatch("p\(index)-r\(round)", records: 1 + round % 3)
                    try log.append(batch: batch)
                    expected[index].append(batch)
                }
                peak = max(peak, openDescriptors(under: directory.path))
            }
            #expect(logs.allSatisfy { $0.segmentCount > 1 })
            for (index, log) in logs.enumerated() {
                #expect(try log.readAllBatches().map(withBaseOffsetZero) == expected[index])
                try log.flushNow()
            }
            peak = max(peak, openDescriptors(under: directory.path))
            #expect(descriptors.openCount <= budget)
            #expect(descriptors.evictionCount > 0)
            // No crash marker: the next open rescans, which must fit in the budget too.
        }
        let reopened = DescriptorCache(budget: budget)
        let manager = try LogManager.open(directory: directory.path, descriptors: reopened)
        #expect(!manager.recoveryReport.cleanShutdown)
        #expect(manager.recoveryReport.partitions == partitions)
        #expect(manager.recoveryReport.repairs.isEmpty)
        peak = max(peak, openDescriptors(under: directory.path))
        for index in 0..<partitions {
            let log = try #require(manager.log(for: TopicPartition("wide", Int32(index))))
            #expect(try log.readAllBatches().map(withBaseOffsetZero) == expected[index])
            try log.append(batch: smallBatch("after-reopen"))
        }
        peak = max(peak, openDescriptors(under: directory.path))
        // The lock file, plus a scan or index file opened in passing.
        #expect(peak <= budget + 4, "peak \(peak) descriptors into the data directory, budget \(budget)")
        #expect(reopened.openCount <= budget)
        try manager.shutdown()
    }

    @Test func aSliceStaysReadableWhileItsFileIsPushedOutOfTheCache() throws {
        let directory = TemporaryDirectory()
        let descriptors = DescriptorCache(budget: 4)
        let manager = try LogManager.open(directory: directory.path, descriptors: descriptors)
        let held = try manager.createLog(TopicPartition("held", 0), config: smallConfig())
        let batch = BatchFactory.patterned(seed: 7, payloadBytes: 3000)
        try held.append(batch: batch)
        let others = try (0..<20).map {
            try manager.createLog(TopicPartition("busy", Int32($0)), config: smallConfig())
        }

        // In a function of its own, so the slice is released when it returns.
        func readWhileOthersChurn() throws {
            let slice = try #require(try held.read(from: 0, maxBytes: 1 << 20).slice)
            var before = stat()
            #expect(fstat(slice.file.descriptor, &before) == 0)
            // Other partitions take turns: every other file is closed to make room, the leased one is not.
            for round in 0..<3 {
                for log in others { try log.append(batch: smallBatch("round-\(round)")) }
            }
            #expect(descriptors.evictionCount > 0)
            #expect(descriptors.openCount > 0 && descriptors.openCount <= 4 + 1)
            var after = stat()
            #expect(fstat(slice.file.descriptor, &after) == 0)
            #expect(after.st_ino == before.st_ino && after.st_dev == before.st_dev)
            #expect(withBaseOffsetZero(try slice.readBytes()) == batch)
            // What the network layer does for sendfile: a duplicate of its own, still the same file.
            let duplicate = dup(slice.file.descriptor)
            #expect(duplicate >= 0)
            var duplicated = stat()
            #expect(fstat(duplicate, &duplicated) == 0 && duplicated.st_ino == before.st_ino)
            close(duplicate)
            #expect(openDescriptors(under: directory.path + "/held-0") >= 1)
        }
        try readWhileOthersChurn()

        // Once the lease ends, the file may be closed like any other, and the partition still works.
        for log in others { try log.append(batch: smallBatch("last")) }
        #expect(openDescriptors(under: directory.path + "/held-0") == 0)
        try held.append(batch: batch)
        #expect(try held.readAllBatches().count == 2)
        try manager.shutdown()
    }

    @Test func retentionDeletesASegmentWhoseLeaseOutlivesTheCachedDescriptor() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let descriptors = DescriptorCache(budget: 2)
        let manager = try LogManager.open(directory: directory.path, clock: clock, descriptors: descriptors)
        var config = smallConfig(segmentBytes: 1_000)
        config.retentionBytes = 1
        let log = try manager.createLog(TopicPartition("expiring", 0), config: config)
        let first = BatchFactory.patterned(seed: 3, payloadBytes: 900)
        try log.append(batch: first)
        func readAcrossRetention() throws -> String {
            let slice = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice)
            for index in 0..<3 {
                try log.append(batch: BatchFactory.patterned(seed: UInt64(10 + index), payloadBytes: 900))
            }
            let outcome = try log.applyRetention()
            #expect(outcome.deletedSegments >= 1)
            #expect(log.logStartOffset > 0)
            // Renamed, not removed: the lease still reads the deleted segment's bytes.
            #expect(slice.file.path.hasSuffix(".deleted"))
            #expect(withBaseOffsetZero(try slice.readBytes()) == first)
            #expect(FileManager.default.fileExists(atPath: slice.file.path))
            return slice.file.path
        }
        let deletedPath = try readAcrossRetention()
        try manager.shutdown()
        #expect(
            eventually { !FileManager.default.fileExists(atPath: deletedPath) },
            "a deleted segment file must go once no lease holds it")
    }

    @Test func theDefaultBudgetLeavesHalfTheLimitToEverythingElse() {
        #expect(DescriptorCache.defaultBudget(openFileLimit: 1024) == 512)
        #expect(DescriptorCache.defaultBudget(openFileLimit: 20) == 16)
        #expect(DescriptorCache.defaultBudget(openFileLimit: nil) == 4096)
        #expect(DescriptorCache.defaultBudget(openFileLimit: 1 << 30) == 1 << 20)
    }
}
