import Foundation
import NIOCore
import NIOPosix
import SkeinClient
import SkeinProtocol

public struct GroupBenchConfig: Sendable {
    public var bootstrap = "127.0.0.1:9092"
    public var topic = "skein-bench-group"
    /// Partitions to create the topic with when it does not exist (nil: the broker's default).
    public var partitions: Int?
    /// Group sizes to measure, each in a fresh group; empty skips the rebalance phase.
    public var memberCounts = [1, 10, 50]
    /// Rebalances per group size: the initial join, then rounds in which every member rejoins.
    public var rounds = 5
    public var sessionTimeout: Duration = .seconds(10)
    public var rebalanceTimeout: Duration = .seconds(30)
    public var heartbeatInterval: Duration = .seconds(3)
    public var probeInterval: Duration = .milliseconds(5)
    /// How long an elected leader waits before sending SyncGroup. Keep 0 for Kafka and Skein.
    /// librdkafka's mock cluster completes a generation as soon as the leader's assignments are
    /// in and refuses (REBALANCE_IN_PROGRESS) followers whose SyncGroup comes later, so a leader
    /// faster than its followers keeps the group rebalancing; a few milliseconds here avoid that.
    public var leaderSyncDelay: Duration = .zero
    /// Members of the commit group; 0 skips the commit phase.
    public var committers = 4
    public var commitsDuration: Duration = .seconds(5)
    /// OffsetCommit requests outstanding per committer.
    public var inFlight = 5
    /// Group names are this, a per-run suffix and the phase, so each run starts from empty groups.
    public var groupPrefix = "skein-bench"

    public init() {}
}

public enum GroupBenchmark {
    /// What rejoin rounds do, stated in every report.
    public static let roundTrigger =
        "round 1: every member joins the empty group (with MEMBER_ID_REQUIRED when the broker asks); "
        + "later rounds: the leader sends JoinGroup, every follower heartbeats until REBALANCE_IN_PROGRESS "
        + "and rejoins; timed from the first JoinGroup written to the last successful SyncGroup read"

    public static func run(_ config: GroupBenchConfig, notice: @escaping @Sendable (String) -> Void = { _ in })
        async throws
        -> GroupBenchReport
    {
        guard config.memberCounts.allSatisfy({ $0 > 0 }), config.rounds >= 0, config.committers >= 0,
            config.inFlight > 0
        else {
            throw BenchError("--members must be positive, --rounds and --committers not negative, --in-flight positive")
        }
        let (host, port) = try parseHostPort(config.bootstrap)
        let largest = max(config.memberCounts.max() ?? 1, config.committers, 1)
        return try await withBenchEventLoopGroup(connections: largest) { group in
            try await run(config, host: host, port: port, group: group, notice: notice)
        }
    }

    private static func run(
        _ config: GroupBenchConfig, host: String, port: Int, group: EventLoopGroup,
        notice: @escaping @Sendable (String) -> Void
    ) async throws -> GroupBenchReport {
        let setup = try await SetupClient.connect(host: host, port: port, group: group)
        let versions: GroupVersions
        let layout: TopicLayout
        let metadataVersions: NegotiatedVersions
        do {
            metadataVersions = try await setup.negotiateVersions()
            versions = try negotiate(metadataVersions)
            layout = try await setup.ensureTopic(
                config.topic, partitions: config.partitions, versions: metadataVersions, notice: notice)
        } catch {
            await setup.close()
            throw error
        }
        await setup.close()
        notice(
            "JoinGroup v\(versions.joinGroup), SyncGroup v\(versions.syncGroup), Heartbeat v\(versions.heartbeat), "
                + "OffsetCommit v\(versions.offsetCommit), OffsetFetch v\(versions.offsetFetch), "
                + "LeaveGroup v\(versions.leaveGroup), FindCoordinator v\(versions.findCoordinator); "
                + "\(config.topic) has \(layout.partitions.count) partitions")

        let runId = "\(ProcessInfo.processInfo.processIdentifier)-\(Int(Date().timeIntervalSince1970 * 1000))"
        let subscription = try ConsumerSubscription(topics: [config.topic]).encoded()
        var report = GroupBenchReport(
            bootstrap: config.bootstrap, topic: config.topic, partitions: layout.partitions.count, versions: versions,
            settings: settings(of: config))
        let context = GroupRunContext(
            config: config, host: host, port: port, group: group, versions: versions, layout: layout,
            subscription: subscription, notice: notice)

        for count in config.memberCounts where config.rounds > 0 {
            let groupId = "\(config.groupPrefix)-\(runId)-n\(count)"
            let result = await measureRebalances(members: count, groupId: groupId, context: context, report: &report)
            report.rebalance.append(result)
            if let failure = result.failure { report.failures.append("\(count) members: \(failure)") }
        }
        if config.committers > 0 {
            let groupId = "\(config.groupPrefix)-\(runId)-commit"
            do {
                report.commits = try await measureCommits(groupId: groupId, context: context, report: &report)
            } catch {
                report.failures.append("commit phase: \(error)")
            }
        }
        report.finish()
        return report
    }

