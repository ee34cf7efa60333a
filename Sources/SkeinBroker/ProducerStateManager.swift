import Foundation
import SkeinLog
import SkeinProtocol

/// Idempotent-producer bookkeeping for one partition: per producer id, the epoch and the last five
/// batches appended (Kafka keeps five because a producer has at most five requests in flight).
///
/// Every check-then-append runs under this object's lock, so a retried batch racing its original can
/// never be written twice.
final class PartitionProducerState: @unchecked Sendable {
    struct BatchMetadata: Codable, Equatable {
        var firstSequence: Int32
        var lastSequence: Int32
        var firstOffset: Int64
        var lastOffset: Int64
    }

    struct Entry: Codable, Equatable {
        var epoch: Int16
        var batches: [BatchMetadata]
    }

    static let retainedBatches = 5
    let lock = NSLock()
    private(set) var producers: [Int64: Entry] = [:]
    /// The log offset up to which `producers` reflects the log; recovery scans from here.
    private(set) var coveredUpTo: Int64 = 0

    enum Verdict: Equatable {
        case append
        /// A retry of a batch already in the log: answer with its original offsets, write nothing.
        case duplicate(firstOffset: Int64, lastOffset: Int64)
        case reject(ErrorCode)
    }

    /// Lock held. Decides what to do with a batch from an idempotent producer.
    func check(producerId: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32) -> Verdict {
        guard producerId >= 0 else { return .append }
        guard let entry = producers[producerId] else {
            // A producer we have no state for must start at sequence 0; otherwise its state expired with
            // the log it described, and UNKNOWN_PRODUCER_ID tells the client to reset its sequences.
            return firstSequence == 0 ? .append : .reject(.unknownProducerId)
        }
        if epoch < entry.epoch { return .reject(.invalidProducerEpoch) }
        if epoch > entry.epoch {
            return firstSequence == 0 ? .append : .reject(.outOfOrderSequenceNumber)
        }
        if let original = entry.batches.first(where: {
            $0.firstSequence == firstSequence && $0.lastSequence == lastSequence
        }) {
            return .duplicate(firstOffset: original.firstOffset, lastOffset: original.lastOffset)
        }
        guard let last = entry.batches.last else { return .append }
        let expected = last.lastSequence == Int32.max ? 0 : last.lastSequence + 1
        return firstSequence == expected ? .append : .reject(.outOfOrderSequenceNumber)
    }

    /// Lock held. Records a batch that is now in the log.
    func record(
        producerId: Int64, epoch: Int16, firstSequence: Int32, lastSequence: Int32, firstOffset: Int64,
        lastOffset: Int64
    ) {
        guard producerId >= 0 else { return }
        var entry = producers[producerId] ?? Entry(epoch: epoch, batches: [])
        if epoch != entry.epoch { entry = Entry(epoch: epoch, batches: []) }
        entry.batches.append(
            BatchMetadata(
                firstSequence: firstSequence, lastSequence: lastSequence, firstOffset: firstOffset,
                lastOffset: lastOffset))
        if entry.batches.count > Self.retainedBatches {
            entry.batches.removeFirst(entry.batches.count - Self.retainedBatches)
        }
        producers[producerId] = entry
        coveredUpTo = max(coveredUpTo, lastOffset + 1)
    }

    /// Lock held. A transaction marker written with a newer epoch (the coordinator fencing a producer) makes
    /// older epochs stale here too, and the producer's next batch starts at sequence 0.
    func markerWritten(producerId: Int64, epoch: Int16) {
        guard let entry = producers[producerId], entry.epoch >= epoch else {
            producers[producerId] = Entry(epoch: epoch, batches: [])
            return
        }
    }

    /// Lock held. Replays a batch header found in the log (recovery).
    func replay(_ header: StoredBatchHeader) {
        coveredUpTo = max(coveredUpTo, header.nextOffset)
        if header.isControl {
            if header.producerId >= 0 { markerWritten(producerId: header.producerId, epoch: header.producerEpoch) }
            return
        }
        guard header.producerId >= 0, header.baseSequence >= 0 else { return }
        record(
            producerId: header.producerId, epoch: header.producerEpoch, firstSequence: header.baseSequence,
            lastSequence: header.baseSequence &+ header.lastOffsetDelta, firstOffset: header.baseOffset,
            lastOffset: header.lastOffset)
    }

