import Foundation
import Logging
import Synchronization
import Testing

@testable import SkeinBroker
@testable import SkeinLog

/// Holds the first fsync round of a log open until released, so a test can act while a commit is appended
/// but not yet durable.
final class HeldFsync: Sendable {
    private let entered = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private let first = Atomic<Bool>(true)

    init(_ log: PartitionLog) {
        log.beforeSync = { [self] in
            guard first.exchange(false, ordering: .sequentiallyConsistent) else { return }
            entered.signal()
            release.wait()
        }
    }

    /// Whether the held round has started (bounded wait).
    func waitUntilHeld() -> Bool { entered.wait(timeout: .now() + 10) == .success }
    func releaseRound() { release.signal() }
}

/// Commits whose fsync is still running when a snapshot or a deletion happens: what a restart (or a reader)
/// sees must match what was acknowledged.
@Suite struct OffsetStoreRaceTests {
    let directory = NSTemporaryDirectory() + "skein-offsets-race-" + UUID().uuidString
    let partition = TopicPartition("t", 0)

    func committed(_ offset: Int64) -> OffsetStore.Committed {
        .init(offset: offset, leaderEpoch: 0, metadata: nil, commitTimestampMs: 1)
    }

    /// What a restart after SIGKILL would find: a copy of the directory as it is now.
    func reopenCopy() throws -> OffsetStore {
        let copy = directory + "-crash-" + UUID().uuidString
        try FileManager.default.copyItem(atPath: directory, toPath: copy)
        return try OffsetStore(directory: copy, clock: SystemClock(), logger: Logger(label: "test"))
    }

    @Test func aSnapshotTakenWhileACommitIsBeingFsyncedKeepsIt() throws {
        let store = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
        let held = HeldFsync(store.log)
        let done = Reply<Bool>()
        store.commit(groupId: "g", offsets: [partition: committed(7)]) { done.set((try? $0.get()) != nil) }
        #expect(held.waitUntilHeld())
        // The snapshot covers the commit's place in the log, so the replay after a restart starts past it.
        store.snapshotAndTrim()
        held.releaseRound()
        #expect(eventually { done.response == true })
        #expect(try reopenCopy().committed(groupId: "g")[partition]?.offset == 7)
    }

    @Test func aDeletionWrittenAfterAPendingCommitWins() throws {
        let store = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
        let seeded = Reply<Bool>()
        store.commit(groupId: "g", offsets: [partition: committed(1)]) { seeded.set((try? $0.get()) != nil) }
        #expect(eventually { seeded.response == true })

        let held = HeldFsync(store.log)
        let commitDone = Reply<Bool>()
        store.commit(groupId: "g", offsets: [partition: committed(2)]) { commitDone.set((try? $0.get()) != nil) }
        #expect(held.waitUntilHeld())
        let deleteDone = Reply<Bool>()
        store.deleteOffsets(groupId: "g", partitions: [partition]) { deleteDone.set((try? $0.get()) != nil) }
        held.releaseRound()
        #expect(eventually { commitDone.response == true && deleteDone.response == true })
        // The tombstone follows the commit in the log, so the partition has no offset, in memory and on disk.
        #expect(store.committed(groupId: "g")[partition] == nil)
        #expect(try reopenCopy().committed(groupId: "g")[partition] == nil)
    }
}
