import Foundation
import NIOCore
import SkeinLog
import SkeinProtocol

/// Group settings, by Kafka's broker config names.
public struct GroupConfig: Sendable, Equatable {
    /// `group.initial.rebalance.delay.ms`: how long a group that was empty waits for more members.
    public var initialRebalanceDelayMs: Int64 = 3_000
    /// `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    public var minSessionTimeoutMs: Int32 = 6_000
    public var maxSessionTimeoutMs: Int32 = 1_800_000
    /// `offsets.retention.minutes`: offsets of a group that stays empty this long are deleted.
    public var offsetsRetentionMs: Int64 = 7 * 24 * 3_600_000
    /// `offset.metadata.max.bytes`.
    public var maxMetadataBytes = 4096

    public init() {}
}

/// The classic group protocol, as Kafka's GroupCoordinator runs it: member ids, generations, the leader
/// computing assignments that SyncGroup distributes, rebalance and session timeouts, static membership.
///
/// All state sits under one lock. Responses that must wait (JoinGroup until the join phase ends,
/// SyncGroup until the leader's assignments arrive) are kept as callbacks and called after the lock is
/// released. Time comes from `clock`, and timeouts advance only in `tick()`, so tests drive them exactly.
final class GroupCoordinator: @unchecked Sendable {
    let config: GroupConfig
    let clock: any LogClock
    let offsets: OffsetStore
    private let lock = NSLock()
    private var groups: [String: ConsumerGroup] = [:]

    init(config: GroupConfig, clock: any LogClock, offsets: OffsetStore) {
        self.config = config
        self.clock = clock
        self.offsets = offsets
        let now = clock.milliseconds()
        // Groups that only have offsets come back as Empty groups, so they are listed and expire as before.
        for groupId in offsets.groupIds { groups[groupId] = ConsumerGroup(groupId: groupId, now: now) }
    }

    /// Work to do once the lock is released: answering waiting requests.
    private typealias Effect = () -> Void

    private func withGroups<T>(_ body: (inout [Effect]) -> T) -> T {
        var effects: [Effect] = []
        let result = lock.withLock { body(&effects) }
        for effect in effects { effect() }
        return result
    }

    // MARK: JoinGroup

    struct JoinContext {
        var version: Int16
        var clientId: String
        var clientHost: String
    }