    struct Snapshot: Codable {
        var coveredUpTo: Int64
        var producers: [Int64: Entry]
    }

    func snapshot() -> Snapshot {
        lock.withLock { Snapshot(coveredUpTo: coveredUpTo, producers: producers) }
    }

    func restore(_ snapshot: Snapshot) {
        lock.withLock {
            producers = snapshot.producers
            coveredUpTo = snapshot.coveredUpTo
        }
    }
}

/// All partitions' producer state plus the producer id allocator, persisted in the data directory:
/// `producer-state.json` (snapshots, written with every checkpoint and at shutdown) and `producer-ids`
/// (the next unallocated id block). After a crash each partition replays the batch headers written after
/// its snapshot, so duplicates are still caught across a restart.
final class ProducerStateManager: @unchecked Sendable {
    private let directory: String
    private let lock = NSLock()
    private var partitions: [TopicPartition: PartitionProducerState] = [:]
    private var nextProducerId: Int64 = 0
    private var allocatedUpTo: Int64 = 0
    static let idBlockSize: Int64 = 1000

    init(directory: String) throws {
        self.directory = directory
        if let bytes = try DurableFile.read(directory + "/producer-ids"),
            let stored = Int64(String(decoding: bytes, as: UTF8.self).trimmingSpaces)
        {
            // Ids of the previous process's block may have been handed out; never reuse them.
            nextProducerId = stored
            allocatedUpTo = stored
        }
    }

    func state(for topicPartition: TopicPartition) -> PartitionProducerState {
        lock.withLock {
            if let existing = partitions[topicPartition] { return existing }
            let created = PartitionProducerState()
            partitions[topicPartition] = created
            return created
        }
    }

    func remove(_ topicPartition: TopicPartition) {
        _ = lock.withLock { partitions.removeValue(forKey: topicPartition) }
    }

    /// Hands out a fresh producer id, persisting a new block before any id in it is used.
    func allocateProducerId() throws -> Int64 {
        try lock.withLock {
            if nextProducerId >= allocatedUpTo {
                let newLimit = nextProducerId + Self.idBlockSize
                try DurableFile.write(directory + "/producer-ids", Array(String(newLimit).utf8))
                allocatedUpTo = newLimit
            }
            defer { nextProducerId += 1 }
            return nextProducerId
        }
    }

    /// Loads the snapshots and replays every partition's log after its snapshot offset.
    func recover(logs: [PartitionLog]) throws {
        var snapshots: [String: PartitionProducerState.Snapshot] = [:]
        if let bytes = try DurableFile.read(directory + "/producer-state.json") {
            snapshots =
                (try? JSONDecoder().decode([String: PartitionProducerState.Snapshot].self, from: Data(bytes))) ?? [:]
        }
        for log in logs {
            let state = state(for: log.topicPartition)
            let snapshot = snapshots[log.topicPartition.description]
            if let snapshot, snapshot.coveredUpTo <= log.logEndOffset { state.restore(snapshot) }
            // Without a usable snapshot, the active segment holds the recent batches that matter.
            let start = max(
                state.snapshot().coveredUpTo, snapshot == nil ? log.activeSegmentBaseOffset : 0, log.logStartOffset)
            try state.lock.withLock {
                try log.forEachBatchHeader(from: start) { state.replay($0) }
            }
        }
    }

    func writeSnapshot() throws {
        let all = lock.withLock { partitions }
        var snapshots: [String: PartitionProducerState.Snapshot] = [:]
        for (topicPartition, state) in all { snapshots[topicPartition.description] = state.snapshot() }
        try DurableFile.write(directory + "/producer-state.json", Array(try JSONEncoder().encode(snapshots)))
    }
}
