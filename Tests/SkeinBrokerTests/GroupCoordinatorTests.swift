import Foundation
import Logging
import NIOCore
import SkeinLog
import SkeinProtocol
import Synchronization
import Testing

@testable import SkeinBroker

/// A clock the tests move, so every timeout fires exactly when a test says.
final class SteppedClock: LogClock, @unchecked Sendable {
    private let now = Mutex<Int64>(1_000_000)
    func milliseconds() -> Int64 { now.withLock { $0 } }
    func advance(_ milliseconds: Int64) { now.withLock { $0 += milliseconds } }
}

/// Collects the response a waiting request eventually gets.
final class Reply<Response>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Response?
    var response: Response? { lock.withLock { value } }
    func set(_ response: Response) { lock.withLock { value = response } }
}

/// Drives the coordinator directly: every transition of the group state machine, timeouts by clock.
@Suite struct GroupCoordinatorTests {
    let clock = SteppedClock()
    let directory = NSTemporaryDirectory() + "skein-groups-" + UUID().uuidString
    let coordinator: GroupCoordinator

    init() throws {
        var config = GroupConfig()
        config.initialRebalanceDelayMs = 0
        coordinator = GroupCoordinator(
            config: config, clock: clock,
            offsets: try OffsetStore(directory: directory, clock: clock, logger: Logger(label: "test")))
    }

    func joinRequest(
        _ memberId: String = "", instance: String? = nil, protocols: [String] = ["range"], session: Int32 = 10_000,
        rebalance: Int32 = 30_000, type: String = "consumer"
    ) -> JoinGroupRequest {
        JoinGroupRequest(
            groupId: "g", sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance, memberId: memberId,
            groupInstanceId: instance,
            protocolType: type, protocols: protocols.map { .init(name: $0, metadata: ByteBuffer(string: "meta-\($0)")) }
        )
    }

    func join(_ request: JoinGroupRequest, version: Int16 = 7) -> Reply<JoinGroupResponse> {
        let reply = Reply<JoinGroupResponse>()
        coordinator.join(request, context: .init(version: version, clientId: "client", clientHost: "/127.0.0.1")) {
            reply.set($0)
        }
        return reply
    }