    private static func negotiate(_ versions: NegotiatedVersions) throws -> GroupVersions {
        // JoinGroup v4 brought MEMBER_ID_REQUIRED and v5 static membership fields; SyncGroup v3
        // is its counterpart. Older versions would measure a protocol no current client speaks.
        GroupVersions(
            findCoordinator: try versions.version(of: .findCoordinator),
            joinGroup: try versions.version(of: .joinGroup, minimum: 5),
            syncGroup: try versions.version(of: .syncGroup, minimum: 3),
            heartbeat: try versions.version(of: .heartbeat),
            leaveGroup: try versions.version(of: .leaveGroup),
            offsetCommit: try versions.version(of: .offsetCommit),
            offsetFetch: try versions.version(of: .offsetFetch))
    }

    private static func settings(of config: GroupBenchConfig) -> [String: String] {
        [
            "members": config.memberCounts.map(String.init).joined(separator: ","), "rounds": "\(config.rounds)",
            "session_timeout_ms": "\(config.sessionTimeout.milliseconds)",
            "rebalance_timeout_ms": "\(config.rebalanceTimeout.milliseconds)",
            "heartbeat_interval_ms": "\(config.heartbeatInterval.milliseconds)",
            "probe_interval_ms": "\(config.probeInterval.milliseconds)",
            "leader_sync_delay_ms": "\(config.leaderSyncDelay.milliseconds)", "committers": "\(config.committers)",
            "commits_duration_s": "\(config.commitsDuration.seconds)", "in_flight": "\(config.inFlight)",
            "assignor": RangeAssignor.protocolName,
        ]
    }

    // MARK: Rebalance phase

    private static func measureRebalances(
        members count: Int, groupId: String, context: GroupRunContext, report: inout GroupBenchReport
    ) async -> GroupBenchReport.RebalanceResult {
        var result = GroupBenchReport.RebalanceResult(members: count, groupId: groupId)
        let members: GroupMembers
        do {
            let coordinator = try await findCoordinator(groupId, context: context)
            report.coordinator = "\(coordinator.host):\(coordinator.port)"
            members = try await GroupMembers.connect(
                count: count, groupId: groupId, host: coordinator.host, port: coordinator.port, context: context)
        } catch {
            result.failure = "\(error)"
            return result
        }
        context.notice("\(count) member\(count == 1 ? "" : "s"): \(context.config.rounds) rounds in group \(groupId)")
        var leader: Int?
        for roundNumber in 1...context.config.rounds {
            do {
                let outcomes = try await members.rebalance(leader: leader, timeout: context.roundTimeout)
                let (milliseconds, problem) = check(
                    outcomes, partitions: context.layout.partitions, topic: context.config.topic)
                result.roundsMs.append(milliseconds)
                result.generations.append(outcomes.first?.generation ?? -1)
                result.joinRequests += outcomes.reduce(0) { $0 + $1.joinRequests }
                result.heartbeatProbes += outcomes.reduce(0) { $0 + $1.probes }
                if outcomes.contains(where: \.sawMemberIdRequired) { result.memberIdRequired = true }
                leader = outcomes.first(where: \.isLeader)?.memberIndex
                context.notice("  round \(roundNumber): \(String(format: "%.1f", milliseconds)) ms")
                if let problem {
                    result.failure = "round \(roundNumber): \(problem)"
                    break
                }
            } catch {
                report.count(error)
                result.failure = "round \(roundNumber): \(error)"
                break
            }
        }
        result.summarize()
        await members.leaveAndClose(notice: context.notice)
        return result
    }

