import Logging
import NIOCore
import SkeinProtocol

/// Settings for consumer group membership, named after Kafka's consumer configs.
public struct GroupConsumerConfiguration: Sendable {
    /// How long the coordinator waits for a heartbeat before evicting the member (`session.timeout.ms`).
    public var sessionTimeout: Duration = .seconds(10)
    /// How long a rebalance waits for every member to rejoin (`max.poll.interval.ms` in Java).
    public var rebalanceTimeout: Duration = .seconds(30)
    /// Between heartbeats (`heartbeat.interval.ms`); a third of the session timeout or less.
    public var heartbeatInterval: Duration = .seconds(1)
    /// How often `poll` commits the positions of records it already returned (`auto.commit.interval.ms`
    /// with `enable.auto.commit`); nil commits only when told, on rebalance and on close. Committing
    /// at the start of the next poll, not right after a fetch, keeps delivery at-least-once.
    public var autoCommitInterval: Duration? = .seconds(5)
    /// `enable.auto.commit`: false commits only on `commit()`, never on its own (not on poll, rebalance
    /// or close). What a consume-transform-produce loop needs, whose offsets go to
    /// `Producer.sendOffsetsToTransaction` instead.
    public var enableAutoCommit = true
    /// Where a partition without a committed offset starts.
    public var startWithoutCommit: OffsetSpec = .beginning
    public var consumer = ConsumerConfiguration()

    public init() {}
}