    func join(_ request: JoinGroupRequest, context: JoinContext, respond: @escaping (JoinGroupResponse) -> Void) {
        let now = clock.milliseconds()
        withGroups { effects in
            func fail(_ code: ErrorCode, memberId: String = "") {
                effects.append { respond(JoinGroupResponse(errorCode: code, memberId: memberId)) }
            }
            guard !request.groupId.isEmpty else { return fail(.invalidGroupId) }
            guard request.sessionTimeoutMs >= config.minSessionTimeoutMs,
                request.sessionTimeoutMs <= config.maxSessionTimeoutMs
            else { return fail(.invalidSessionTimeout) }
            let group = groups[request.groupId] ?? ConsumerGroup(groupId: request.groupId, now: now)
            guard group.supports(protocolType: request.protocolType, protocols: request.protocols.map(\.name)) else {
                return fail(.inconsistentGroupProtocol, memberId: request.memberId)
            }
            groups[request.groupId] = group
            let protocols = request.protocols.map { (name: $0.name, metadata: $0.metadata) }
            // v0 has no rebalance timeout: the session timeout served as both.
            let rebalanceTimeout =
                request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs
            var member: GroupMember

            if request.memberId.isEmpty {
                if let instance = request.groupInstanceId, let existing = group.member(instance: instance) {
                    // A static member coming back under a new member id takes over its old place.
                    member = replaceStaticMember(
                        existing, in: group, request: request, context: context, now: now, effects: &effects)
                    if group.state == .stable, existing.protocols.map(\.name) == protocols.map(\.name) {
                        member.protocols = protocols
                        member.assignment = existing.assignment
                        let reply = joinResponse(
                            for: member, in: group, includeMembers: member.memberId == group.leaderId)
                        effects.append { respond(reply) }
                        return
                    }
                } else {
                    let newId =
                        "\(context.clientId.isEmpty ? "member" : context.clientId)-\(UUID().uuidString.lowercased())"
                    if context.version >= 4 && request.groupInstanceId == nil {
                        // KIP-394: the member must come back with this id, so a client that never does costs
                        // only a pending entry that expires with its session timeout.
                        group.pendingMemberIds[newId] = now + Int64(request.sessionTimeoutMs)
                        return fail(.memberIdRequired, memberId: newId)
                    }
                    member = newMember(
                        newId, request: request, context: context, protocols: protocols,
                        rebalanceTimeout: rebalanceTimeout, now: now)
                    group.add(member)
                }
            } else if group.pendingMemberIds.removeValue(forKey: request.memberId) != nil {
                member = newMember(
                    request.memberId, request: request, context: context, protocols: protocols,
                    rebalanceTimeout: rebalanceTimeout, now: now)
                group.add(member)
            } else if let existing = group.member(request.memberId) {
                if let instance = request.groupInstanceId, existing.groupInstanceId != instance {
                    return fail(.fencedInstanceId, memberId: request.memberId)
                }
                member = existing
                member.protocols = protocols
                member.sessionTimeoutMs = request.sessionTimeoutMs
                member.rebalanceTimeoutMs = rebalanceTimeout
            } else {
                return fail(.unknownMemberId, memberId: request.memberId)
            }

            if let previous = member.awaitingJoin {
                // The same member joining twice at once (over two connections: one connection holds its
                // requests while a join is pending). The older request is superseded; it must still be
                // answered, since responses on its connection go out in order.
                effects.append {
                    previous(JoinGroupResponse(errorCode: .rebalanceInProgress, memberId: member.memberId))
                }
            }
            member.awaitingJoin = respond
            member.lastHeartbeatMs = now
            if group.state != .preparingRebalance {
                prepareRebalance(group, now: now, effects: &effects)
            } else if group.initialDelayUntilMs > now {
                group.initialDelayUntilMs = min(now + config.initialRebalanceDelayMs, group.joinDeadlineMs)
            }
            tryCompleteJoin(group, now: now, effects: &effects)
        }
    }

    private func newMember(
        _ memberId: String, request: JoinGroupRequest, context: JoinContext,
        protocols: [(name: String, metadata: ByteBuffer)],
        rebalanceTimeout: Int32, now: Int64
    ) -> GroupMember {
        GroupMember(
            memberId: memberId, groupInstanceId: request.groupInstanceId, clientId: context.clientId,
            clientHost: context.clientHost,
            sessionTimeoutMs: request.sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeout,
            protocolType: request.protocolType,
            protocols: protocols, now: now)
    }

    private func replaceStaticMember(
        _ existing: GroupMember, in group: ConsumerGroup, request: JoinGroupRequest, context: JoinContext, now: Int64,
        effects: inout [Effect]
    ) -> GroupMember {
        let replacement = GroupMember(
            memberId: "\(request.groupInstanceId ?? "static")-\(UUID().uuidString.lowercased())",
            groupInstanceId: request.groupInstanceId,
            clientId: context.clientId, clientHost: context.clientHost, sessionTimeoutMs: request.sessionTimeoutMs,
            rebalanceTimeoutMs: request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : request.sessionTimeoutMs,
            protocolType: request.protocolType, protocols: existing.protocols, now: now)
        replacement.assignment = existing.assignment
        // The old incarnation is fenced: anything it was waiting for fails.
        if let join = existing.awaitingJoin { effects.append { join(JoinGroupResponse(errorCode: .fencedInstanceId)) } }
        if let sync = existing.awaitingSync { effects.append { sync(SyncGroupResponse(errorCode: .fencedInstanceId)) } }
        let wasLeader = group.leaderId == existing.memberId
        group.remove(existing.memberId)
        group.add(replacement)
        if wasLeader { group.leaderId = replacement.memberId }
        return replacement
    }

