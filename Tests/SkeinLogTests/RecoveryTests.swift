import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

@Suite struct RecoveryTests {
    let topic = TopicPartition("recovering", 0)

    /// Writes `count` batches and returns their byte sizes. With `cleanly`, shuts down as a broker would;
    /// otherwise the manager is dropped as a crash leaves it (nothing flushed, no marker).
    func populate(_ directory: TemporaryDirectory, count: Int, segmentBytes: Int = 1 << 30, cleanly: Bool) throws
        -> [Int]
    {
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(topic, config: smallConfig(segmentBytes: segmentBytes))
        var sizes: [Int] = []
        for index in 0..<count {
            let batch = BatchFactory.patterned(
                seed: UInt64(index), recordCount: 1 + index % 3, payloadBytes: 100 + index * 7)
            try log.append(batch: batch)
            sizes.append(batch.count)
        }
        if cleanly { try manager.shutdown() }
        return sizes
    }

    func reopen(_ directory: TemporaryDirectory, segmentBytes: Int = 1 << 30) throws -> (LogManager, PartitionLog) {
        let manager = try LogManager.open(directory: directory.path) { _ in smallConfig(segmentBytes: segmentBytes) }
        return (manager, try #require(manager.log(for: topic)))
    }

    var partitionDirectory: (TemporaryDirectory) -> String { { $0.path + "/" + topic.directoryName } }

    func removeCleanMarker(_ directory: TemporaryDirectory) {
        try? FileManager.default.removeItem(atPath: directory.file(".skein-clean-shutdown"))
    }

    @Test func cleanShutdownReopensWithoutRescanning() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 40, segmentBytes: 2048, cleanly: true)
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        #expect(manager.recoveryReport.cleanShutdown)
        #expect(manager.recoveryReport.segmentsRescanned == 0)
        #expect(manager.recoveryReport.repairs.isEmpty)
        #expect(log.segmentCount > 5)
        #expect(log.recoveryPoint == log.logEndOffset)
        #expect(try log.readAllBatches().count == 40)
        // The marker is consumed at open: a crash from here on is detected.
        #expect(!FileManager.default.fileExists(atPath: directory.file(".skein-clean-shutdown")))
    }

    @Test func crashWithoutCheckpointRescansEverythingAndKeepsAllWholeBatches() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 30, segmentBytes: 2048, cleanly: false)
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        #expect(!manager.recoveryReport.cleanShutdown)
        #expect(manager.recoveryReport.segmentsRescanned == log.segmentCount)
        #expect(manager.recoveryReport.bytesTruncated == 0)
        #expect(try log.readAllBatches().count == 30)
    }

    @Test func truncatingTheLastBatchAtEveryBytePositionRecoversToThePreviousBatch() throws {
        let template = TemporaryDirectory()
        let sizes = try populate(template, count: 5, cleanly: true)
        let lastStart = Int64(sizes.dropLast().reduce(0, +))
        let lastBaseOffset = Int64((0..<4).reduce(0) { $0 + 1 + $1 % 3 })
        let segmentName = "/00000000000000000000.log"
        for cut in lastStart..<(lastStart + Int64(sizes.last!)) {
            for clean in [false, true] {
                let directory = TemporaryDirectory()
                try FileManager.default.removeItem(atPath: directory.path)
                try FileManager.default.copyItem(atPath: template.path, toPath: directory.path)
                if !clean { removeCleanMarker(directory) }
                #expect(truncate(partitionDirectory(directory) + segmentName, off_t(cut)) == 0)
                let (manager, log) = try reopen(directory)
                #expect(log.logEndOffset == lastBaseOffset, "cut at \(cut), clean marker \(clean)")
                #expect(fileSize(partitionDirectory(directory) + segmentName) == lastStart)
                #expect(manager.recoveryReport.bytesTruncated == cut - lastStart)
                #expect(try log.readAllBatches().count == 4)
                // The log takes appends again right where it was cut.
                #expect(try log.append(batch: smallBatch("after")).firstOffset == lastBaseOffset)
            }
        }
    }

    @Test func garbageAfterTheLastBatchIsTruncatedAndReported() throws {
        let directory = TemporaryDirectory()
        let sizes = try populate(directory, count: 10, cleanly: false)
        let path = partitionDirectory(directory) + "/00000000000000000000.log"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        var generator = SystemRandomNumberGenerator()
        handle.write(Data((0..<5000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        handle.closeFile()
        let (manager, log) = try reopen(directory)
        #expect(manager.recoveryReport.bytesTruncated == 5000)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("truncated 5000 bytes") })
        #expect(fileSize(path) == Int64(sizes.reduce(0, +)))
        #expect(try log.readAllBatches().count == 10)
    }

    @Test func garbageAfterACleanShutdownIsStillCaughtByTheTailCheck() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 10, cleanly: true)
        let path = partitionDirectory(directory) + "/00000000000000000000.log"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0xAB, count: 100))
        handle.closeFile()
        let (manager, log) = try reopen(directory)
        #expect(manager.recoveryReport.bytesTruncated == 100)
        #expect(try log.readAllBatches().count == 10)
    }

    @Test func aCorruptByteInTheMiddleCutsTheLogThereAndDropsLaterSegments() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 40, segmentBytes: 2048, cleanly: false)
        let files = segmentLogFiles(partitionDirectory(directory))
        #expect(files.count > 4)
        let victim = partitionDirectory(directory) + "/" + files[2]
        let handle = try #require(FileHandle(forUpdatingAtPath: victim))
        handle.seek(toFileOffset: 100)
        let byte = handle.readData(ofLength: 1)
        handle.seek(toFileOffset: 100)
        handle.write(Data([byte[0] ^ 0x01]))
        handle.closeFile()
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        #expect(log.segmentCount == 3)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("CRC mismatch") })
        #expect(manager.recoveryReport.repairs.contains { $0.contains("followed a truncated segment") })
        let batches = try log.readAllBatches()
        #expect(batches.last.map { baseOffset(of: $0) + Int64(lastOffsetDelta(of: $0)) + 1 } == log.logEndOffset)
    }

    @Test func aDeletedIndexIsRebuiltAndLookupsStillWork() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 60, segmentBytes: 4096, cleanly: true)
        let partition = partitionDirectory(directory)
        let indexes = try FileManager.default.contentsOfDirectory(atPath: partition).filter { $0.hasSuffix(".index") }
            .sorted()
        try FileManager.default.removeItem(atPath: partition + "/" + indexes[1])
        try FileManager.default.removeItem(atPath: partition + "/" + indexes.last!)
        let (manager, log) = try reopen(directory, segmentBytes: 4096)
        #expect(manager.recoveryReport.repairs.filter { $0.contains("index missing") }.count == 2)
        #expect(FileManager.default.fileExists(atPath: partition + "/" + indexes[1]))
        #expect(try log.readAllBatches().count == 60)
        for offset in stride(from: Int64(0), to: log.logEndOffset, by: 7) {
            let batch = try #require(try log.read(from: offset, maxBytes: 1).slice).readBytes()
            #expect(
                baseOffset(of: batch) <= offset && offset <= baseOffset(of: batch) + Int64(lastOffsetDelta(of: batch)))
        }
    }

    @Test func aTruncatedIndexIsRepaired() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 60, segmentBytes: 4096, cleanly: true)
        let partition = partitionDirectory(directory)
        let index = partition + "/00000000000000000000.index"
        let size = fileSize(index)
        #expect(size >= 16)
        #expect(truncate(index, off_t(size - 3)) == 0)
        let (manager, log) = try reopen(directory, segmentBytes: 4096)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("index truncated") })
        #expect(fileSize(index) % 8 == 0)
        #expect(try log.readAllBatches().count == 60)
    }

    @Test func indexEntriesPastTheEndOfTheLogAreNeverTrusted() throws {
        let directory = TemporaryDirectory()
        let sizes = try populate(directory, count: 30, cleanly: true)
        let path = partitionDirectory(directory) + "/00000000000000000000.log"
        let keep = Int64(sizes.prefix(10).reduce(0, +))
        #expect(truncate(path, off_t(keep)) == 0)
        let (manager, log) = try reopen(directory)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("did not match the log") })
        #expect(try log.readAllBatches().count == 10)
        let expectedEnd = Int64((0..<10).reduce(0) { $0 + 1 + $1 % 3 })
        #expect(log.logEndOffset == expectedEnd)
        #expect(try log.append(batch: smallBatch("next")).firstOffset == expectedEnd)
    }

    @Test func garbageFilesAndAZeroLengthSegmentDoNotStopTheOpen() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 20, segmentBytes: 2048, cleanly: true)
        let partition = partitionDirectory(directory)
        FileManager.default.createFile(atPath: directory.file("not-a-partition"), contents: Data("junk".utf8))
        FileManager.default.createFile(atPath: partition + "/notes.txt", contents: Data("junk".utf8))
        FileManager.default.createFile(atPath: partition + "/00000000000000000001.log", contents: Data())
        FileManager.default.createFile(atPath: partition + "/00000000000000099999.index", contents: Data(count: 8))
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        let repairs = manager.recoveryReport.repairs.joined(separator: "\n")
        #expect(repairs.contains("not-a-partition: not a partition directory, ignored"))
        #expect(repairs.contains("notes.txt: not a segment file, ignored"))
        #expect(repairs.contains("removed empty segment 00000000000000000001.log"))
        #expect(repairs.contains("removed index files of missing segment 99999"))
        #expect(try log.readAllBatches().count == 20)
    }

    @Test func aZeroLengthActiveSegmentOpens() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager.open(directory: directory.path)
            let log = try manager.createLog(topic, config: smallConfig())
            try log.append(batch: smallBatch("a", records: 4))
            try log.forceRoll()
        }
        let (_, log) = try reopen(directory)
        #expect(log.segmentBaseOffsets == [0, 4])
        #expect(log.logEndOffset == 4)
        #expect(try log.append(batch: smallBatch("b")).firstOffset == 4)
    }

    @Test func theRecoveryPointLimitsTheRescanToLaterSegments() throws {
        let directory = TemporaryDirectory()
        do {
            let manager = try LogManager.open(directory: directory.path)
            let log = try manager.createLog(topic, config: smallConfig(segmentBytes: 2048))
            for index in 0..<40 {
                try log.append(batch: BatchFactory.patterned(seed: UInt64(index), payloadBytes: 300))
            }
            try log.flushNow()
            try manager.writeCheckpoint()
            for index in 0..<5 { try log.append(batch: BatchFactory.patterned(seed: UInt64(index), payloadBytes: 300)) }
            #expect(log.segmentCount > 6)
        }
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        #expect(!manager.recoveryReport.cleanShutdown)
        #expect(manager.recoveryReport.segmentsRescanned <= 3)
        #expect(log.logEndOffset == 45)
        #expect(try log.readAllBatches().count == 45)
    }

    @Test func aCorruptCheckpointMeansAFullRescan() throws {
        let directory = TemporaryDirectory()
        _ = try populate(directory, count: 20, segmentBytes: 2048, cleanly: true)
        try "garbage".write(toFile: directory.file("recovery-checkpoint"), atomically: true, encoding: .utf8)
        let (manager, log) = try reopen(directory, segmentBytes: 2048)
        #expect(manager.recoveryReport.repairs.contains { $0.contains("malformed") })
        #expect(manager.recoveryReport.segmentsRescanned == log.segmentCount)
        #expect(try log.readAllBatches().count == 20)
    }

    @Test func aSecondManagerCannotOpenTheSameDirectory() throws {
        let directory = TemporaryDirectory()
        let first = try LogManager.open(directory: directory.path)
        #expect(throws: LogError.self) { try LogManager.open(directory: directory.path, lockWaitMs: 0) }
        try first.shutdown()
        _ = try LogManager.open(directory: directory.path)
    }
}
