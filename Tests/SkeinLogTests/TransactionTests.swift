import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

/// The storage half of transactions: last stable offset, read_committed reads that stop there, the aborted
/// list, and all of it surviving clean and unclean restarts.
@Suite struct TransactionTests {
    let topic = TopicPartition("txn", 0)

    func transactional(_ producerId: Int64, _ value: String, records: Int = 2) -> [UInt8] {
        BatchFactory.batch(
            records: (0..<records).map { BatchFactory.Record(value: Array("\(value)-\($0)".utf8)) },
            attributes: 0x10, producerId: producerId, producerEpoch: 0, baseSequence: 0)
    }

    @Test func lastStableOffsetStopsAtTheOldestOpenTransaction() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(topic, config: smallConfig())
        try log.append(batch: smallBatch("plain"))  // 0
        let first = try log.append(batch: transactional(7, "a"))  // 1-2
        try log.append(batch: transactional(8, "b"))  // 3-4
        try log.append(batch: smallBatch("plain2"))  // 5
        #expect(log.lastStableOffset == first.firstOffset)
        #expect(log.openTransactions == [7: 1, 8: 3])

        // read_committed sees only what is below the LSO; read_uncommitted sees everything.
        let committedRead = try log.read(from: 0, maxBytes: 1 << 20, isolation: .readCommitted)
        #expect(committedRead.slice?.nextOffset == 1)
        #expect(committedRead.lastStableOffset == 1)
        #expect(committedRead.abortedTransactions == [])
        #expect(try log.read(from: 1, maxBytes: 1 << 20, isolation: .readCommitted).slice == nil)
        #expect(try log.read(from: 0, maxBytes: 1 << 20).slice?.nextOffset == 6)

        let abort = try log.appendMarker(.abort, producerId: 7, producerEpoch: 0)  // 6
        #expect(log.lastStableOffset == 3)
        try log.appendMarker(.commit, producerId: 8, producerEpoch: 0)  // 7
        #expect(log.lastStableOffset == log.logEndOffset)
        let all = try log.read(from: 0, maxBytes: 1 << 20, isolation: .readCommitted)
        #expect(all.slice?.nextOffset == 8)
        #expect(
            all.abortedTransactions == [
                AbortedTransaction(producerId: 7, firstOffset: 1, lastOffset: abort.firstOffset)
            ])
        // A range past the abort marker lists nothing.
        #expect(try log.read(from: 7, maxBytes: 1 << 20, isolation: .readCommitted).abortedTransactions == [])
        try manager.shutdown()
    }

    @Test func aMarkerReadsBackAsAControlBatchWithItsType() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(topic, config: smallConfig())
        try log.append(batch: transactional(3, "x"))
        try log.appendMarker(.commit, producerId: 3, producerEpoch: 0, coordinatorEpoch: 5)
        let batches = try log.readAllBatches()
        #expect(batches.count == 2)
        let marker = batches[1]
        #expect(marker[22] & 0x30 == 0x30)
        #expect(marker.withUnsafeBytes { PartitionTransactions.marker(inControlBatch: $0) } == .commit)
        try manager.shutdown()
    }

    @Test func clientsCannotAppendControlBatches() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(topic, config: smallConfig())
        let forged = PartitionTransactions.markerBatch(
            producerId: 1, producerEpoch: 0, marker: .abort, coordinatorEpoch: 0, timestamp: 0)
        #expect(throws: LogError.self) { try log.append(batch: forged) }
        #expect(log.logEndOffset == 0)
        try manager.shutdown()
    }

    /// Random producers opening, writing, committing and aborting, checked against a model after every step
    /// and after clean and unclean reopens (with and without the snapshot file).
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func randomTransactionsMatchAModelAcrossRestarts(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        var manager: LogManager? = try LogManager.open(directory: directory.path)
        var log = try manager!.createLog(topic, config: smallConfig(segmentBytes: 2_000))
        var open: [Int64: Int64] = [:]
        var aborted: [AbortedTransaction] = []
        for step in 0..<120 {
            let producer = Int64(random.next() % 4)
            switch random.next() % 10 {
            case 0..<5:
                let result = try log.append(
                    batch: transactional(producer, "s\(step)", records: 1 + Int(random.next() % 3)))
                if open[producer] == nil { open[producer] = result.firstOffset }
            case 5..<7:
                try log.append(batch: smallBatch("p\(step)"))
            case 7..<9:
                try log.appendMarker(.commit, producerId: producer, producerEpoch: 0)
                open[producer] = nil
            default:
                let result = try log.appendMarker(.abort, producerId: producer, producerEpoch: 0)
                if let first = open.removeValue(forKey: producer) {
                    aborted.append(
                        AbortedTransaction(producerId: producer, firstOffset: first, lastOffset: result.firstOffset))
                }
            }
            #expect(log.lastStableOffset == (open.values.min() ?? log.logEndOffset))
            if step % 40 == 39 {
                switch step / 40 {
                case 0: try manager?.shutdown()
                case 1: break  // dropped as a crash leaves it: no flush, no snapshot, no clean marker
                default:
                    try manager?.shutdown()
                    try FileManager.default.removeItem(
                        atPath: directory.path + "/" + topic.directoryName + "/" + PartitionTransactions.fileName)
                }
                manager = nil
                manager = try LogManager.open(directory: directory.path) { _ in smallConfig(segmentBytes: 2_000) }
                log = try #require(manager?.log(for: topic))
                #expect(log.openTransactions == open)
            }
        }
        let lso = log.lastStableOffset
        #expect(lso == (open.values.min() ?? log.logEndOffset))
        var next: Int64 = 0
        var listed: [AbortedTransaction] = []
        for _ in 0..<1_000 {
            guard let slice = try log.read(from: next, maxBytes: 1 << 30, isolation: .readCommitted).slice else {
                break
            }
            listed += log.abortedTransactions(from: next, upTo: slice.nextOffset).filter { !listed.contains($0) }
            next = slice.nextOffset
        }
        #expect(next == lso)
        #expect(listed.sorted { $0.lastOffset < $1.lastOffset } == aborted.filter { $0.firstOffset < lso })
        try manager?.shutdown()
    }
}