    /// The round's duration and, if the members disagree or the assignment is not a partition of
    /// the topic, what is wrong.
    static func check(_ outcomes: [RebalanceOutcome], partitions: [Int32], topic: String) -> (Double, String?) {
        guard let firstJoin = outcomes.map(\.firstJoinSentAt).min(), let lastSync = outcomes.map(\.syncedAt).max()
        else { return (0, "no members") }
        let milliseconds = Double((lastSync - firstJoin).nanoseconds) / 1e6
        let generations = Set(outcomes.map(\.generation))
        if generations.count != 1 { return (milliseconds, "members ended in generations \(generations.sorted())") }
        let leaders = outcomes.filter(\.isLeader).count
        if leaders != 1 { return (milliseconds, "\(leaders) members think they lead") }
        let assigned = outcomes.flatMap { $0.assignment.partitions(of: topic) }
        if assigned.sorted() != partitions.sorted() {
            return (milliseconds, "assigned partitions \(assigned.sorted()) are not the topic's \(partitions.sorted())")
        }
        return (milliseconds, nil)
    }

    // MARK: Commit phase

    private static func measureCommits(
        groupId: String, context: GroupRunContext, report: inout GroupBenchReport
    ) async throws -> GroupBenchReport.CommitResult {
        let config = context.config
        let coordinator = try await findCoordinator(groupId, context: context)
        report.coordinator = "\(coordinator.host):\(coordinator.port)"
        let members = try await GroupMembers.connect(
            count: config.committers, groupId: groupId, host: coordinator.host, port: coordinator.port,
            context: context)
        var result = GroupBenchReport.CommitResult(committers: config.committers, groupId: groupId)
        do {
            let outcomes = try await members.rebalance(leader: nil, timeout: context.roundTimeout)
            let (milliseconds, problem) = check(outcomes, partitions: context.layout.partitions, topic: config.topic)
            result.joinMs = milliseconds
            if let problem { throw BenchError(problem) }
            let assignments = outcomes.sorted { $0.memberIndex < $1.memberIndex }.map {
                $0.assignment.partitions(of: config.topic)
            }
            result.activeCommitters = assignments.filter { !$0.isEmpty }.count
            if result.activeCommitters < config.committers {
                context.notice(
                    "\(config.committers - result.activeCommitters) committers got no partitions "
                        + "(\(context.layout.partitions.count) partitions); they only heartbeat")
            }
            context.notice(
                "committing for \(config.commitsDuration.seconds) s with \(config.committers) members, "
                    + "in-flight \(config.inFlight)")
            let startedAt = NIODeadline.now()
            let deadline = startedAt + .nanoseconds(config.commitsDuration.nanosecondsClamped)
            let stats = try await members.commit(
                assignments: assignments, inFlight: config.inFlight, deadline: deadline,
                heartbeatInterval: .nanoseconds(config.heartbeatInterval.nanosecondsClamped))
            result.record(stats, elapsed: stats.finishedAt - startedAt)
            for (error, count) in stats.errors { report.count(error, times: count) }
            report.failures += stats.failures
            if stats.errors.isEmpty, stats.failures.isEmpty {
                result.offsetsVerified = try await verifyOffsets(
                    groupId: groupId, expected: stats.acknowledged, coordinator: coordinator, context: context,
                    report: &report)
            }
        } catch {
            report.count(error)
            await members.leaveAndClose(notice: context.notice)
            throw error
        }
        await members.leaveAndClose(notice: context.notice)
        return result
    }