/// A member of a consumer group using the classic protocol (JoinGroup/SyncGroup/Heartbeat) with
/// the range assignor, so it can share partitions with Java, librdkafka and Python consumers of
/// the same group. Rebalances are eager: before rejoining the member commits its positions and
/// gives up all partitions, and the next owner continues from the committed offsets.
public actor GroupConsumer {
    public let groupId: String
    public let topics: [String]
    public let configuration: GroupConsumerConfiguration
    private let metadata: ClusterMetadata
    private let consumer: Consumer
    private let logger: Logger
    private var coordinator: KafkaConnection?
    private var memberId = ""
    private var generationId: Int32 = -1
    private var needsRejoin = true
    private var heartbeat: Task<Void, Never>?
    private var isClosed = false
    private var lastCommit = ContinuousClock.now
    public private(set) var assignment: [TopicPartition] = []

    public init(
        bootstrapServers: [String], groupId: String, topics: [String],
        configuration: GroupConsumerConfiguration = GroupConsumerConfiguration(),
        logger: Logger = Logger(label: "skein-group-consumer"), security: ClientSecurity = .plaintext
    ) throws {
        self.groupId = groupId
        self.topics = topics
        self.configuration = configuration
        self.logger = logger
        metadata = try ClusterMetadata(
            bootstrapServers: bootstrapServers, clientId: configuration.consumer.clientId, logger: logger,
            security: security)
        consumer = Consumer(metadata: metadata, configuration: configuration.consumer, logger: logger)
    }

    /// Records from the partitions currently assigned, joining (or rejoining after a rebalance)
    /// first when needed.
    public func poll() async throws -> [ConsumerRecord] {
        guard !isClosed else { throw KafkaClientError.closed }
        if needsRejoin {
            try await rejoin()
        } else if configuration.enableAutoCommit, let interval = configuration.autoCommitInterval,
            ContinuousClock.now - lastCommit >= interval
        {
            await commitLoggingFailure(when: "auto-committing")
        }
        return try await consumer.poll()
    }

    /// This member's identity in the group, for `Producer.sendOffsetsToTransaction`.
    public func groupMetadata() -> ConsumerGroupMetadata {
        ConsumerGroupMetadata(groupId: groupId, generationId: generationId, memberId: memberId)
    }

    /// The next offset this member will read from `partition`, if it is assigned.
    public func position(of partition: TopicPartition) async -> Int64? {
        await consumer.position(of: partition)
    }

    /// Moves the next read (and what the next commit records) of an assigned partition.
    public func seek(_ partition: TopicPartition, to offset: Int64) async throws {
        try await consumer.seek(partition, to: .offset(offset))
    }

    /// Where this member has read everything its isolation level shows (see `Consumer.endOffset(of:)`).
    public func endOffset(of partition: TopicPartition) async -> Int64? {
        await consumer.endOffset(of: partition)
    }

    /// The log end offset the last Fetch reported for `partition`.
    public func highWatermark(of partition: TopicPartition) async -> Int64? {
        await consumer.highWatermarks[partition]
    }

    /// Commits the positions (next offsets to read) of every assigned partition.
    public func commit() async throws {
        guard generationId >= 0, !assignment.isEmpty else { return }
        lastCommit = ContinuousClock.now
        let coordinator = try await coordinatorConnection()
        var byTopic: [String: [OffsetCommitRequest.Partition]] = [:]
        for partition in assignment {
            guard let position = await consumer.position(of: partition) else { continue }
            byTopic[partition.topic, default: []].append(
                .init(partitionIndex: partition.partition, committedOffset: position))
        }
        let request = OffsetCommitRequest(
            groupId: groupId, generationIdOrMemberEpoch: generationId, memberId: memberId,
            topics: byTopic.map { .init(name: $0.key, partitions: $0.value) })
        let response = try await coordinator.send(request)
        for topic in response.topics {
            for partition in topic.partitions where partition.errorCode != .noError {
                if [.rebalanceInProgress, .illegalGeneration, .unknownMemberId].contains(partition.errorCode) {
                    needsRejoin = true
                }
                throw KafkaClientError.broker(
                    partition.errorCode, context: "OffsetCommit \(topic.name)-\(partition.partitionIndex)")
            }
        }
    }

    /// The committed offsets of `partitions` in this group; partitions without one are left out.
    ///
    /// A read_committed member asks for stable offsets (KIP-447, as the Java consumer does): while a
    /// transaction that will commit an offset for a partition is still open, the broker answers
    /// UNSTABLE_OFFSET_COMMIT and the fetch is retried, so a member taking the partition over resumes after
    /// that transaction, not before it (which would produce its outputs twice).
    public func committedOffsets(for partitions: [TopicPartition]) async throws -> [TopicPartition: Int64] {
        let coordinator = try await coordinatorConnection()
        let topics = Dictionary(grouping: partitions, by: \.topic).map { topic, members in
            OffsetFetchRequest.Topic(name: topic, partitionIndexes: members.map(\.partition))
        }
        let requireStable = configuration.consumer.isolationLevel == .readCommitted
        let deadline = ContinuousClock.now + configuration.rebalanceTimeout
        var response: OffsetFetchResponse
        while true {
            response = try await coordinator.send(
                OffsetFetchRequest(groups: [.init(groupId: groupId, topics: topics)], requireStable: requireStable))
            let unstable = response.groups.first?.topics.contains { topic in
                topic.partitions.contains { $0.errorCode == .unstableOffsetCommit }
            }
            guard unstable == true else { break }
            guard ContinuousClock.now < deadline else {
                throw KafkaClientError.timedOut(
                    "OffsetFetch for \(groupId): a transaction kept its offsets unstable past the rebalance timeout")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let group = response.groups.first else {
            throw KafkaClientError.unexpectedResponse("OffsetFetch without the group")
        }
        guard group.errorCode == .noError else {
            throw KafkaClientError.broker(group.errorCode, context: "OffsetFetch for \(groupId)")
        }
        var offsets: [TopicPartition: Int64] = [:]
        for topic in group.topics {
            for partition in topic.partitions where partition.errorCode == .noError && partition.committedOffset >= 0 {
                offsets[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] =
                    partition.committedOffset
            }
        }
        return offsets
    }

    /// Commits, leaves the group so the others rebalance at once instead of after the session
    /// timeout, and closes the connections.
    public func close() async {
        guard !isClosed else { return }
        isClosed = true
        heartbeat?.cancel()
        if generationId >= 0 {
            if configuration.enableAutoCommit { await commitLoggingFailure(when: "leaving") }
            if let coordinator {
                _ = try? await coordinator.send(
                    LeaveGroupRequest(groupId: groupId, members: [.init(memberId: memberId)]))
            }
        }
        await coordinator?.close()
        await consumer.close()
        await metadata.close()
    }

    // MARK: Membership

    private func rejoin() async throws {
        if generationId >= 0, configuration.enableAutoCommit {
            // Eager rebalancing: hand over what was read so far before giving the partitions up.
            await commitLoggingFailure(when: "rebalancing")
        }
        heartbeat?.cancel()
        heartbeat = nil
        assignment = []
        try await consumer.assign([])
        let deadline = ContinuousClock.now + configuration.rebalanceTimeout + configuration.sessionTimeout
        var lastError: (any Error)?
        while ContinuousClock.now < deadline {
            do {
                try await joinAndSync()
                needsRejoin = false
                startHeartbeat()
                return
            } catch let error as KafkaClientError {
                lastError = error
                guard error.isRetriable || isRejoinable(error) else { throw error }
                logger.debug("group \(groupId): join failed, retrying: \(error)")
                // A rejoin request is answered at once; anything else (no coordinator yet, a dead
                // connection) needs the cluster to change first.
                if !isRejoinable(error) { try await Task.sleep(for: .milliseconds(100)) }
            }
        }
        throw lastError ?? KafkaClientError.timedOut("joining group \(groupId)")
    }

    /// A failed commit here means the next owner re-reads from the last commit: duplicates, not
    /// loss, so it is worth a warning but must not stop the member leaving or rejoining.
    private func commitLoggingFailure(when situation: String) async {
        do {
            try await commit()
        } catch {
            logger.warning("group \(groupId): commit while \(situation) failed: \(error)")
        }
    }

    private func isRejoinable(_ error: KafkaClientError) -> Bool {
        guard case .broker(let code, _) = error else { return false }
        return [.memberIdRequired, .unknownMemberId, .rebalanceInProgress, .illegalGeneration].contains(code)
    }

    private func joinAndSync() async throws {
        let coordinator = try await coordinatorConnection()
        let subscription = try ConsumerSubscription(topics: topics).encoded()
        let join = JoinGroupRequest(
            groupId: groupId, sessionTimeoutMs: Self.milliseconds(configuration.sessionTimeout),
            rebalanceTimeoutMs: Self.milliseconds(configuration.rebalanceTimeout), memberId: memberId,
            protocolType: "consumer", protocols: [.init(name: RangeAssignor.protocolName, metadata: subscription)])
        let joinVersion = try coordinator.versions.version(of: .joinGroup)
        let joined = try await coordinator.send(
            join, version: joinVersion,
            timeout: .milliseconds(Int64(Self.milliseconds(configuration.rebalanceTimeout))) + .seconds(10))
        switch joined.errorCode {
        case .noError:
            break
        case .memberIdRequired:
            memberId = joined.memberId
            throw KafkaClientError.broker(.memberIdRequired, context: "JoinGroup \(groupId)")
        case .unknownMemberId:
            memberId = ""
            throw KafkaClientError.broker(.unknownMemberId, context: "JoinGroup \(groupId)")
        case let code:
            if [.notCoordinator, .coordinatorNotAvailable].contains(code) { await dropCoordinator() }
            throw KafkaClientError.broker(code, context: "JoinGroup \(groupId)")
        }
        memberId = joined.memberId
        generationId = joined.generationId

        var assignments: [SyncGroupRequest.Assignment] = []
        if joined.leader == joined.memberId {
            assignments = try await assignPartitions(members: joined.members)
        }
        let sync = SyncGroupRequest(
            groupId: groupId, generationId: generationId, memberId: memberId, protocolType: "consumer",
            protocolName: joined.protocolName ?? RangeAssignor.protocolName, assignments: assignments)
        let synced = try await coordinator.send(sync)
        guard synced.errorCode == .noError else {
            if synced.errorCode == .unknownMemberId { memberId = "" }
            throw KafkaClientError.broker(synced.errorCode, context: "SyncGroup \(groupId)")
        }
        let assigned = try ConsumerAssignment.decode(synced.assignment)
        let partitions = assigned.assigned.flatMap { entry in
            entry.partitions.map { TopicPartition(topic: entry.topic, partition: $0) }
        }
        let committed = try await committedOffsets(for: partitions)
        try await consumer.assign(partitions, from: configuration.startWithoutCommit)
        for (partition, offset) in committed { try await consumer.seek(partition, to: .offset(offset)) }
        assignment = partitions
        logger.info("group \(groupId) generation \(generationId): assigned \(partitions)")
    }

    /// The leader's job: the range assignment over every member's subscription.
    private func assignPartitions(members: [JoinGroupResponse.Member]) async throws -> [SyncGroupRequest.Assignment] {
        var subscriptions: [String: [String]] = [:]
        for member in members {
            subscriptions[member.memberId] = try ConsumerSubscription.decode(member.metadata).topics
        }
        var partitionsByTopic: [String: [Int32]] = [:]
        for topic in Set(subscriptions.values.flatMap { $0 }) {
            let count = try await metadata.partitionCount(of: topic)
            partitionsByTopic[topic] = (0..<Int32(count)).map { $0 }
        }
        return try RangeAssignor.assign(partitionsByTopic: partitionsByTopic, subscriptions: subscriptions)
            .map { member, assignment in .init(memberId: member, assignment: try assignment.encoded()) }
    }

    private func startHeartbeat() {
        let interval = configuration.heartbeatInterval
        let request = HeartbeatRequest(groupId: groupId, generationId: generationId, memberId: memberId)
        heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                await self.sendHeartbeat(request)
            }
        }
    }

    private func sendHeartbeat(_ request: HeartbeatRequest) async {
        guard request.generationId == generationId, !needsRejoin else { return }
        do {
            let response = try await coordinatorConnection().send(request)
            switch response.errorCode {
            case .noError:
                return
            case .unknownMemberId, .fencedInstanceId:
                memberId = ""
                fallthrough
            case .rebalanceInProgress, .illegalGeneration:
                logger.info("group \(groupId): \(response.errorCode), rejoining on the next poll")
                needsRejoin = true
            case .notCoordinator, .coordinatorNotAvailable:
                await dropCoordinator()
            default:
                logger.warning("group \(groupId): heartbeat answered \(response.errorCode)")
            }
        } catch {
            logger.debug("group \(groupId): heartbeat failed: \(error)")
            await dropCoordinator()
        }
    }

    private func coordinatorConnection() async throws -> KafkaConnection {
        if let coordinator, coordinator.isActive { return coordinator }
        let connection = try await metadata.anyConnection()
        let response = try await connection.send(FindCoordinatorRequest(coordinatorKeys: [groupId]))
        guard let found = response.coordinators.first else {
            throw KafkaClientError.unexpectedResponse("FindCoordinator without an answer")
        }
        guard found.errorCode == .noError else {
            throw KafkaClientError.broker(found.errorCode, context: "FindCoordinator \(groupId)")
        }
        let coordinator = try await KafkaConnection.connect(
            host: found.host, port: Int(found.port), clientId: metadata.clientId, security: metadata.security,
            tlsContext: metadata.tlsContext)
        self.coordinator = coordinator
        return coordinator
    }

    private func dropCoordinator() async {
        await coordinator?.close()
        coordinator = nil
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