    /// The two-step join of a new dynamic member (MEMBER_ID_REQUIRED, then join with the id).
    func joinNew(protocols: [String] = ["range"], session: Int32 = 10_000, rebalance: Int32 = 30_000) throws -> (
        String, Reply<JoinGroupResponse>
    ) {
        let first = try #require(
            join(joinRequest(protocols: protocols, session: session, rebalance: rebalance)).response)
        #expect(first.errorCode == .memberIdRequired)
        #expect(!first.memberId.isEmpty)
        return (
            first.memberId,
            join(joinRequest(first.memberId, protocols: protocols, session: session, rebalance: rebalance))
        )
    }

    func sync(_ memberId: String, generation: Int32, assignments: [String: String] = [:]) -> Reply<SyncGroupResponse> {
        let reply = Reply<SyncGroupResponse>()
        coordinator.sync(
            SyncGroupRequest(
                groupId: "g", generationId: generation, memberId: memberId,
                assignments: assignments.map { .init(memberId: $0.key, assignment: ByteBuffer(string: $0.value)) })
        ) { reply.set($0) }
        return reply
    }

    func heartbeat(_ memberId: String, generation: Int32) -> ErrorCode {
        coordinator.heartbeat(HeartbeatRequest(groupId: "g", generationId: generation, memberId: memberId))
    }

    var state: ConsumerGroup.State { coordinator.describe("g").state }

    @Test func aSingleMemberJoinsSyncsAndBecomesStable() throws {
        let (member, joined) = try joinNew()
        let response = try #require(joined.response)
        #expect(response.errorCode == .noError)
        #expect(response.generationId == 1)
        #expect(response.leader == member)
        #expect(response.protocolName == "range")
        #expect(response.members.map(\.memberId) == [member])
        #expect(state == .completingRebalance)
        let synced = sync(member, generation: 1, assignments: [member: "all partitions"])
        #expect(synced.response.map { String(buffer: $0.assignment) } == "all partitions")
        #expect(state == .stable)
        #expect(heartbeat(member, generation: 1) == .noError)
    }

    @Test func aSecondMemberTriggersARebalanceTheFirstLearnsOfByHeartbeat() throws {
        let (first, _) = try joinNew()
        _ = sync(first, generation: 1, assignments: [first: "p0,p1"])
        let (second, secondJoin) = try joinNew()
        #expect(state == .preparingRebalance)
        #expect(secondJoin.response == nil)
        #expect(heartbeat(first, generation: 1) == .rebalanceInProgress)
        let firstRejoin = join(joinRequest(first))
        let leaderView = try #require(firstRejoin.response)
        let followerView = try #require(secondJoin.response)
        #expect(leaderView.generationId == 2 && followerView.generationId == 2)
        #expect(leaderView.leader == first)
        #expect(Set(leaderView.members.map(\.memberId)) == [first, second])
        #expect(followerView.members.isEmpty)
        // The follower's SyncGroup waits for the leader's assignments.
        let followerSync = sync(second, generation: 2)
        #expect(followerSync.response == nil)
        let leaderSync = sync(first, generation: 2, assignments: [first: "p0", second: "p1"])
        #expect(leaderSync.response.map { String(buffer: $0.assignment) } == "p0")
        #expect(followerSync.response.map { String(buffer: $0.assignment) } == "p1")
        #expect(state == .stable)
    }

    @Test func aMemberThatDoesNotRejoinIsDroppedAtTheRebalanceTimeout() throws {
        let (first, _) = try joinNew(rebalance: 5_000)
        _ = sync(first, generation: 1, assignments: [:])
        let (_, secondJoin) = try joinNew(rebalance: 5_000)
        clock.advance(4_999)
        coordinator.tick()
        #expect(secondJoin.response == nil)
        clock.advance(1)
        coordinator.tick()
        let response = try #require(secondJoin.response)
        #expect(response.generationId == 2)
        #expect(response.members.count == 1)  // the second member leads alone
        #expect(heartbeat(first, generation: 1) == .unknownMemberId)
    }

    @Test func aSilentMemberExpiresAfterItsSessionTimeout() throws {
        let (first, _) = try joinNew(session: 6_000)
        _ = sync(first, generation: 1)
        clock.advance(5_000)
        #expect(heartbeat(first, generation: 1) == .noError)
        clock.advance(6_000)
        coordinator.tick()
        #expect(state == .stable)
        clock.advance(1)
        coordinator.tick()
        #expect(state == .empty)
        #expect(heartbeat(first, generation: 1) == .unknownMemberId)
        #expect(coordinator.describe("g").members.isEmpty)
    }

    @Test func aLeaderThatNeverSyncsIsExpiredAndTheOthersRebalance() throws {
        let (first, _) = try joinNew(rebalance: 5_000)
        _ = sync(first, generation: 1)
        let (second, _) = try joinNew(rebalance: 5_000)
        _ = join(joinRequest(first, rebalance: 5_000))
        let waiting = sync(second, generation: 2)
        clock.advance(5_000)
        coordinator.tick()
        #expect(waiting.response?.errorCode == .rebalanceInProgress)
        #expect(heartbeat(first, generation: 2) == .unknownMemberId)
        let rejoin = join(joinRequest(second, rebalance: 5_000))
        #expect(rejoin.response?.generationId == 3)
        #expect(rejoin.response?.leader == second)
    }

    @Test func strangersAndStaleGenerationsGetKafkasErrors() throws {
        let (member, _) = try joinNew()
        _ = sync(member, generation: 1)
        #expect(heartbeat("stranger", generation: 1) == .unknownMemberId)
        #expect(heartbeat(member, generation: 0) == .illegalGeneration)
        #expect(sync(member, generation: 7).response?.errorCode == .illegalGeneration)
        #expect(sync("stranger", generation: 1).response?.errorCode == .unknownMemberId)
        #expect(join(joinRequest("stranger")).response?.errorCode == .unknownMemberId)
        #expect(join(joinRequest(type: "connect")).response?.errorCode == .inconsistentGroupProtocol)
        #expect(join(joinRequest(protocols: ["roundrobin"])).response?.errorCode == .inconsistentGroupProtocol)
        #expect(join(joinRequest(session: 10)).response?.errorCode == .invalidSessionTimeout)
        let emptyType = JoinGroupRequest(groupId: "other", sessionTimeoutMs: 10_000, protocolType: "", protocols: [])
        let reply = Reply<JoinGroupResponse>()
        coordinator.join(emptyType, context: .init(version: 7, clientId: "c", clientHost: "h")) { reply.set($0) }
        #expect(reply.response?.errorCode == .inconsistentGroupProtocol)
    }

    @Test func theProtocolMostMembersPreferWins() throws {
        let (first, _) = try joinNew(protocols: ["range", "roundrobin"])
        _ = sync(first, generation: 1)
        let (second, secondJoin) = try joinNew(protocols: ["roundrobin", "range"])
        _ = second
        let (third, thirdJoin) = try joinNew(protocols: ["roundrobin"])
        _ = third
        _ = join(joinRequest(first, protocols: ["range", "roundrobin"]))
        #expect(secondJoin.response?.protocolName == "roundrobin")
        #expect(thirdJoin.response?.protocolName == "roundrobin")
    }

    @Test func leavingLastMakesTheGroupEmptyAndKeepsItsOffsets() throws {
        let (member, _) = try joinNew()
        _ = sync(member, generation: 1)
        #expect(coordinator.checkCommit(groupId: "g", generation: 1, memberId: member, instanceId: nil) == .accepted)
        let response = coordinator.leave(LeaveGroupRequest(groupId: "g", members: [.init(memberId: member)]))
        #expect(response.errorCode == .noError)
        #expect(state == .empty)
        #expect(coordinator.describe("g").members.isEmpty)
        // Generation -1 commits from outside the group are allowed once it is empty.
        #expect(coordinator.checkCommit(groupId: "g", generation: -1, memberId: "", instanceId: nil) == .accepted)
        #expect(
            coordinator.leave(LeaveGroupRequest(groupId: "g", members: [.init(memberId: member)])).errorCode
                == .unknownMemberId)
    }

    @Test func commitsAreCheckedAgainstMembershipAndGeneration() throws {
        let (member, _) = try joinNew()
        #expect(
            coordinator.checkCommit(groupId: "g", generation: 1, memberId: member, instanceId: nil)
                == .rejected(.rebalanceInProgress))
        _ = sync(member, generation: 1)
        #expect(coordinator.checkCommit(groupId: "g", generation: 1, memberId: member, instanceId: nil) == .accepted)
        #expect(
            coordinator.checkCommit(groupId: "g", generation: 0, memberId: member, instanceId: nil)
                == .rejected(.illegalGeneration))
        #expect(
            coordinator.checkCommit(groupId: "g", generation: 1, memberId: "x", instanceId: nil)
                == .rejected(.unknownMemberId))
        #expect(
            coordinator.checkCommit(groupId: "g", generation: -1, memberId: "", instanceId: nil)
                == .rejected(.unknownMemberId))
        #expect(coordinator.checkCommit(groupId: "fresh", generation: -1, memberId: "", instanceId: nil) == .accepted)
        #expect(
            coordinator.checkCommit(groupId: "fresh2", generation: 3, memberId: "m", instanceId: nil)
                == .rejected(.illegalGeneration))
    }

    @Test func aStaticMemberRestartingKeepsItsAssignmentWithoutARebalance() throws {
        let joined = join(joinRequest(instance: "host-a"))
        let first = try #require(joined.response)
        #expect(first.errorCode == .noError)  // static members skip MEMBER_ID_REQUIRED
        _ = sync(first.memberId, generation: 1, assignments: [first.memberId: "p0-p3"])
        let again = try #require(join(joinRequest(instance: "host-a")).response)
        #expect(again.generationId == 1)
        #expect(again.memberId != first.memberId)
        #expect(state == .stable)
        #expect(heartbeat(first.memberId, generation: 1) == .unknownMemberId)
        #expect(sync(again.memberId, generation: 1).response.map { String(buffer: $0.assignment) } == "p0-p3")
    }

    @Test func unusedMemberIdsExpireAndTheFirstJoinWaitsOutTheInitialDelay() throws {
        var config = GroupConfig()
        config.initialRebalanceDelayMs = 3_000
        let delayed = GroupCoordinator(
            config: config, clock: clock,
            offsets: try OffsetStore(directory: directory + "-delayed", clock: clock, logger: Logger(label: "test")))
        let required = Reply<JoinGroupResponse>()
        delayed.join(joinRequest(), context: .init(version: 7, clientId: "c", clientHost: "h")) { required.set($0) }
        let memberId = try #require(required.response?.memberId)
        let joined = Reply<JoinGroupResponse>()
        delayed.join(joinRequest(memberId), context: .init(version: 7, clientId: "c", clientHost: "h")) {
            joined.set($0)
        }
        clock.advance(2_999)
        delayed.tick()
        #expect(joined.response == nil)
        clock.advance(1)
        delayed.tick()
        #expect(joined.response?.generationId == 1)
        // A member id handed out but never used is forgotten after the session timeout.
        let unused = Reply<JoinGroupResponse>()
        delayed.join(joinRequest(), context: .init(version: 7, clientId: "c", clientHost: "h")) { unused.set($0) }
        clock.advance(10_001)
        delayed.tick()
        let late = Reply<JoinGroupResponse>()
        delayed.join(
            joinRequest(try #require(unused.response?.memberId)),
            context: .init(version: 7, clientId: "c", clientHost: "h")
        ) { late.set($0) }
        #expect(late.response?.errorCode == .unknownMemberId)
    }

    @Test func offsetsOfAGroupEmptyLongerThanTheRetentionAreDeleted() throws {
        var config = GroupConfig()
        config.offsetsRetentionMs = 60_000
        let store = try OffsetStore(directory: directory + "-retention", clock: clock, logger: Logger(label: "test"))
        let retaining = GroupCoordinator(config: config, clock: clock, offsets: store)
        #expect(retaining.checkCommit(groupId: "idle", generation: -1, memberId: "", instanceId: nil) == .accepted)
        let stored = Reply<Bool>()
        store.commit(
            groupId: "idle",
            offsets: [TopicPartition("t", 0): .init(offset: 5, leaderEpoch: -1, metadata: nil, commitTimestampMs: 0)]
        ) {
            stored.set((try? $0.get()) != nil)
        }
        #expect(eventually { stored.response == true })
        clock.advance(59_999)
        retaining.tick()
        #expect(store.committed(groupId: "idle").count == 1)
        clock.advance(1)
        retaining.tick()
        #expect(store.committed(groupId: "idle").isEmpty)
        #expect(retaining.describe("idle").state == .dead)
    }
}

