import Foundation
import NIOCore
import SkeinLog
import SkeinProtocol

/// The coordinator's durable state: every change to a transactional id appends the id's whole metadata as
/// one record to an internal log (`.transactions/__transaction_state-0`) and fsyncs it before the request is
/// answered. Every few megabytes the table goes to `transactions-snapshot.json` and the log before it is
/// dropped, as the offset store does; Kafka compacts its `__transaction_state` topic instead.
final class TransactionLog: @unchecked Sendable {
    private struct Snapshot: Codable {
        var nextOffset: Int64
        var transactions: [TransactionMetadata]
    }

    static let snapshotEveryBytes: Int64 = 8 << 20
    private let directory: String
    private let logs: LogManager
    private let log: PartitionLog
    private let clock: any LogClock
    private var bytesSinceSnapshot: Int64 = 0

    init(directory: String, clock: any LogClock) throws {
        self.directory = directory
        self.clock = clock
        var config = LogConfig()
        config.segmentBytes = 1 << 20
        config.retentionMs = -1
        logs = try LogManager.open(directory: directory, clock: clock, ownedEntries: [Self.snapshotName]) { _ in
            config
        }
        log = try logs.getOrCreateLog(TopicPartition("__transaction_state", 0), config: config)
    }

    private static let snapshotName = "transactions-snapshot.json"
    private var snapshotPath: String { directory + "/" + Self.snapshotName }

    /// Everything stored: the snapshot, then the records after it (the last record of an id wins).
    func load() throws -> [String: TransactionMetadata] {
        var table: [String: TransactionMetadata] = [:]
        var from = log.logStartOffset
        if let bytes = try DurableFile.read(snapshotPath),
            let snapshot = try? JSONDecoder().decode(Snapshot.self, from: Data(bytes))
        {
            for metadata in snapshot.transactions { table[metadata.transactionalId] = metadata }
            from = max(from, min(snapshot.nextOffset, log.logEndOffset))
        }
        let decoder = JSONDecoder()
        try log.forEachRecord(from: from) { record in
            guard var key = record.key, let id = key.readString(length: key.readableBytes) else { return }
            guard let value = record.value else {
                table[id] = nil
                return
            }
            if let metadata = try? decoder.decode(TransactionMetadata.self, from: Data(value.readableBytesView)) {
                table[id] = metadata
            }
        }
        return table
    }

    /// Appends the new metadata of some ids and returns once it is on disk. Called on the coordinator's queue
    /// only, so appends never interleave.
    func write(_ changed: [TransactionMetadata], table: () -> [TransactionMetadata]) throws {
        let encoder = JSONEncoder()
        let records = try changed.enumerated().map { index, metadata in
            Record(
                offsetDelta: Int32(index), key: ByteBuffer(string: metadata.transactionalId),
                value: ByteBuffer(bytes: try encoder.encode(metadata)))
        }
        var batch = try RecordBatch.encode(records: records, baseTimestamp: clock.milliseconds())
        _ = try batch.withUnsafeMutableReadableBytes { try log.append($0) }
        try log.flushNow()
        bytesSinceSnapshot += Int64(batch.readableBytes)
        if bytesSinceSnapshot >= Self.snapshotEveryBytes { try snapshot(table()) }
    }

    /// Writes the whole table and drops the log it makes redundant.
    func snapshot(_ transactions: [TransactionMetadata]) throws {
        let nextOffset = log.logEndOffset
        try DurableFile.write(
            snapshotPath,
            Array(try JSONEncoder().encode(Snapshot(nextOffset: nextOffset, transactions: transactions))))
        try log.advanceLogStartOffset(to: nextOffset)
        bytesSinceSnapshot = 0
    }

    func shutdown() throws {
        try logs.shutdown()
    }
}