    private func prepareRebalance(_ group: ConsumerGroup, now: Int64, effects: inout [Effect]) {
        let wasEmpty = group.state == .empty
        for member in group.members {
            if let sync = member.awaitingSync {
                member.awaitingSync = nil
                effects.append { sync(SyncGroupResponse(errorCode: .rebalanceInProgress)) }
            }
        }
        group.state = .preparingRebalance
        group.joinDeadlineMs = now + max(group.rebalanceTimeoutMs, 0)
        group.initialDelayUntilMs = wasEmpty ? min(now + config.initialRebalanceDelayMs, group.joinDeadlineMs) : now
    }

    /// Ends the join phase if every member has rejoined (and the initial delay is over), or if the rebalance
    /// timeout has passed, in which case members that did not rejoin are dropped.
    private func tryCompleteJoin(_ group: ConsumerGroup, now: Int64, effects: inout [Effect]) {
        guard group.state == .preparingRebalance else { return }
        let everyoneIn = group.allMembersJoined && now >= group.initialDelayUntilMs
        guard everyoneIn || now >= group.joinDeadlineMs else { return }
        for member in group.members where member.awaitingJoin == nil { group.remove(member.memberId) }
        group.pendingMemberIds.removeAll()
        group.generationId &+= 1
        guard !group.members.isEmpty, let chosen = group.selectProtocol() else {
            group.state = .empty
            group.protocolName = nil
            group.leaderId = nil
            group.emptySinceMs = now
            return
        }
        group.protocolName = chosen
        if group.leaderId == nil || group.member(group.leaderId!) == nil {
            group.leaderId = group.members.first?.memberId
        }
        group.state = .completingRebalance
        group.syncDeadlineMs = now + group.rebalanceTimeoutMs
        for member in group.members {
            let reply = joinResponse(for: member, in: group, includeMembers: member.memberId == group.leaderId)
            let respond = member.awaitingJoin!
            member.awaitingJoin = nil
            member.lastHeartbeatMs = now
            effects.append { respond(reply) }
        }
    }

    private func joinResponse(for member: GroupMember, in group: ConsumerGroup, includeMembers: Bool)
        -> JoinGroupResponse
    {
        let protocolName = group.protocolName ?? ""
        return JoinGroupResponse(
            generationId: group.generationId, protocolType: group.protocolType, protocolName: protocolName,
            leader: group.leaderId ?? "", memberId: member.memberId,
            members: includeMembers
                ? group.members.map {
                    JoinGroupResponse.Member(
                        memberId: $0.memberId, groupInstanceId: $0.groupInstanceId,
                        metadata: $0.metadata(for: protocolName))
                } : [])
    }

    // MARK: SyncGroup

    func sync(_ request: SyncGroupRequest, respond: @escaping (SyncGroupResponse) -> Void) {
        let now = clock.milliseconds()
        withGroups { effects in
            func fail(_ code: ErrorCode) { effects.append { respond(SyncGroupResponse(errorCode: code)) } }
            guard let group = groups[request.groupId], let member = group.member(request.memberId) else {
                return fail(.unknownMemberId)
            }
            if let instance = request.groupInstanceId, member.groupInstanceId != instance {
                return fail(.fencedInstanceId)
            }
            guard request.generationId == group.generationId else { return fail(.illegalGeneration) }
            if let type = request.protocolType, type != group.protocolType { return fail(.inconsistentGroupProtocol) }
            if let name = request.protocolName, name != group.protocolName { return fail(.inconsistentGroupProtocol) }
            member.lastHeartbeatMs = now
            switch group.state {
            case .completingRebalance:
                if let previous = member.awaitingSync {
                    // A second SyncGroup from the same member (another connection): the first must still be
                    // answered, or its connection, which holds requests behind it, stalls.
                    effects.append { previous(SyncGroupResponse(errorCode: .rebalanceInProgress)) }
                }
                member.awaitingSync = respond
                guard member.memberId == group.leaderId else { return }
                let assignments = Dictionary(
                    request.assignments.map { ($0.memberId, $0.assignment) }, uniquingKeysWith: { first, _ in first })
                for each in group.members { each.assignment = assignments[each.memberId] ?? ByteBuffer() }
                group.state = .stable
                for each in group.members {
                    guard let waiting = each.awaitingSync else { continue }
                    each.awaitingSync = nil
                    let reply = SyncGroupResponse(
                        protocolType: group.protocolType, protocolName: group.protocolName, assignment: each.assignment)
                    effects.append { waiting(reply) }
                }
            case .stable:
                let reply = SyncGroupResponse(
                    protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment)
                effects.append { respond(reply) }
            case .preparingRebalance:
                fail(.rebalanceInProgress)
            case .empty, .dead:
                fail(.unknownMemberId)
            }
        }
    }

