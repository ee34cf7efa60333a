import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

/// Each malformed batch is refused with a typed error and leaves the log exactly as it was.
@Suite struct ValidationTests {
    static func corrupt(_ batch: [UInt8], _ change: (inout [UInt8]) -> Void) -> [UInt8] {
        var copy = batch
        change(&copy)
        return copy
    }

    static func setBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int, in bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(offset..<offset + MemoryLayout<T>.size, with: $0) }
    }

    static let good = smallBatch("good", records: 3)

    static let cases: [(String, [UInt8], InvalidBatch)] = [
        ("wrong CRC", corrupt(good) { $0[$0.count - 1] ^= 0xFF }, .crcMismatch(stored: 0, computed: 0)),
        ("bad magic", corrupt(good) { $0[16] = 1 }, .invalidMagic(1)),
        ("negative length", corrupt(good) { setBigEndian(Int32(-5), at: 8, in: &$0) }, .invalidLength(-5)),
        (
            "length beyond the bytes", corrupt(good) { setBigEndian(Int32(good.count), at: 8, in: &$0) },
            .truncated(available: good.count, needed: good.count + 12)
        ),
        (
            "zero records", corrupt(good) { setBigEndian(Int32(0), at: 57, in: &$0) },
            .invalidRecordCount(recordsCount: 0, lastOffsetDelta: 2)
        ),
        (
            "count disagrees with lastOffsetDelta", corrupt(good) { setBigEndian(Int32(7), at: 23, in: &$0) },
            .invalidRecordCount(recordsCount: 3, lastOffsetDelta: 7)
        ),
        ("truncated header", Array(good.prefix(8)), .truncated(available: 8, needed: 12)),
        ("empty", [], .empty),
    ]

    @Test(arguments: 0..<cases.count)
    func malformedBatchIsRejectedAndTheLogIsUnchanged(caseIndex: Int) throws {
        let (name, bytes, expected) = Self.cases[caseIndex]
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("strict", 0), config: smallConfig())
        try log.append(batch: smallBatch("before"))
        let sizeBefore = log.sizeInBytes
        var thrown: LogError?
        do { try log.append(batch: bytes) } catch let error as LogError { thrown = error }
        guard case .invalidBatch(let reason) = thrown else {
            Issue.record("\(name): expected invalidBatch, got \(String(describing: thrown))")
            return
        }
        switch (reason, expected) {
        case (.crcMismatch, .crcMismatch): break
        default: #expect(reason == expected, "\(name)")
        }
        #expect(log.logEndOffset == 1)
        #expect(log.sizeInBytes == sizeBefore)
        #expect(try log.readAllBatches().count == 1)
    }

    @Test func oversizedBatchIsRejectedByMaxMessageBytes() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        var config = smallConfig()
        config.maxMessageBytes = 1000
        let log = try manager.createLog(TopicPartition("limited", 0), config: config)
        let big = BatchFactory.patterned(seed: 3, payloadBytes: 2000)
        #expect(throws: LogError.invalidBatch(.tooLarge(size: big.count, limit: 1000))) { try log.append(batch: big) }
        #expect(log.logEndOffset == 0)
    }

    @Test func controlBatchesFromClientsAreRejected() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("control", 0), config: smallConfig())
        let control = BatchFactory.batch(records: [.init(value: [0])], attributes: 0x20)
        #expect(throws: LogError.invalidBatch(.controlBatchFromClient)) { try log.append(batch: control) }
    }

    @Test func aBadBatchAfterGoodOnesInOneRecordSetWritesNothing() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("atomic", 0), config: smallConfig())
        var records = smallBatch("ok") + Self.corrupt(smallBatch("bad")) { $0[16] = 0 }
        #expect(throws: LogError.invalidBatch(.invalidMagic(0))) { try log.append(&records) }
        #expect(log.logEndOffset == 0)
        #expect(log.sizeInBytes == 0)
    }

    @Test func invalidTopicNamesCannotBecomeDirectories() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        for name in ["", ".", "..", "a/b", "has space", String(repeating: "x", count: 250)] {
            #expect(throws: LogError.self) { try manager.createLog(TopicPartition(name, 0), config: LogConfig()) }
        }
        #expect(manager.topicPartitions.isEmpty)
    }
}