    /// Reads the group's offsets back with OffsetFetch: each partition must hold the last offset
    /// the broker acknowledged, or the commits were acknowledged without being kept.
    private static func verifyOffsets(
        groupId: String, expected: [Int32: Int64], coordinator: (host: String, port: Int), context: GroupRunContext,
        report: inout GroupBenchReport
    ) async throws -> Bool {
        let client = try await SetupClient.connect(host: coordinator.host, port: coordinator.port, group: context.group)
        defer { Task { await client.close() } }
        let partitions = expected.keys.sorted()
        let request = OffsetFetchRequest(
            groups: [.init(groupId: groupId, topics: [.init(name: context.config.topic, partitionIndexes: partitions)])]
        )
        guard case .offsetFetch(let response) = try await client.send(request, version: context.versions.offsetFetch)
        else { throw BenchError("OffsetFetch answered with the wrong response type") }
        guard let fetched = response.groups.first else { throw BenchError("OffsetFetch answered no group") }
        if fetched.errorCode != .noError {
            report.count(ApiError(api: .offsetFetch, code: fetched.errorCode.rawValue))
            return false
        }
        var committed: [Int32: Int64] = [:]
        for topic in fetched.topics where topic.name == context.config.topic {
            for partition in topic.partitions {
                if partition.errorCode != .noError {
                    report.count(ApiError(api: .offsetFetch, code: partition.errorCode.rawValue))
                }
                committed[partition.partitionIndex] = partition.committedOffset
            }
        }
        let mismatches = partitions.filter { committed[$0] != expected[$0] }
        if !mismatches.isEmpty {
            report.failures.append(
                "OffsetFetch disagrees with the acknowledged commits: "
                    + mismatches.map {
                        "partition \($0) has \(committed[$0].map(String.init) ?? "nothing"), expected \(expected[$0]!)"
                    }
                    .joined(separator: "; "))
            return false
        }
        return true
    }

    // MARK: Coordinator

    /// Asks the bootstrap broker which broker coordinates `groupId`, retrying while the
    /// coordinator is still loading (a broker may need a moment to create its offsets store).
    private static func findCoordinator(_ groupId: String, context: GroupRunContext) async throws -> (
        host: String, port: Int
    ) {
        let client = try await SetupClient.connect(host: context.host, port: context.port, group: context.group)
        defer { Task { await client.close() } }
        let retryable: Set<ErrorCode> = [.coordinatorNotAvailable, .coordinatorLoadInProgress, .notCoordinator]
        var lastCode = ErrorCode.noError
        for _ in 0..<100 {
            let request = FindCoordinatorRequest(
                keyType: FindCoordinatorRequest.groupKeyType, coordinatorKeys: [groupId])
            guard
                case .findCoordinator(let response) = try await client.send(
                    request, version: context.versions.findCoordinator)
            else { throw BenchError("FindCoordinator answered with the wrong response type") }
            guard let coordinator = response.coordinators.first else {
                throw BenchError("FindCoordinator answered no coordinator")
            }
            if coordinator.errorCode == .noError {
                guard (1...65535).contains(coordinator.port) else {
                    throw BenchError("FindCoordinator named port \(coordinator.port)")
                }
                return (coordinator.host, Int(coordinator.port))
            }
            lastCode = coordinator.errorCode
            guard retryable.contains(coordinator.errorCode) else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw GroupRequestFailed(api: .findCoordinator, code: lastCode, memberIndex: -1)
    }
}

/// The connections of one group's simulated members, and the rounds run over them.
struct GroupMembers {
    let channels: [Channel]

    static func connect(
        count: Int, groupId: String, host: String, port: Int, context: GroupRunContext
    ) async throws -> GroupMembers {
        var channels: [Channel] = []
        do {
            for index in 0..<count {
                let plan = context.memberPlan(groupId: groupId, index: index)
                let channel = try await ClientBootstrap(group: context.eventLoopGroup)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connectTimeout(.seconds(10))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                            try channel.pipeline.syncOperations.addHandler(GroupMemberHandler(plan: plan))
                        }
                    }
                    .connect(host: host, port: port).get()
                channels.append(channel)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return GroupMembers(channels: channels)
    }

