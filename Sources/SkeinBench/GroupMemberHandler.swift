import NIOCore
import SkeinClient
import SkeinProtocol
import Synchronization

/// The API versions a group benchmark speaks, chosen once from the broker's ApiVersions answer.
public struct GroupVersions: Sendable, Equatable, Codable {
    public var findCoordinator: Int16
    public var joinGroup: Int16
    public var syncGroup: Int16
    public var heartbeat: Int16
    public var leaveGroup: Int16
    public var offsetCommit: Int16
    public var offsetFetch: Int16
}

/// Everything one simulated member needs to know; fixed for the member's lifetime.
struct GroupMemberPlan: Sendable {
    var groupId: String
    var topic: String
    /// The topic's partitions, for the assignment this member computes if it is elected leader.
    var partitions: [Int32]
    var memberIndex: Int
    var versions: GroupVersions
    var sessionTimeoutMs: Int32
    var rebalanceTimeoutMs: Int32
    /// The ConsumerProtocol subscription sent as the protocol metadata of every JoinGroup.
    var subscription: ByteBuffer
    /// Pause between heartbeats while a member waits to see a rebalance start. Short, because the
    /// benchmark measures the coordinator, not the 3 s heartbeat cadence of a real consumer.
    var probeInterval: TimeAmount
    /// How long an elected leader waits before its SyncGroup. Zero for real use; see
    /// `GroupBenchConfig.leaderSyncDelay`.
    var leaderSyncDelay: TimeAmount
}

/// What one member saw in a rebalance round.
struct RebalanceOutcome: Sendable {
    var memberIndex: Int
    var memberId: String
    var generation: Int32
    var isLeader: Bool
    /// When this member wrote its first JoinGroup of the round.
    var firstJoinSentAt: NIODeadline
    /// When its successful SyncGroup response arrived.
    var syncedAt: NIODeadline
    var assignment: ConsumerAssignment
    /// JoinGroup requests sent in the round: 1, plus one for MEMBER_ID_REQUIRED, plus rejoins.
    var joinRequests: Int
    /// Heartbeats sent before the member saw REBALANCE_IN_PROGRESS (rejoin rounds only).
    var probes: Int
    var sawMemberIdRequired: Bool
}

/// Decides when a rebalance round is over: every member has a successful SyncGroup answer for
/// one and the same generation. A member that synced keeps heartbeating and rejoins when the
/// coordinator starts another rebalance (say, because another member's SyncGroup was refused and
/// it rejoined), so the round ends only once the whole group has settled.
final class RebalanceRound: Sendable {
    private struct State {
        var synced: [Int: RebalanceOutcome] = [:]
        var finished = false
    }

    let memberCount: Int
    private let state = Mutex(State())
    private let promise: EventLoopPromise<[RebalanceOutcome]>

    init(memberCount: Int, promise: EventLoopPromise<[RebalanceOutcome]>) {
        self.memberCount = memberCount
        self.promise = promise
    }

    var futureResult: EventLoopFuture<[RebalanceOutcome]> { promise.futureResult }

    func synced(_ outcome: RebalanceOutcome) {
        let complete: [RebalanceOutcome]? = state.withLock { state in
            guard !state.finished else { return nil }
            state.synced[outcome.memberIndex] = outcome
            guard state.synced.count == memberCount, Set(state.synced.values.map(\.generation)).count == 1 else {
                return nil
            }
            state.finished = true
            return state.synced.values.sorted { $0.memberIndex < $1.memberIndex }
        }
        if let complete { promise.succeed(complete) }
    }

    /// The member went back to JoinGroup: its earlier sync no longer counts.
    func rejoining(_ memberIndex: Int) {
        state.withLock { _ = $0.synced.removeValue(forKey: memberIndex) }
    }

    func fail(_ error: Error) {
        let first = state.withLock { state in
            defer { state.finished = true }
            return !state.finished
        }
        if first { promise.fail(error) }
    }

    /// How far the round got, for the message of a round that timed out.
    var progress: String {
        state.withLock { state in
            let generations = Set(state.synced.values.map(\.generation)).sorted()
            return "\(state.synced.count) of \(memberCount) members synced (generations \(generations))"
        }
    }
}

/// A Kafka error code answered to one API, the unit in which errors are counted and reported.
struct ApiError: Hashable, Sendable {
    var api: ApiKey
    var code: Int16
}

