import Foundation

/// A transaction that ended with an ABORT marker. read_committed consumers drop this producer's records from
/// `firstOffset` up to its marker at `lastOffset`.
public struct AbortedTransaction: Codable, Equatable, Sendable {
    public var producerId: Int64
    public var firstOffset: Int64
    public var lastOffset: Int64

    public init(producerId: Int64, firstOffset: Int64, lastOffset: Int64) {
        self.producerId = producerId
        self.firstOffset = firstOffset
        self.lastOffset = lastOffset
    }
}

/// The two control records a transaction coordinator writes (the key's type field).
public enum TransactionMarker: Int16, Sendable, Codable {
    case abort = 0
    case commit = 1
}

/// What read_committed needs to know about one partition: the first offset of each open transaction (the
/// oldest bounds the last stable offset) and every aborted transaction still in the log.
///
/// Kafka keeps the aborted list in a `.txnindex` file per segment. Here it lives in memory, pruned by the log
/// start offset, and is written as one snapshot per partition at each checkpoint; a restart loads the snapshot
/// and replays the batch headers after it. That keeps the fetch path a lookup plus sendfile, like Kafka's,
/// without another file per segment to keep consistent with the log through crashes.
struct PartitionTransactions: Codable, Equatable {
    static let fileName = "transactions.snapshot"

    /// The log offset up to which this state reflects the log.
    var coveredUpTo: Int64
    /// Producer id → offset of its open transaction's first batch.
    var ongoing: [Int64: Int64] = [:]
    /// Ordered by `lastOffset` (markers are appended in offset order).
    var aborted: [AbortedTransaction] = []
    /// The longest aborted transaction in offsets; lets a range query stop scanning early.
    var longestAbortedSpan: Int64 = 0

    init(coveredUpTo: Int64) {
        self.coveredUpTo = coveredUpTo
    }

    /// Updates the state for one batch now in the log; `marker` is the control record's type for control
    /// batches (nil when unreadable, which leaves the transaction open rather than guessing its outcome).
    mutating func apply(_ header: StoredBatchHeader, marker: TransactionMarker?) {
        coveredUpTo = max(coveredUpTo, header.nextOffset)
        guard header.isTransactional, header.producerId >= 0 else { return }
        if header.isControl {
            // A marker for a producer with nothing open here (a coordinator completing a transaction again after
            // a crash) changes nothing.
            guard let marker, let first = ongoing[header.producerId] else { return }
            ongoing[header.producerId] = nil
            if marker == .abort {
                aborted.append(
                    AbortedTransaction(producerId: header.producerId, firstOffset: first, lastOffset: header.baseOffset)
                )
                longestAbortedSpan = max(longestAbortedSpan, header.baseOffset - first)
            }
        } else if ongoing[header.producerId] == nil {
            ongoing[header.producerId] = header.baseOffset
        }
    }

    func lastStableOffset(highWatermark: Int64) -> Int64 {
        min(ongoing.values.min() ?? highWatermark, highWatermark)
    }

    /// The aborted transactions that overlap the offsets `[from, upTo)`: what a read_committed fetch of that
    /// range must list.
    func aborted(from: Int64, upTo: Int64) -> [AbortedTransaction] {
        var low = 0
        var high = aborted.count
        while low < high {
            let middle = (low + high) / 2
            if aborted[middle].lastOffset < from { low = middle + 1 } else { high = middle }
        }
        var found: [AbortedTransaction] = []
        var index = low
        // Past upTo + the longest span, no transaction can start below upTo.
        while index < aborted.count && aborted[index].lastOffset < upTo &+ longestAbortedSpan &+ 1 {
            if aborted[index].firstOffset < upTo { found.append(aborted[index]) }
            index += 1
        }
        return found
    }

    /// Forgets aborted transactions wholly below the log start offset.
    mutating func prune(below logStartOffset: Int64) {
        guard let first = aborted.first, first.lastOffset < logStartOffset else { return }
        aborted.removeAll { $0.lastOffset < logStartOffset }
    }

    /// The control record's type, read from a whole control batch: the key of its one record is a version
    /// (int16) and the type (int16).
    static func marker(inControlBatch batch: UnsafeRawBufferPointer) -> TransactionMarker? {
        guard batch.count > StoredBatchHeader.size else { return nil }
        var reader = VarintReader(bytes: UnsafeRawBufferPointer(rebasing: batch[StoredBatchHeader.size...]))
        guard reader.readZigZag() != nil, reader.readByte() != nil, reader.readZigZag() != nil,
            reader.readZigZag() != nil, let keyLength = reader.readZigZag(), keyLength >= 4,
            reader.position + 4 <= reader.bytes.count
        else { return nil }
        let type: Int16 = reader.bytes.bigEndian(at: reader.position + 2)
        return TransactionMarker(rawValue: type)
    }

    /// A control batch holding one marker record, ready to append (its base offset is assigned on append).
    static func markerBatch(
        producerId: Int64, producerEpoch: Int16, marker: TransactionMarker, coordinatorEpoch: Int32, timestamp: Int64
    ) -> [UInt8] {
        var record: [UInt8] = [0]  // attributes
        record += zigZag(0) + zigZag(0)  // timestamp and offset deltas
        record += zigZag(4) + bigEndianBytes(Int16(0)) + bigEndianBytes(marker.rawValue)
        record += zigZag(6) + bigEndianBytes(Int16(0)) + bigEndianBytes(coordinatorEpoch)
        record += zigZag(0)  // headers
        let records = zigZag(Int64(record.count)) + record
        var batch = [UInt8](repeating: 0, count: StoredBatchHeader.size)
        batch += records
        batch.withUnsafeMutableBytes { bytes in
            bytes.storeBigEndian(Int32(bytes.count - StoredBatchHeader.logOverhead), at: 8)
            bytes.storeBigEndian(Int32(-1), at: 12)  // partition leader epoch
            bytes[16] = UInt8(bitPattern: StoredBatchHeader.currentMagic)
            bytes.storeBigEndian(Int16(0x30), at: 21)  // transactional + control
            bytes.storeBigEndian(Int32(0), at: 23)
            bytes.storeBigEndian(timestamp, at: 27)
            bytes.storeBigEndian(timestamp, at: 35)
            bytes.storeBigEndian(producerId, at: 43)
            bytes.storeBigEndian(producerEpoch, at: 51)
            bytes.storeBigEndian(Int32(-1), at: 53)
            bytes.storeBigEndian(Int32(1), at: 57)
            let crc = crc32c(UnsafeRawBufferPointer(rebasing: bytes[StoredBatchHeader.crcStart...]))
            bytes.storeBigEndian(crc, at: 17)
        }
        return batch
    }

    private static func zigZag(_ value: Int64) -> [UInt8] {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var bytes: [UInt8] = []
        while raw >= 0x80 {
            bytes.append(UInt8(raw & 0x7F) | 0x80)
            raw >>= 7
        }
        bytes.append(UInt8(raw))
        return bytes
    }

    private static func bigEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    // MARK: Snapshot

    static func load(directory: String) -> PartitionTransactions? {
        guard let bytes = try? FileIO.readWholeFile(directory + "/" + fileName) else { return nil }
        return try? JSONDecoder().decode(PartitionTransactions.self, from: Data(bytes))
    }

    /// Replaces the snapshot without an fsync: losing it costs only a longer replay at the next start.
    func write(directory: String) throws {
        let bytes = Array(try JSONEncoder().encode(self))
        try FileIO.replaceFile(directory + "/" + Self.fileName, contents: bytes)
    }
}