    /// Sends `make`'s command to member `index`; the promise fails if the connection closes
    /// first, so no caller waits on a member that is gone.
    private func order<Value: Sendable>(
        _ index: Int, _ make: (EventLoopPromise<Value>) -> GroupMemberCommand
    ) -> EventLoopFuture<Value> {
        let channel = channels[index]
        let promise = channel.eventLoop.makePromise(of: Value.self)
        channel.closeFuture.whenComplete { _ in promise.fail(BenchError("member \(index): connection closed")) }
        channel.pipeline.fireUserInboundEventTriggered(make(promise))
        return promise.futureResult
    }

    /// One rebalance: with no `leader` every member joins at once (the first round of a fresh
    /// group); otherwise the leader rejoins and the followers discover it by heartbeat. Returns
    /// once every member holds an assignment for the same generation.
    func rebalance(leader: Int?, timeout: TimeAmount) async throws -> [RebalanceOutcome] {
        let round = RebalanceRound(
            memberCount: channels.count, promise: channels[0].eventLoop.makePromise(of: [RebalanceOutcome].self))
        // Members that synced keep heartbeating happily while another never gets an answer it can
        // act on, so no single connection notices a round that cannot end.
        let watchdog = channels[0].eventLoop.scheduleTask(in: timeout) {
            round.fail(
                BenchError(
                    "the group did not settle within \(timeout.nanoseconds / 1_000_000_000) s: \(round.progress)"))
        }
        defer { watchdog.cancel() }
        for (index, channel) in channels.enumerated() {
            channel.closeFuture.whenComplete { _ in round.fail(BenchError("member \(index): connection closed")) }
            let command: GroupMemberCommand = leader == nil || leader == index ? .join(round) : .probeThenJoin(round)
            channel.pipeline.fireUserInboundEventTriggered(command)
        }
        do {
            let outcomes = try await round.futureResult.get()
            for channel in channels { channel.pipeline.fireUserInboundEventTriggered(GroupMemberCommand.endRound) }
            return outcomes
        } catch {
            // One member cannot finish, so the others would wait out the broker's timeouts.
            for channel in channels { channel.close(promise: nil) }
            throw error
        }
    }

    func commit(assignments: [[Int32]], inFlight: Int, deadline: NIODeadline, heartbeatInterval: TimeAmount)
        async throws -> CommitStats
    {
        let futures = channels.indices.map { index in
            order(index) { (promise: EventLoopPromise<CommitStats>) in
                .commit(
                    CommitLoad(
                        partitions: assignments[index], inFlight: inFlight, deadline: deadline,
                        heartbeatInterval: heartbeatInterval), promise)
            }
        }
        var merged = CommitStats()
        merged.finishedAt = .uptimeNanoseconds(0)
        for (index, future) in futures.enumerated() {
            do {
                merged.merge(try await future.get())
            } catch {
                merged.failures.append("member \(index): \(error)")
            }
        }
        return merged
    }

    /// LeaveGroup from every member (so the broker need not wait out their sessions), then close.
    func leaveAndClose(notice: @Sendable (String) -> Void) async {
        let futures = channels.indices.filter { channels[$0].isActive }.map { index in
            (index, order(index) { (promise: EventLoopPromise<ErrorCode>) in .leave(promise) })
        }
        var refused: [ErrorCode: Int] = [:]
        for (_, future) in futures {
            if let code = try? await future.get(), code != .noError { refused[code, default: 0] += 1 }
        }
        if !refused.isEmpty {
            notice("LeaveGroup answered " + refused.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        }
        for channel in channels { try? await channel.close() }
    }
}

/// What every phase of a group benchmark run needs.
struct GroupRunContext: Sendable {
    var config: GroupBenchConfig
    var host: String
    var port: Int
    var group: EventLoopGroup
    var versions: GroupVersions
    var layout: TopicLayout
    var subscription: ByteBuffer
    var notice: @Sendable (String) -> Void

