import Logging
import NIOCore
import SkeinProtocol

/// A consumer group member's identity, passed with offsets to `sendOffsetsToTransaction` so the
/// group coordinator can refuse a commit from a member that has lost its partitions (KIP-447).
/// Kafka's `ConsumerGroupMetadata`; `GroupConsumer.groupMetadata()` gives the current one.
public struct ConsumerGroupMetadata: Sendable, Equatable {
    public var groupId: String
    /// -1 when unknown, which the coordinator accepts without the zombie check.
    public var generationId: Int32
    public var memberId: String
    public var groupInstanceId: String?

    public init(groupId: String, generationId: Int32 = -1, memberId: String = "", groupInstanceId: String? = nil) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
    }
}

/// The transactional half of a producer with `transactional.id`: its state machine and every call
/// to the transaction coordinator (and, for offsets, the group coordinator).
///
/// The producer asks it for the producer id and epoch, and to register each partition before the
/// first batch to it in a transaction (AddPartitionsToTxn), and reports batches that failed for
/// good, which leave the transaction only abortable. Coordinator answers that mean "busy" or
/// "moved" are retried with backoff for up to `maxBlock`, as Kafka's clients do.
actor TransactionManager {
    enum State: Equatable {
        case uninitialized
        case ready
        case inTransaction
        /// Part of the transaction failed; only `abortTransaction` (or `initTransactions`) helps.
        case abortRequired(KafkaClientError)
        /// Fenced: nothing but closing helps.
        case fatal(KafkaClientError)
    }

    private struct CoordinatorKey: Hashable {
        var keyType: Int8
        var key: String
    }

    /// Answers that say "try again shortly" for every coordinator call here. An unknown topic is
    /// among them, as in Java's client: metadata of a topic just created may not have reached the
    /// coordinator yet.
    private static let busyCodes: Set<ErrorCode> = [
        .concurrentTransactions, .coordinatorLoadInProgress, .coordinatorNotAvailable, .notCoordinator,
        .requestTimedOut, .unknownTopicOrPartition,
    ]
    private static let fencedCodes: Set<ErrorCode> = [.producerFenced, .invalidProducerEpoch]
    /// A bound on attempts besides `maxBlock`, so a broker answering instantly cannot spin us.
    private static let maximumAttempts = 10_000

    let transactionalId: String
    private let configuration: ProducerConfiguration
    private let metadata: ClusterMetadata
    private let logger: Logger
    private(set) var state = State.uninitialized
    private var identity: ProducerIdentity?
    private var coordinators: [CoordinatorKey: KafkaConnection] = [:]
    /// Connections opened here because metadata did not know the coordinator's node; closed by `close`.
    private var ownedConnections: [KafkaConnection] = []
    private var addedPartitions: Set<TopicPartition> = []
    private var pendingAdds: [TopicPartition: Task<Void, any Error>] = [:]
    private var addedOffsetGroups: Set<String> = []

    init(transactionalId: String, configuration: ProducerConfiguration, metadata: ClusterMetadata, logger: Logger) {
        self.transactionalId = transactionalId
        self.configuration = configuration
        self.metadata = metadata
        self.logger = logger
    }

    // MARK: State

    /// InitProducerId with the transactional id: the coordinator aborts whatever the previous
    /// producer with this id left open, bumps the epoch (fencing that producer) and hands us the
    /// id and epoch to write with.
    func initialize() async throws -> ProducerIdentity {
        switch state {
        case .uninitialized, .ready, .abortRequired: break
        case .inTransaction:
            throw KafkaClientError.invalidTransactionState("initTransactions while a transaction is open")
        case .fatal(let error): throw error
        }
        let request = InitProducerIdRequest(
            transactionalId: transactionalId, transactionTimeoutMs: configuration.transactionTimeoutMs)
        let response = try await call("InitProducerId", .transaction) { connection in
            let response = try await connection.send(request)
            return (response.errorCode, response)
        }
        let identity = ProducerIdentity(producerId: response.producerId, producerEpoch: response.producerEpoch)
        logger.debug(
            "transactional id \(transactionalId): producer id \(identity.producerId), epoch \(identity.producerEpoch)")
        self.identity = identity
        clearTransaction()
        state = .ready
        return identity
    }

    func currentIdentity() throws(KafkaClientError) -> ProducerIdentity {
        if case .fatal(let error) = state { throw error }
        guard let identity else { throw .invalidTransactionState("call initTransactions first") }
        return identity
    }

    func begin() throws(KafkaClientError) {
        switch state {
        case .ready: state = .inTransaction
        case .uninitialized: throw .invalidTransactionState("call initTransactions before beginTransaction")
        case .inTransaction: throw .invalidTransactionState("a transaction is already open")
        case .abortRequired(let error):
            throw .transactionAbortRequired("the previous transaction failed (\(error)); abort it first")
        case .fatal(let error): throw error
        }
    }

    /// Whether records may be sent now: only inside an open, healthy transaction.
    func checkSendable() throws(KafkaClientError) {
        switch state {
        case .inTransaction: return
        case .uninitialized: throw .invalidTransactionState("call initTransactions and beginTransaction first")
        case .ready: throw .invalidTransactionState("no transaction is open: call beginTransaction first")
        case .abortRequired(let error): throw .transactionAbortRequired("\(error)")
        case .fatal(let error): throw error
        }
    }

    /// A batch of the open transaction failed for good: the transaction can no longer commit.
    func batchFailed(_ error: KafkaClientError) {
        fail(with: error)
    }

    /// Records what a failure means for the transaction and returns the error to report.
    @discardableResult
    private func fail(with error: KafkaClientError) -> KafkaClientError {
        switch state {
        case .fatal: break
        case _ where Self.isFenced(error): state = .fatal(error)
        case .inTransaction: state = .abortRequired(error)
        default: break
        }
        return error
    }

    private static func isFenced(_ error: KafkaClientError) -> Bool {
        if case .producerFenced = error { return true }
        return false
    }

    private func clearTransaction() {
        addedPartitions = []
        addedOffsetGroups = []
    }

    // MARK: Partitions and offsets

    /// Registers `partition` in the open transaction once (AddPartitionsToTxn), before its first
    /// batch: the coordinator must know every partition to write the commit or abort marker to.
    func ensureAdded(_ partition: TopicPartition) async throws {
        try checkSendable()
        if addedPartitions.contains(partition) { return }
        if let pending = pendingAdds[partition] { return try await pending.value }
        let task = Task { try await self.add(partition) }
        pendingAdds[partition] = task
        defer { pendingAdds[partition] = nil }
        try await task.value
    }

    private func add(_ partition: TopicPartition) async throws {
        let identity = try currentIdentity()
        let request = AddPartitionsToTxnRequest(
            transactionalId: transactionalId, producerId: identity.producerId, producerEpoch: identity.producerEpoch,
            topics: [.init(name: partition.topic, partitions: [partition.partition])])
        do {
            _ = try await call("AddPartitionsToTxn for \(partition)", .transaction) { connection in
                let response = try await connection.send(request)
                let code =
                    response.topics.first { $0.name == partition.topic }?.partitions
                    .first { $0.partitionIndex == partition.partition }?.errorCode ?? .unknownServerError
                return (code, response)
            }
        } catch let error as KafkaClientError {
            throw fail(with: error)
        }
        addedPartitions.insert(partition)
    }

    /// AddOffsetsToTxn (once per group and transaction), then TxnOffsetCommit to the group's
    /// coordinator: the offsets become the group's committed offsets if and when the transaction
    /// commits.
    func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) async throws {
        try checkSendable()
        let identity = try currentIdentity()
        do {
            if !addedOffsetGroups.contains(group.groupId) {
                let request = AddOffsetsToTxnRequest(
                    transactionalId: transactionalId, producerId: identity.producerId,
                    producerEpoch: identity.producerEpoch, groupId: group.groupId)
                _ = try await call("AddOffsetsToTxn for group \(group.groupId)", .transaction) { connection in
                    let response = try await connection.send(request)
                    return (response.errorCode, response)
                }
                addedOffsetGroups.insert(group.groupId)
            }
            guard !offsets.isEmpty else { return }
            let topics = Dictionary(grouping: offsets, by: \.key.topic).sorted { $0.key < $1.key }.map {
                topic, entries in
                TxnOffsetCommitRequest.Topic(
                    name: topic,
                    partitions: entries.sorted { $0.key.partition < $1.key.partition }.map {
                        .init(partitionIndex: $0.key.partition, committedOffset: $0.value)
                    })
            }
            let request = TxnOffsetCommitRequest(
                transactionalId: transactionalId, groupId: group.groupId, producerId: identity.producerId,
                producerEpoch: identity.producerEpoch, generationId: group.generationId, memberId: group.memberId,
                groupInstanceId: group.groupInstanceId, topics: topics)
            _ = try await call("TxnOffsetCommit for group \(group.groupId)", .group(group.groupId)) { connection in
                let response = try await connection.send(request)
                let codes = response.topics.flatMap { $0.partitions.map(\.errorCode) }
                return (codes.first { $0 != .noError } ?? .noError, response)
            }
        } catch let error as KafkaClientError {
            throw fail(with: error)
        }
    }

    /// EndTxn, after the producer has flushed. A transaction that registered nothing needs no call
    /// (the coordinator would answer INVALID_TXN_STATE), as in Kafka's clients.
    func end(commit: Bool) async throws {
        switch state {
        case .inTransaction: break
        case .abortRequired(let error):
            if commit { throw KafkaClientError.transactionAbortRequired("\(error)") }
        case .fatal(let error): throw error
        case .uninitialized, .ready:
            throw KafkaClientError.invalidTransactionState("no transaction is open: call beginTransaction first")
        }
        if !addedPartitions.isEmpty || !addedOffsetGroups.isEmpty {
            let identity = try currentIdentity()
            let request = EndTxnRequest(
                transactionalId: transactionalId, producerId: identity.producerId,
                producerEpoch: identity.producerEpoch, committed: commit)
            do {
                _ = try await call(commit ? "EndTxn (commit)" : "EndTxn (abort)", .transaction) { connection in
                    let response = try await connection.send(request)
                    return (response.errorCode, response)
                }
            } catch let error as KafkaClientError {
                // A commit that failed outright can still be aborted; a timed-out call may be repeated.
                if Self.isFenced(error) {
                    state = .fatal(error)
                } else if commit, case .broker = error {
                    state = .abortRequired(error)
                }
                throw error
            }
        }
        clearTransaction()
        state = .ready
    }

    func close() async {
        for connection in ownedConnections { await connection.close() }
        ownedConnections = []
        coordinators = [:]
    }

    // MARK: Coordinator calls

    private enum Target {
        case transaction
        case group(String)
    }

    /// Runs `send` against the coordinator until it answers without error, fails for good, or
    /// `maxBlock` has passed. `send` returns the answer's error code with the answer.
    private func call<Response>(
        _ what: String, _ target: Target, _ send: (KafkaConnection) async throws -> (ErrorCode, Response)
    ) async throws -> Response {
        let key: CoordinatorKey
        switch target {
        case .transaction:
            key = CoordinatorKey(keyType: FindCoordinatorRequest.transactionKeyType, key: transactionalId)
        case .group(let groupId): key = CoordinatorKey(keyType: FindCoordinatorRequest.groupKeyType, key: groupId)
        }
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.maxBlock
        var attempts = 0
        while true {
            attempts += 1
            let problem: String
            var answered: ErrorCode?
            do {
                let connection = try await coordinator(for: key)
                let (code, response) = try await send(connection)
                if code == .noError { return response }
                answered = code
                problem = "\(code)"
            } catch let error as KafkaClientError where error.isRetriable {
                // The connection or the coordinator lookup failed: look the coordinator up again.
                coordinators[key] = nil
                problem = "\(error)"
            }
            if let code = answered {
                if Self.fencedCodes.contains(code) {
                    throw KafkaClientError.producerFenced(
                        "\(what): a newer producer with transactional.id \(transactionalId) has started (\(code))")
                }
                guard Self.busyCodes.contains(code) else { throw KafkaClientError.broker(code, context: what) }
                if code == .notCoordinator || code == .coordinatorNotAvailable { coordinators[key] = nil }
            }
            guard attempts < Self.maximumAttempts, clock.now < deadline else {
                throw KafkaClientError.timedOut("\(what): still \(problem) after \(configuration.maxBlock)")
            }
            logger.debug("\(what): \(problem), retrying")
            try await Task.sleep(for: backoff(afterFailures: attempts))
        }
    }

    /// Starts at 20 ms, as Java does for CONCURRENT_TRANSACTIONS (the previous transaction's
    /// markers are usually written within milliseconds), doubling up to `retryBackoffMax`.
    private func backoff(afterFailures failures: Int) -> Duration {
        var delay = Duration.milliseconds(20)
        for _ in 1..<max(failures, 1) where delay < configuration.retryBackoffMax { delay *= 2 }
        return min(delay, configuration.retryBackoffMax)
    }

    private func coordinator(for key: CoordinatorKey) async throws -> KafkaConnection {
        if let known = coordinators[key], known.isActive { return known }
        let connection = try await metadata.anyConnection()
        let response = try await connection.send(
            FindCoordinatorRequest(keyType: key.keyType, coordinatorKeys: [key.key]), minimumVersion: 1)
        guard let found = response.coordinators.first else {
            throw KafkaClientError.unexpectedResponse("FindCoordinator did not answer for \(key.key)")
        }
        guard found.errorCode == .noError else {
            throw KafkaClientError.broker(found.errorCode, context: "FindCoordinator for \(key.key)")
        }
        let coordinator: KafkaConnection
        if let shared = try? await metadata.connection(toNode: found.nodeId) {
            coordinator = shared
        } else {
            coordinator = try await KafkaConnection.connect(
                host: found.host, port: Int(found.port), clientId: configuration.clientId,
                security: metadata.security, tlsContext: metadata.tlsContext)
            ownedConnections.append(coordinator)
        }
        coordinators[key] = coordinator
        return coordinator
    }
}