    // MARK: Heartbeat and LeaveGroup

    func heartbeat(_ request: HeartbeatRequest) -> ErrorCode {
        let now = clock.milliseconds()
        return withGroups { _ in
            guard let group = groups[request.groupId], let member = group.member(request.memberId) else {
                return .unknownMemberId
            }
            if let instance = request.groupInstanceId, member.groupInstanceId != instance { return .fencedInstanceId }
            guard request.generationId == group.generationId else { return .illegalGeneration }
            member.lastHeartbeatMs = now
            return group.state == .preparingRebalance ? .rebalanceInProgress : .noError
        }
    }

    func leave(_ request: LeaveGroupRequest) -> LeaveGroupResponse {
        let now = clock.milliseconds()
        return withGroups { effects in
            guard let group = groups[request.groupId] else {
                return LeaveGroupResponse(
                    errorCode: .unknownMemberId,
                    members: request.members.map {
                        .init(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, errorCode: .unknownMemberId)
                    })
            }
            var results: [LeaveGroupResponse.Member] = []
            var anyLeft = false
            for leaving in request.members {
                let found =
                    leaving.groupInstanceId.flatMap { group.member(instance: $0) } ?? group.member(leaving.memberId)
                guard let member = found, leaving.memberId.isEmpty || member.memberId == leaving.memberId else {
                    let code: ErrorCode =
                        leaving.groupInstanceId != nil && found != nil ? .fencedInstanceId : .unknownMemberId
                    results.append(
                        .init(memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId, errorCode: code))
                    continue
                }
                removeMember(member, from: group, effects: &effects)
                anyLeft = true
                results.append(.init(memberId: member.memberId, groupInstanceId: member.groupInstanceId))
            }
            if anyLeft { membershipChanged(group, now: now, effects: &effects) }
            // v0-v2 carry one member and report its error at the top level.
            let topError = request.members.count == 1 ? results.first?.errorCode ?? .noError : .noError
            return LeaveGroupResponse(errorCode: topError, members: results)
        }
    }

    private func removeMember(_ member: GroupMember, from group: ConsumerGroup, effects: inout [Effect]) {
        if let join = member.awaitingJoin { effects.append { join(JoinGroupResponse(errorCode: .unknownMemberId)) } }
        if let sync = member.awaitingSync { effects.append { sync(SyncGroupResponse(errorCode: .unknownMemberId)) } }
        member.awaitingJoin = nil
        member.awaitingSync = nil
        group.remove(member.memberId)
    }

    /// After members left or expired: rebalance the rest, or become Empty.
    private func membershipChanged(_ group: ConsumerGroup, now: Int64, effects: inout [Effect]) {
        if group.members.isEmpty {
            group.pendingMemberIds.removeAll()
            if group.state != .empty {
                group.generationId &+= 1
                group.state = .empty
                group.protocolName = nil
                group.leaderId = nil
                group.emptySinceMs = now
            }
        } else if group.state == .preparingRebalance {
            tryCompleteJoin(group, now: now, effects: &effects)
        } else {
            prepareRebalance(group, now: now, effects: &effects)
            tryCompleteJoin(group, now: now, effects: &effects)
        }
    }

    // MARK: Timeouts

