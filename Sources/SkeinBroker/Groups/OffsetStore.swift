import Foundation
import Logging
import NIOCore
import SkeinLog
import SkeinProtocol

/// Committed offsets, durable and bounded: every commit is appended to an internal log
/// (`.groups/__consumer_offsets-0`) and fsynced before it is acknowledged; every few megabytes the whole
/// table is written to `offsets-snapshot.json` and the log segments it covers are deleted. A restart loads
/// the snapshot and replays the log after it. Kafka compacts its `__consumer_offsets` topic instead; a
/// snapshot plus a short log gives the same bound without a compactor.
final class OffsetStore: @unchecked Sendable {
    struct Committed: Codable, Equatable {
        var offset: Int64
        var leaderEpoch: Int32
        var metadata: String?
        var commitTimestampMs: Int64
    }

    private struct SnapshotEntry: Codable {
        var group: String
        var topic: String
        var partition: Int32
        var committed: Committed
    }

    private struct Snapshot: Codable {
        /// Log offset the snapshot covers up to (exclusive).
        var nextOffset: Int64
        var entries: [SnapshotEntry]
    }

    static let snapshotEveryBytes: Int64 = 8 << 20
    private let directory: String
    private let logs: LogManager
    /// Internal for tests, which hold its fsync rounds open.
    let log: PartitionLog
    private let clock: any LogClock
    private let logger: Logger
    private let lock = NSLock()
    private var table: [String: [TopicPartition: Committed]] = [:]
    private var bytesSinceSnapshot: Int64 = 0
    /// Commits appended but not yet durable, by the log offset just past them. Their table update is still
    /// to come, yet a snapshot taken meanwhile covers their place in the log, so it must include them.
    private var pendingCommits: [Int64: (groupId: String, offsets: [TopicPartition: Committed])] = [:]
    /// Log offsets of tombstones written while commits were in flight: such a commit, though appended
    /// before the tombstone, reaches the table after it and must not bring the offset back.
    private var tombstonesSinceInFlightCommits: [String: [TopicPartition: Int64]] = [:]

    init(directory: String, clock: any LogClock, logger: Logger) throws {
        self.directory = directory
        self.clock = clock
        self.logger = logger
        var config = LogConfig()
        config.segmentBytes = 1 << 20
        config.retentionMs = -1
        logs = try LogManager.open(directory: directory, clock: clock, ownedEntries: ["offsets-snapshot.json"]) { _ in
            config
        }
        log = try logs.getOrCreateLog(TopicPartition("__consumer_offsets", 0), config: config)
        try load()
    }

    var groupIds: [String] { lock.withLock { Array(table.keys) } }

    // MARK: Commit and fetch

    /// Stores `offsets` for `groupId` and calls `done` once they are on disk.
    func commit(
        groupId: String, offsets: [TopicPartition: Committed],
        done: @escaping @Sendable (Result<Void, LogError>) -> Void
    ) {
        let appended: Result<Int64, LogError> = lock.withLock {
            do {
                var batch = try encodeBatch(offsets.map { (groupId, $0.key, Optional($0.value)) })
                let result = try batch.withUnsafeMutableReadableBytes { try log.append($0) }
                bytesSinceSnapshot += Int64(batch.readableBytes)
                pendingCommits[result.lastOffset + 1] = (groupId, offsets)
                return .success(result.lastOffset + 1)
            } catch let error as LogError {
                return .failure(error)
            } catch {
                return .failure(.io(operation: "encode offset commit", path: directory, errno: 22))
            }
        }
        switch appended {
        case .failure(let error): done(.failure(error))
        case .success(let end):
            // Readers see the offsets only once they are durable: a failed fsync must not leave an
            // OffsetFetch answer that a restart would take back.
            log.flush(upTo: end) { [self] result in
                lock.withLock {
                    if case .success = result { apply(commit: (groupId, offsets), end: end, to: &table) }
                    pendingCommits[end] = nil
                    if pendingCommits.isEmpty { tombstonesSinceInFlightCommits.removeAll() }
                }
                done(result)
            }
            if lock.withLock({ bytesSinceSnapshot >= Self.snapshotEveryBytes }) { snapshotAndTrim() }
        }
    }

    func committed(groupId: String) -> [TopicPartition: Committed] {
        lock.withLock { table[groupId] ?? [:] }
    }

