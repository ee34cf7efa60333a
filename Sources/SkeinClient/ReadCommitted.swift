import NIOCore
import SkeinCompression
import SkeinProtocol

/// Which records a consumer sees (`isolation.level`).
public enum IsolationLevel: Int8, Sendable, CaseIterable, CustomStringConvertible {
    /// Every record, including those of transactions still open or aborted.
    case readUncommitted = 0
    /// Only records of committed transactions and non-transactional records: reads stop at the
    /// last stable offset (the first offset of the oldest open transaction) and records of aborted
    /// transactions are dropped. Kafka's clients default to this.
    case readCommitted = 1

    /// Kafka's spelling: `read_committed` or `read_uncommitted`.
    public init?(kafkaName: String) {
        switch kafkaName {
        case "read_committed": self = .readCommitted
        case "read_uncommitted": self = .readUncommitted
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .readUncommitted: "read_uncommitted"
        case .readCommitted: "read_committed"
        }
    }
}

/// Decides, batch by batch, which fetched records a read_committed consumer delivers; Kafka's
/// consumer algorithm, so the same data reads the same in Java, librdkafka and here.
///
/// A Fetch answer lists the transactions aborted within the range it serves, as (producer id,
/// first offset) pairs. A producer's batches count as aborted from that first offset until the
/// producer's ABORT marker, after which its later batches (a new transaction) count again.
/// Control batches (the markers themselves) are never delivered, in either isolation level.
struct AbortedTransactionFilter {
    /// Aborted transactions not reached yet, latest first offset first, so the next is `last`.
    private var upcoming: [FetchResponse.AbortedTransaction]
    /// Producers inside an aborted transaction at the current batch.
    private var abortedProducers: Set<Int64> = []

    init(abortedTransactions: [FetchResponse.AbortedTransaction]?) {
        upcoming = (abortedTransactions ?? []).sorted { $0.firstOffset > $1.firstOffset }
    }

    /// Whether `batch`'s records are to be delivered. Feed every batch of the partition's answer in
    /// order, including those before the fetch position, so markers are never missed.
    mutating func shouldDeliver(_ batch: RecordBatch) -> Bool {
        let header = batch.header
        guard header.producerId >= 0 else { return !header.isControl }
        while let next = upcoming.last, next.firstOffset <= header.lastOffset {
            abortedProducers.insert(next.producerId)
            upcoming.removeLast()
        }
        if header.isControl {
            if Self.marker(of: batch) == .abort { abortedProducers.remove(header.producerId) }
            return false
        }
        return !(header.isTransactional && abortedProducers.contains(header.producerId))
    }

    enum Marker: Int16 {
        case abort = 0
        case commit = 1
    }

    /// The type in a control record's key (int16 version, int16 type); nil if unreadable.
    static func marker(of batch: RecordBatch) -> Marker? {
        guard batch.header.compression == CompressionCodec.none, let record = try? batch.records().first,
            let key = record.key, key.readableBytes >= 4,
            let type = key.getInteger(at: key.readerIndex + 2, as: Int16.self)
        else { return nil }
        return Marker(rawValue: type)
    }
}