    /// Expires members whose session timed out, ends join phases whose time is up, drops leaders that
    /// never synced and pending member ids never used, and deletes offsets of groups empty for too long.
    func tick() {
        let now = clock.milliseconds()
        var expiredOffsets: [String] = []
        withGroups { effects in
            for group in groups.values {
                group.pendingMemberIds = group.pendingMemberIds.filter { $0.value > now }
                var changed = false
                if group.state == .completingRebalance && now >= group.syncDeadlineMs {
                    // The leader never sent assignments: whoever did not sync is dropped.
                    for member in group.members where member.awaitingSync == nil {
                        removeMember(member, from: group, effects: &effects)
                        changed = true
                    }
                }
                for member in group.members where member.awaitingJoin == nil && member.awaitingSync == nil {
                    if now - member.lastHeartbeatMs > Int64(member.sessionTimeoutMs) {
                        removeMember(member, from: group, effects: &effects)
                        changed = true
                    }
                }
                if changed {
                    membershipChanged(group, now: now, effects: &effects)
                } else {
                    tryCompleteJoin(group, now: now, effects: &effects)
                }
                if group.state == .empty && group.pendingMemberIds.isEmpty
                    && now - group.emptySinceMs >= config.offsetsRetentionMs
                {
                    expiredOffsets.append(group.groupId)
                }
            }
            // Offsets go in the same critical section, so a commit cannot recreate the group in between
            // and lose its fresh offsets to this deletion.
            for groupId in expiredOffsets {
                groups[groupId] = nil
                offsets.deleteGroup(groupId)
            }
        }
    }

    // MARK: Offsets

    enum CommitCheck: Equatable {
        case accepted
        case rejected(ErrorCode)
    }

    /// Whether a commit from this member and generation may be stored (Kafka's rules: anyone may commit
    /// for an empty group with generation -1; group members only for their current generation).
    func checkCommit(groupId: String, generation: Int32, memberId: String, instanceId: String?) -> CommitCheck {
        let now = clock.milliseconds()
        return withGroups { _ in
            guard !groupId.isEmpty else { return .rejected(.invalidGroupId) }
            guard let group = groups[groupId] else {
                guard generation < 0 else { return .rejected(.illegalGeneration) }
                groups[groupId] = ConsumerGroup(groupId: groupId, now: now)
                return .accepted
            }
            if generation < 0 && memberId.isEmpty {
                guard group.state == .empty else { return .rejected(.unknownMemberId) }
                group.emptySinceMs = now
                return .accepted
            }
            guard let member = group.member(memberId) else { return .rejected(.unknownMemberId) }
            if let instanceId, member.groupInstanceId != instanceId { return .rejected(.fencedInstanceId) }
            guard generation == group.generationId else { return .rejected(.illegalGeneration) }
            if group.state == .completingRebalance { return .rejected(.rebalanceInProgress) }
            member.lastHeartbeatMs = now
            return .accepted
        }
    }

    // MARK: Describe and list

    struct GroupSummary {
        var groupId: String
        var state: ConsumerGroup.State
        var protocolType: String
        var protocolName: String
        var members: [DescribeGroupsResponse.Member]
    }

    func describe(_ groupId: String) -> GroupSummary {
        withGroups { _ in
            guard let group = groups[groupId] else {
                return GroupSummary(groupId: groupId, state: .dead, protocolType: "", protocolName: "", members: [])
            }
            let protocolName = group.protocolName ?? ""
            return GroupSummary(
                groupId: groupId, state: group.state, protocolType: group.protocolType ?? "",
                protocolName: protocolName,
                members: group.members.map {
                    DescribeGroupsResponse.Member(
                        memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, clientId: $0.clientId,
                        clientHost: $0.clientHost,
                        memberMetadata: group.state == .stable ? $0.metadata(for: protocolName) : ByteBuffer(),
                        memberAssignment: group.state == .stable ? $0.assignment : ByteBuffer())
                })
        }
    }

    func list() -> [(groupId: String, protocolType: String, state: ConsumerGroup.State)] {
        withGroups { _ in
            // A group that only ever had offsets committed (a "simple" consumer group) has no protocol type.
            groups.values.sorted { $0.groupId < $1.groupId }.map { ($0.groupId, $0.protocolType ?? "", $0.state) }
        }
    }

    var groupCount: Int { lock.withLock { groups.count } }

    /// Members and generation of every group, for a metrics scrape: counts only, nothing copied per member.
    func metricsSnapshot() -> [(groupId: String, members: Int, generation: Int32)] {
        lock.withLock { groups.values.map { ($0.groupId, $0.members.count, $0.generationId) } }
            .sorted { $0.groupId < $1.groupId }
    }
}