    /// Removes a group's offsets (retention, or a deleted group); tombstones keep the removal across restarts.
    func deleteGroup(_ groupId: String) {
        lock.withLock {
            guard let removed = table.removeValue(forKey: groupId), !removed.isEmpty else { return }
            do {
                var batch = try encodeBatch(removed.keys.map { (groupId, $0, nil) })
                _ = try batch.withUnsafeMutableReadableBytes { try log.append($0) }
            } catch {
                storageWarning("writing tombstones for group \(groupId) failed: \(error)")
            }
        }
    }

    /// Removes whole groups' offsets (DeleteGroups) and calls `done` once the tombstones are on disk, so an
    /// acknowledged deletion survives a crash.
    func deleteGroups(_ groupIds: [String], done: @escaping @Sendable (Result<Void, LogError>) -> Void) {
        let entries: [(String, TopicPartition)] = lock.withLock {
            groupIds.flatMap { groupId in (table[groupId] ?? [:]).keys.sorted().map { (groupId, $0) } }
        }
        writeTombstones(entries, done: done)
    }

    /// Removes some of a group's offsets (OffsetDelete), durably like `deleteGroups`. Partitions without a
    /// committed offset need no tombstone.
    func deleteOffsets(
        groupId: String, partitions: [TopicPartition], done: @escaping @Sendable (Result<Void, LogError>) -> Void
    ) {
        let entries: [(String, TopicPartition)] = lock.withLock {
            let committed = table[groupId] ?? [:]
            return Set(partitions).filter { committed[$0] != nil }.sorted().map { (groupId, $0) }
        }
        writeTombstones(entries, done: done)
    }

    private func writeTombstones(
        _ entries: [(String, TopicPartition)], done: @escaping @Sendable (Result<Void, LogError>) -> Void
    ) {
        guard !entries.isEmpty else { return done(.success(())) }
        let appended: Result<Int64, LogError> = lock.withLock {
            do {
                var batch = try encodeBatch(entries.map { ($0.0, $0.1, nil) })
                let result = try batch.withUnsafeMutableReadableBytes { try log.append($0) }
                bytesSinceSnapshot += Int64(batch.readableBytes)
                // Hidden at once: a reader must not see offsets whose deletion was already decided.
                for (groupId, topicPartition) in entries {
                    table[groupId]?[topicPartition] = nil
                    if table[groupId]?.isEmpty == true { table[groupId] = nil }
                    if !pendingCommits.isEmpty {
                        tombstonesSinceInFlightCommits[groupId, default: [:]][topicPartition] = result.lastOffset
                    }
                }
                return .success(result.lastOffset + 1)
            } catch let error as LogError {
                return .failure(error)
            } catch {
                return .failure(.io(operation: "encode offset tombstones", path: directory, errno: 22))
            }
        }
        switch appended {
        case .failure(let error): done(.failure(error))
        case .success(let end): log.flush(upTo: end, done: done)
        }
    }

    /// Removes offsets of a deleted topic from every group.
    func deleteTopic(_ topic: String) {
        let affected: [String] = lock.withLock {
            table.filter { $0.value.keys.contains { $0.topic == topic } }.map(\.key)
        }
        for groupId in affected {
            lock.withLock {
                guard let partitions = table[groupId]?.keys.filter({ $0.topic == topic }), !partitions.isEmpty else {
                    return
                }
                for topicPartition in partitions { table[groupId]?[topicPartition] = nil }
                if var batch = try? encodeBatch(partitions.map { (groupId, $0, nil) }) {
                    _ = try? batch.withUnsafeMutableReadableBytes { try log.append($0) }
                }
            }
        }
    }

    /// Lock held. Stores a commit that ends at log offset `end`, except for offsets a later tombstone removed.
    private func apply(
        commit: (groupId: String, offsets: [TopicPartition: Committed]), end: Int64,
        to table: inout [String: [TopicPartition: Committed]]
    ) {
        let tombstones = tombstonesSinceInFlightCommits[commit.groupId] ?? [:]
        for (topicPartition, committed) in commit.offsets where (tombstones[topicPartition] ?? -1) < end {
            table[commit.groupId, default: [:]][topicPartition] = committed
        }
    }

    // MARK: Record format