/// A rebalance step answered with an error the member cannot handle by rejoining.
struct GroupRequestFailed: Error, CustomStringConvertible {
    var api: ApiKey
    var code: ErrorCode
    var memberIndex: Int

    var description: String { "member \(memberIndex): \(api) answered \(code) (\(code.rawValue))" }
}

/// The commit loop of one member: its partitions, how hard to push, when to stop.
struct CommitLoad: Sendable {
    var partitions: [Int32]
    var inFlight: Int
    var deadline: NIODeadline
    var heartbeatInterval: TimeAmount
}

/// What one committing member measured.
struct CommitStats: Sendable {
    var latency = LatencyHistogram()
    /// OffsetCommit requests answered.
    var requests = 0
    /// Partitions answered without error, summed over requests.
    var partitionsCommitted = 0
    var heartbeats = 0
    var errors: [ApiError: Int] = [:]
    var failures: [String] = []
    /// The highest offset acknowledged per partition, to check against OffsetFetch afterwards.
    var acknowledged: [Int32: Int64] = [:]
    var finishedAt = NIODeadline.now()

    mutating func merge(_ other: CommitStats) {
        latency.merge(other.latency)
        requests += other.requests
        partitionsCommitted += other.partitionsCommitted
        heartbeats += other.heartbeats
        errors.merge(other.errors, uniquingKeysWith: +)
        failures += other.failures
        acknowledged.merge(other.acknowledged) { Swift.max($0, $1) }
        finishedAt = Swift.max(finishedAt, other.finishedAt)
    }
}

/// Orders from the benchmark to one member, sent down its pipeline as user events.
enum GroupMemberCommand: Sendable {
    /// Send JoinGroup now and run join → sync, then watch until the round is over.
    case join(RebalanceRound)
    /// Heartbeat until the coordinator says REBALANCE_IN_PROGRESS, then rejoin: how a follower
    /// of a stable group learns that another member started a rebalance.
    case probeThenJoin(RebalanceRound)
    /// The round is over: stop watching for further rebalances.
    case endRound
    case commit(CommitLoad, EventLoopPromise<CommitStats>)
    /// LeaveGroup; the promise gets the coordinator's answer.
    case leave(EventLoopPromise<ErrorCode>)
}