    var eventLoopGroup: EventLoopGroup { group }

    /// The longest a round may take: a whole join phase, a session for the sync, and slack.
    var roundTimeout: TimeAmount {
        .nanoseconds(config.rebalanceTimeout.nanosecondsClamped + config.sessionTimeout.nanosecondsClamped)
            + .seconds(15)
    }

    func memberPlan(groupId: String, index: Int) -> GroupMemberPlan {
        GroupMemberPlan(
            groupId: groupId, topic: config.topic, partitions: layout.partitions, memberIndex: index,
            versions: versions, sessionTimeoutMs: Int32(clamping: config.sessionTimeout.milliseconds),
            rebalanceTimeoutMs: Int32(clamping: config.rebalanceTimeout.milliseconds), subscription: subscription,
            probeInterval: .nanoseconds(config.probeInterval.nanosecondsClamped),
            leaderSyncDelay: .nanoseconds(config.leaderSyncDelay.nanosecondsClamped))
    }
}

extension SetupClient {
    /// The topic's layout, creating it first if needed: with CreateTopics where the broker has it,
    /// otherwise with an auto-creating Metadata request (librdkafka's mock cluster has no
    /// CreateTopics but creates topics on first use).
    func ensureTopic(_ topic: String, partitions: Int?, versions: NegotiatedVersions, notice: (String) -> Void)
        async throws -> TopicLayout
    {
        let (code, existing) = try await describeTopic(topic, versions: versions)
        if code == .noError, !existing.partitions.isEmpty {
            if let partitions, partitions != existing.partitions.count {
                notice(
                    "topic \(topic) exists with \(existing.partitions.count) partitions; --partitions \(partitions) ignored"
                )
            }
            return existing
        }
        guard code == .unknownTopicOrPartition || code == .leaderNotAvailable || code == .noError else {
            throw BenchError("Metadata for \(topic): \(code) (\(code.rawValue))")
        }
        if (try? versions.version(of: .createTopics)) != nil {
            let layout = try await createTopic(topic, partitions: partitions, versions: versions)
            notice("created topic \(topic) with \(layout.partitions.count) partitions")
            return layout
        }
        let version = try versions.version(of: .metadata, minimum: 4)
        for _ in 0..<50 {
            let request = MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: true)
            guard case .metadata(let response) = try await send(request, version: version) else {
                throw BenchError("Metadata answered with the wrong response type")
            }
            if let entry = response.topics.first(where: { $0.name == topic }), entry.errorCode == .noError,
                !entry.partitions.isEmpty
            {
                notice("topic \(topic) auto-created with \(entry.partitions.count) partitions")
                if let partitions, partitions != entry.partitions.count {
                    notice("the broker has no CreateTopics; --partitions \(partitions) ignored")
                }
                return TopicLayout(
                    partitions: entry.partitions.map(\.partitionIndex).sorted(), brokerCount: response.brokers.count)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("topic \(topic) does not exist and the broker did not auto-create it")
    }
}

extension Duration {
    var milliseconds: Int64 { nanosecondsClamped / 1_000_000 }
}

extension SetupClient {
    /// ApiVersions v3, then again at the broker's own highest version when it refuses v3: the
    /// refusal lists the broker's ranges in the v0 layout (KIP-511). librdkafka's mock cluster
    /// answers this way, being older than ApiVersions v3.
    func negotiateVersions() async throws -> NegotiatedVersions {
        let first = try await apiVersions()
        guard first.errorCode == .unsupportedVersion else { return try NegotiatedVersions(first) }
        let offered = first.apiKeys.first { $0.apiKey == ApiKey.apiVersions.rawValue }?.maxVersion ?? 0
        let version = max(0, min(offered, 2))
        let request = ApiVersionsRequest(clientSoftwareName: "skein-bench", clientSoftwareVersion: "1")
        guard case .apiVersions(let second) = try await send(request, version: version) else {
            throw BenchError("ApiVersions answered with the wrong response type")
        }
        return try NegotiatedVersions(second)
    }
}