    /// Key: group, topic, partition. Value: offset, leader epoch, commit time, metadata; a null value deletes.
    private func encodeBatch(_ entries: [(String, TopicPartition, Committed?)]) throws -> ByteBuffer {
        let records = entries.enumerated().map { index, entry in
            var key = ByteBuffer()
            key.writeLengthPrefixedString(entry.0)
            key.writeLengthPrefixedString(entry.1.topic)
            key.writeInteger(entry.1.partition)
            var value: ByteBuffer?
            if let committed = entry.2 {
                var buffer = ByteBuffer()
                buffer.writeInteger(committed.offset)
                buffer.writeInteger(committed.leaderEpoch)
                buffer.writeInteger(committed.commitTimestampMs)
                if let metadata = committed.metadata {
                    buffer.writeInteger(Int32(metadata.utf8.count))
                    buffer.writeString(metadata)
                } else {
                    buffer.writeInteger(Int32(-1))
                }
                value = buffer
            }
            return Record(offsetDelta: Int32(index), key: key, value: value)
        }
        return try RecordBatch.encode(records: records, baseTimestamp: clock.milliseconds())
    }

    private func apply(_ record: Record) {
        guard var key = record.key, let group = key.readLengthPrefixedString(),
            let topic = key.readLengthPrefixedString(),
            let partition = key.readInteger(as: Int32.self)
        else { return }
        let topicPartition = TopicPartition(topic, partition)
        guard var value = record.value else {
            table[group]?[topicPartition] = nil
            if table[group]?.isEmpty == true { table[group] = nil }
            return
        }
        guard let offset = value.readInteger(as: Int64.self), let epoch = value.readInteger(as: Int32.self),
            let timestamp = value.readInteger(as: Int64.self), let length = value.readInteger(as: Int32.self)
        else { return }
        let metadata = length >= 0 ? value.readString(length: Int(length)) : nil
        table[group, default: [:]][topicPartition] = Committed(
            offset: offset, leaderEpoch: epoch, metadata: metadata, commitTimestampMs: timestamp)
    }

    // MARK: Snapshot and recovery

    private var snapshotPath: String { directory + "/offsets-snapshot.json" }

    private func load() throws {
        var from = log.logStartOffset
        if let bytes = try DurableFile.read(snapshotPath),
            let snapshot = try? JSONDecoder().decode(Snapshot.self, from: Data(bytes))
        {
            for entry in snapshot.entries {
                table[entry.group, default: [:]][TopicPartition(entry.topic, entry.partition)] = entry.committed
            }
            from = max(from, min(snapshot.nextOffset, log.logEndOffset))
        }
        try log.forEachRecord(from: from) { apply($0) }
    }

    /// Writes the table and drops the log segments it makes redundant.
    func snapshotAndTrim() {
        lock.withLock {
            let nextOffset = log.logEndOffset
            // Commits still waiting for their fsync lie below nextOffset: the snapshot, not the replay, must
            // carry them (flushNow below makes them durable before the snapshot is written).
            var covered = table
            for (end, commit) in pendingCommits.sorted(by: { $0.key < $1.key }) {
                apply(commit: commit, end: end, to: &covered)
            }
            let entries = covered.flatMap { group, offsets in
                offsets.map {
                    SnapshotEntry(group: group, topic: $0.key.topic, partition: $0.key.partition, committed: $0.value)
                }
            }
            do {
                try log.flushNow()
                try DurableFile.write(
                    snapshotPath, Array(try JSONEncoder().encode(Snapshot(nextOffset: nextOffset, entries: entries))))
                try log.advanceLogStartOffset(to: nextOffset)
                bytesSinceSnapshot = 0
            } catch {
                storageWarning("offset snapshot failed: \(error)")
            }
        }
    }

    var logSizeInBytes: Int64 { log.sizeInBytes }

    func shutdown() throws {
        snapshotAndTrim()
        try logs.shutdown()
    }

    private func storageWarning(_ message: String) {
        logger.error("\(message)")
    }
}

extension ByteBuffer {
    fileprivate mutating func writeLengthPrefixedString(_ string: String) {
        writeInteger(UInt16(string.utf8.count))
        writeString(string)
    }

    fileprivate mutating func readLengthPrefixedString() -> String? {
        guard let length = readInteger(as: UInt16.self) else { return nil }
        return readString(length: Int(length))
    }
}