/// One simulated consumer-group member on its own connection: the classic rebalance protocol
/// (JoinGroup with MEMBER_ID_REQUIRED handling, the leader's range assignment, SyncGroup) and a
/// pipelined OffsetCommit loop with heartbeats between commits.
///
/// Requests are answered in order on a connection, so a queue of what was sent pairs every
/// response with its request. During a rebalance at most one request is outstanding, as in a
/// real client (a broker may hold a JoinGroup for seconds and read nothing else meanwhile).
final class GroupMemberHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let protocolType = "consumer"

    private enum Purpose {
        case join, sync, probe, heartbeat, leave
        case commit(offset: Int64, partitions: Int)
    }

    private struct Outstanding {
        var correlationId: Int32
        var purpose: Purpose
        var sentAt: NIODeadline
    }

    private struct Round {
        var tracker: RebalanceRound
        /// Synced and heartbeating, in case the group rebalances again before the round ends.
        var watching = false
        var firstJoinSentAt: NIODeadline?
        var joinRequests = 0
        var probes = 0
        var sawMemberIdRequired = false
    }

    private struct Committing {
        var load: CommitLoad
        var promise: EventLoopPromise<CommitStats>
        var stats = CommitStats()
        /// Every request commits this offset for all the member's partitions, then it grows by
        /// one, so the last acknowledged request tells what OffsetFetch must return.
        var nextOffset: Int64 = 1
        var commitsOutstanding = 0
        var heartbeatOutstanding = false
        var stopping = false
        var heartbeatTask: RepeatedTask?
        var deadlineTask: Scheduled<Void>?
    }

    private let plan: GroupMemberPlan
    private var context: ChannelHandlerContext?
    private var outstanding = CircularBuffer<Outstanding>()
    private var nextCorrelationId: Int32 = 1
    private var memberId = ""
    private var generation: Int32 = -1
    private var protocolName: String?
    private var isLeader = false
    private var round: Round?
    private var committing: Committing?
    private var leaving: EventLoopPromise<ErrorCode>?
    private var probeTask: Scheduled<Void>?
    private var joinInFlight = false
    private var watchdog: RepeatedTask?
    private var closed = false

    init(plan: GroupMemberPlan) {
        self.plan = plan
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        watchdog = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.checkForStall()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        abandon("connection handler removed")
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        abandon("connection closed by the broker with \(outstanding.count) requests outstanding")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        abandon("\(error)")
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let command = event as? GroupMemberCommand else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch command {
        case .join(let tracker):
            startRound(tracker, probeFirst: false)
        case .probeThenJoin(let tracker):
            startRound(tracker, probeFirst: true)
        case .endRound:
            round = nil
            probeTask?.cancel()
        case .commit(let load, let promise):
            startCommitting(load, promise: promise)
        case .leave(let promise):
            leave(promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let receivedAt = NIODeadline.now()
        let payload = unwrapInboundIn(data)
        guard let request = outstanding.popFirst() else {
            abandon("response without an outstanding request")
            return
        }
        let (api, version) = apiAndVersion(of: request.purpose)
        let response: KafkaResponse
        do {
            let (header, decoded) = try ResponseFrame.decode(payload: payload, apiKey: api, version: version)
            guard header.correlationId == request.correlationId else {
                abandon("response \(header.correlationId) arrived where \(request.correlationId) was due")
                return
            }
            response = decoded
        } catch {
            // librdkafka's mock cluster writes a null assignment with SyncGroup errors, which the
            // schema forbids; the error code before it is still good.
            if case .sync = request.purpose, let code = Self.syncGroupErrorCode(in: payload, version: version),
                code != .noError
            {
                handleSync(SyncGroupResponse(errorCode: code), receivedAt: receivedAt)
                return
            }
            abandon("unreadable \(api) v\(version) response: \(error)")
            return
        }
        switch (request.purpose, response) {
        case (.join, .joinGroup(let joined)):
            handleJoin(joined)
        case (.sync, .syncGroup(let synced)):
            handleSync(synced, receivedAt: receivedAt)
        case (.probe, .heartbeat(let heartbeat)):
            handleProbe(heartbeat)
        case (.heartbeat, .heartbeat(let heartbeat)):
            handleHeartbeat(heartbeat)
        case (.commit(let offset, let partitions), .offsetCommit(let committed)):
            handleCommit(committed, offset: offset, partitions: partitions, latency: receivedAt - request.sentAt)
        case (.leave, .leaveGroup(let left)):
            let code = left.errorCode != .noError ? left.errorCode : (left.members.first?.errorCode ?? .noError)
            leaving?.succeed(code)
            leaving = nil
        default:
            abandon("\(api) response of an unexpected type")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if committing != nil { pumpCommits() }
        context.fireChannelReadComplete()
    }

    // MARK: Rebalance

    private func startRound(_ tracker: RebalanceRound, probeFirst: Bool) {
        guard !closed, round == nil, committing == nil else {
            tracker.fail(BenchError("member \(plan.memberIndex) cannot start a rebalance now"))
            return
        }
        round = Round(tracker: tracker)
        if probeFirst, generation >= 0, !memberId.isEmpty {
            sendProbe()
        } else {
            sendJoin()
        }
    }

    private func sendJoin() {
        guard round != nil else { return }
        // A heartbeat still scheduled or in flight carries the generation this join ends; its answer
        // (ILLEGAL_GENERATION once the join completes) must not start yet another rebalance.
        probeTask?.cancel()
        probeTask = nil
        joinInFlight = true
        let request = JoinGroupRequest(
            groupId: plan.groupId, sessionTimeoutMs: plan.sessionTimeoutMs, rebalanceTimeoutMs: plan.rebalanceTimeoutMs,
            memberId: memberId, groupInstanceId: nil, protocolType: Self.protocolType,
            protocols: [.init(name: RangeAssignor.protocolName, metadata: plan.subscription)])
        if round!.watching {
            round!.watching = false
            round!.tracker.rejoining(plan.memberIndex)
        }
        round!.joinRequests += 1
        if round!.firstJoinSentAt == nil { round!.firstJoinSentAt = .now() }
        send(request, version: plan.versions.joinGroup, purpose: .join)
    }

    private func sendProbe() {
        guard round != nil else { return }
        round!.probes += 1
        send(
            HeartbeatRequest(groupId: plan.groupId, generationId: generation, memberId: memberId),
            version: plan.versions.heartbeat, purpose: .probe)
    }

    private func handleJoin(_ response: JoinGroupResponse) {
        joinInFlight = false
        guard round != nil else { return abandon("JoinGroup answered outside a rebalance") }
        switch response.errorCode {
        case .memberIdRequired:
            // KIP-394: the coordinator names us and waits for a second JoinGroup carrying the name.
            memberId = response.memberId
            round!.sawMemberIdRequired = true
            sendJoin()
        case .noError:
            memberId = response.memberId
            generation = response.generationId
            protocolName = response.protocolName
            isLeader = response.leader == response.memberId
            var assignments: [SyncGroupRequest.Assignment] = []
            if isLeader {
                do {
                    assignments = try leaderAssignments(for: response.members)
                } catch {
                    return failRound(BenchError("member \(plan.memberIndex) (leader): \(error)"))
                }
            }
            if isLeader, plan.leaderSyncDelay > .zero, let context {
                let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let generation = generation
                let assignments = assignments
                probeTask = context.eventLoop.scheduleTask(in: plan.leaderSyncDelay) {
                    bound.value.sendSync(assignments, generation: generation)
                }
            } else {
                sendSync(assignments, generation: generation)
            }
        case .unknownMemberId:
            memberId = ""
            sendJoin()
        case .rebalanceInProgress:
            sendJoin()
        default:
            failRound(GroupRequestFailed(api: .joinGroup, code: response.errorCode, memberIndex: plan.memberIndex))
        }
    }

    private func sendSync(_ assignments: [SyncGroupRequest.Assignment], generation: Int32) {
        guard round != nil, generation == self.generation else { return }
        let carriesProtocol = plan.versions.syncGroup >= 5
        let request = SyncGroupRequest(
            groupId: plan.groupId, generationId: generation, memberId: memberId, groupInstanceId: nil,
            protocolType: carriesProtocol ? Self.protocolType : nil,
            protocolName: carriesProtocol ? protocolName : nil, assignments: assignments)
        send(request, version: plan.versions.syncGroup, purpose: .sync)
    }

    /// The leader's half of the consumer protocol: read every member's subscription and give each
    /// a range of the topic's partitions.
    private func leaderAssignments(for members: [JoinGroupResponse.Member]) throws -> [SyncGroupRequest.Assignment] {
        var subscriptions: [String: [String]] = [:]
        for member in members {
            subscriptions[member.memberId] = try ConsumerSubscription.decode(member.metadata).topics
        }
        let assignments = RangeAssignor.assign(
            partitionsByTopic: [plan.topic: plan.partitions], subscriptions: subscriptions)
        return try members.map { member in
            SyncGroupRequest.Assignment(
                memberId: member.memberId,
                assignment: try (assignments[member.memberId] ?? ConsumerAssignment(assigned: [])).encoded())
        }
    }

    private func handleSync(_ response: SyncGroupResponse, receivedAt: NIODeadline) {
        guard let current = round else { return abandon("SyncGroup answered outside a rebalance") }
        switch response.errorCode {
        case .noError:
            let assignment: ConsumerAssignment
            do {
                assignment = try ConsumerAssignment.decode(response.assignment)
            } catch {
                return failRound(BenchError("member \(plan.memberIndex): unreadable assignment: \(error)"))
            }
            round!.watching = true
            scheduleProbe()
            current.tracker.synced(
                RebalanceOutcome(
                    memberIndex: plan.memberIndex, memberId: memberId, generation: generation,
                    isLeader: isLeader, firstJoinSentAt: current.firstJoinSentAt ?? receivedAt, syncedAt: receivedAt,
                    assignment: assignment, joinRequests: current.joinRequests, probes: current.probes,
                    sawMemberIdRequired: current.sawMemberIdRequired))
        case .rebalanceInProgress, .illegalGeneration:
            // Someone joined or left between our JoinGroup and SyncGroup: the normal client answer.
            sendJoin()
        case .unknownMemberId:
            memberId = ""
            sendJoin()
        default:
            failRound(GroupRequestFailed(api: .syncGroup, code: response.errorCode, memberIndex: plan.memberIndex))
        }
    }

    /// The error code of a SyncGroup response whose assignment does not decode.
    static func syncGroupErrorCode(in payload: ByteBuffer, version: Int16) -> ErrorCode? {
        var buffer = payload
        guard
            (try? ResponseHeader.decode(from: &buffer, headerVersion: ApiKey.syncGroup.responseHeaderVersion(version)))
                != nil
        else { return nil }
        if version >= 1 { buffer.moveReaderIndex(forwardBy: min(4, buffer.readableBytes)) }
        return try? buffer.readErrorCode()
    }

    private func handleProbe(_ response: HeartbeatResponse) {
        // An answer to a heartbeat sent before our JoinGroup says nothing about the join under way.
        guard round != nil, !joinInFlight else { return }
        switch response.errorCode {
        case .noError:
            scheduleProbe()
        case .rebalanceInProgress, .illegalGeneration:
            sendJoin()
        case .unknownMemberId:
            memberId = ""
            sendJoin()
        default:
            failRound(GroupRequestFailed(api: .heartbeat, code: response.errorCode, memberIndex: plan.memberIndex))
        }
    }

    private func scheduleProbe() {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        probeTask = context.eventLoop.scheduleTask(in: plan.probeInterval) { bound.value.sendProbe() }
    }

    private func failRound(_ error: Error) {
        guard let current = round else { return }
        round = nil
        probeTask?.cancel()
        current.tracker.fail(error)
    }

    // MARK: Commits

    private func startCommitting(_ load: CommitLoad, promise: EventLoopPromise<CommitStats>) {
        guard !closed, round == nil, committing == nil, generation >= 0, let context else {
            promise.fail(BenchError("member \(plan.memberIndex) is not in a stable group"))
            return
        }
        var state = Committing(load: load, promise: promise)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        state.heartbeatTask = context.eventLoop.scheduleRepeatedTask(
            initialDelay: load.heartbeatInterval, delay: load.heartbeatInterval
        ) { _ in bound.value.sendHeartbeat() }
        state.deadlineTask = context.eventLoop.scheduleTask(deadline: load.deadline) { bound.value.pumpCommits() }
        committing = state
        pumpCommits()
    }

    /// Keeps `inFlight` commits outstanding until the deadline, with one flush per burst; once the
    /// deadline passed and every answer is in, reports.
    private func pumpCommits() {
        guard committing != nil, let context else { return }
        if !committing!.stopping, NIODeadline.now() >= committing!.load.deadline { committing!.stopping = true }
        var wrote = false
        while !committing!.stopping, !committing!.load.partitions.isEmpty,
            committing!.commitsOutstanding < committing!.load.inFlight
        {
            sendCommit()
            wrote = true
        }
        if wrote { context.flush() }
        if committing!.stopping, committing!.commitsOutstanding == 0, !committing!.heartbeatOutstanding {
            finishCommitting()
        }
    }

    private func sendCommit() {
        let offset = committing!.nextOffset
        committing!.nextOffset += 1
        committing!.commitsOutstanding += 1
        let partitions = committing!.load.partitions
        let request = OffsetCommitRequest(
            groupId: plan.groupId, generationIdOrMemberEpoch: generation, memberId: memberId, groupInstanceId: nil,
            retentionTimeMs: -1,
            topics: [
                .init(
                    name: plan.topic,
                    partitions: partitions.map {
                        .init(
                            partitionIndex: $0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: ""
                        )
                    })
            ])
        send(
            request, version: plan.versions.offsetCommit,
            purpose: .commit(offset: offset, partitions: partitions.count),
            flush: false)
    }

    private func handleCommit(_ response: OffsetCommitResponse, offset: Int64, partitions: Int, latency: TimeAmount) {
        guard committing != nil else { return }
        committing!.commitsOutstanding -= 1
        committing!.stats.requests += 1
        committing!.stats.latency.record(UInt64(max(0, latency.nanoseconds)))
        var answered = 0
        for topic in response.topics {
            for partition in topic.partitions {
                answered += 1
                if partition.errorCode == .noError {
                    committing!.stats.partitionsCommitted += 1
                    committing!.stats.acknowledged[partition.partitionIndex] = max(
                        committing!.stats.acknowledged[partition.partitionIndex] ?? -1, offset)
                } else {
                    committing!.stats.errors[
                        ApiError(api: .offsetCommit, code: partition.errorCode.rawValue), default: 0] +=
                        1
                }
            }
        }
        if answered != partitions {
            committing!.stats.failures.append(
                "member \(plan.memberIndex): OffsetCommit answered \(answered) of \(partitions) partitions")
            committing!.stopping = true
        }
    }

    private func sendHeartbeat() {
        guard committing != nil, !committing!.stopping, !committing!.heartbeatOutstanding else { return }
        committing!.heartbeatOutstanding = true
        send(
            HeartbeatRequest(groupId: plan.groupId, generationId: generation, memberId: memberId),
            version: plan.versions.heartbeat, purpose: .heartbeat)
    }

    private func handleHeartbeat(_ response: HeartbeatResponse) {
        guard committing != nil else { return }
        committing!.heartbeatOutstanding = false
        committing!.stats.heartbeats += 1
        if response.errorCode != .noError {
            committing!.stats.errors[ApiError(api: .heartbeat, code: response.errorCode.rawValue), default: 0] += 1
        }
    }

    private func finishCommitting() {
        guard var state = committing else { return }
        committing = nil
        state.heartbeatTask?.cancel()
        state.deadlineTask?.cancel()
        state.stats.finishedAt = .now()
        state.promise.succeed(state.stats)
    }

    // MARK: Leaving, sending, failing

    private func leave(_ promise: EventLoopPromise<ErrorCode>) {
        guard !closed, !memberId.isEmpty, leaving == nil else {
            promise.succeed(.noError)
            return
        }
        leaving = promise
        send(
            LeaveGroupRequest(groupId: plan.groupId, members: [.init(memberId: memberId, reason: "benchmark done")]),
            version: plan.versions.leaveGroup, purpose: .leave)
    }

    private func apiAndVersion(of purpose: Purpose) -> (ApiKey, Int16) {
        switch purpose {
        case .join: (.joinGroup, plan.versions.joinGroup)
        case .sync: (.syncGroup, plan.versions.syncGroup)
        case .probe, .heartbeat: (.heartbeat, plan.versions.heartbeat)
        case .commit: (.offsetCommit, plan.versions.offsetCommit)
        case .leave: (.leaveGroup, plan.versions.leaveGroup)
        }
    }

    private func send<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, purpose: Purpose, flush: Bool = true
    ) {
        guard let context, !closed else { return }
        let correlationId = nextCorrelationId
        nextCorrelationId = nextCorrelationId == .max ? 1 : nextCorrelationId + 1
        var frame = context.channel.allocator.buffer(capacity: 128 + plan.groupId.utf8.count + plan.topic.utf8.count)
        do {
            try RequestFrame.encode(
                request, version: version, correlationId: correlationId, clientId: SetupClient.clientId, into: &frame)
        } catch {
            abandon("cannot encode \(Request.apiKey) v\(version): \(error)")
            return
        }
        outstanding.append(Outstanding(correlationId: correlationId, purpose: purpose, sentAt: .now()))
        context.write(wrapOutboundOut(frame), promise: nil)
        if flush { context.flush() }
    }

    /// How long an answer may take: a coordinator legitimately holds JoinGroup for the whole
    /// join phase (up to the rebalance timeout) and SyncGroup until the leader's assignment.
    private func allowance(for purpose: Purpose) -> TimeAmount {
        switch purpose {
        case .join, .sync:
            .milliseconds(Int64(plan.rebalanceTimeoutMs) + Int64(plan.sessionTimeoutMs)) + .seconds(15)
        default:
            stallTimeout
        }
    }

    private func checkForStall() {
        guard let head = outstanding.first else { return }
        let waited = NIODeadline.now() - head.sentAt
        guard waited > allowance(for: head.purpose) else { return }
        let (api, _) = apiAndVersion(of: head.purpose)
        abandon("no answer to \(api) for \(waited.nanoseconds / 1_000_000_000) s")
    }

    /// Ends everything under way on this connection with `reason` and closes it.
    private func abandon(_ reason: String) {
        guard !closed else { return }
        closed = true
        watchdog?.cancel()
        probeTask?.cancel()
        let message = "member \(plan.memberIndex): \(reason)"
        failRound(BenchError(message))
        if var state = committing {
            committing = nil
            state.heartbeatTask?.cancel()
            state.deadlineTask?.cancel()
            state.stats.failures.append(message)
            state.stats.finishedAt = .now()
            state.promise.succeed(state.stats)
        }
        leaving?.fail(BenchError(message))
        leaving = nil
        context?.close(promise: nil)
    }
}