@Suite struct OffsetStoreTests {
    let directory = NSTemporaryDirectory() + "skein-offsets-" + UUID().uuidString

    func commitAndWait(
        _ store: OffsetStore, _ group: String, _ offsets: [TopicPartition: Int64], metadata: String? = nil
    ) throws {
        let done = Reply<Bool>()
        store.commit(
            groupId: group,
            offsets: offsets.mapValues { .init(offset: $0, leaderEpoch: 3, metadata: metadata, commitTimestampMs: 42) }
        ) {
            done.set((try? $0.get()) != nil)
        }
        #expect(eventually { done.response != nil })
        #expect(done.response == true)
    }

    @Test func commitsSurviveReopeningWithMetadata() throws {
        do {
            let store = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
            try commitAndWait(store, "a", [TopicPartition("t", 0): 10, TopicPartition("t", 1): 20], metadata: "note")
            try commitAndWait(store, "a", [TopicPartition("t", 0): 11])
            try commitAndWait(store, "b", [TopicPartition("u", 0): 1])
            store.deleteGroup("b")
            // No shutdown: the reopen must replay the log, as after a crash.
        }
        let reopened = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
        let committed = reopened.committed(groupId: "a")
        #expect(committed[TopicPartition("t", 0)]?.offset == 11)
        #expect(committed[TopicPartition("t", 1)]?.offset == 20)
        #expect(committed[TopicPartition("t", 1)]?.metadata == "note")
        #expect(committed[TopicPartition("t", 1)]?.leaderEpoch == 3)
        #expect(reopened.committed(groupId: "b").isEmpty)
    }

    @Test func repeatedCommitsKeepTheLogBounded() throws {
        let store = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
        let partitions = (0..<50).map { TopicPartition("busy", Int32($0)) }
        for round in 0..<400 {
            try commitAndWait(
                store, "busy-group", Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(round)) }),
                metadata: String(repeating: "m", count: 100))
        }
        // 400 rounds x 50 partitions of ~150 bytes is about 3 MB of commits; snapshots keep far less on disk.
        store.snapshotAndTrim()
        #expect(store.logSizeInBytes < 1 << 20)
        try store.shutdown()
        let reopened = try OffsetStore(directory: directory, clock: SystemClock(), logger: Logger(label: "test"))
        #expect(reopened.committed(groupId: "busy-group")[TopicPartition("busy", 49)]?.offset == 399)
    }
}
