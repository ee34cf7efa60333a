import SkeinProtocol

/// Why a client operation failed, with enough context to decide whether retrying can help.
public enum KafkaClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broker answered with a Kafka error code.
    case broker(ErrorCode, context: String)
    /// The connection closed or failed before the answer arrived.
    case connectionClosed(String)
    /// The broker and this client share no version of an API the operation needs.
    case noCommonVersion(ApiKey, String)
    /// Metadata does not know the topic or partition (yet).
    case unknownTopicOrPartition(topic: String, partition: Int32?)
    /// The broker's answer did not match the request (wrong API, unknown correlation id, missing partition).
    case unexpectedResponse(String)
    /// No bootstrap server could be reached.
    case bootstrapFailed(String)
    /// A bounded wait ran out.
    case timedOut(String)
    /// The producer or consumer was closed while the operation was pending.
    case closed
    /// The configuration cannot work (e.g. idempotence without acks=all).
    case invalidConfiguration(String)
    /// The broker refused the SASL login (wrong password, unknown mechanism).
    case authentication(String)
    /// Another producer with the same `transactional.id` has started (PRODUCER_FENCED or
    /// INVALID_PRODUCER_EPOCH): this producer can do nothing more and must be closed.
    case producerFenced(String)
    /// The transaction cannot commit because part of it failed; `abortTransaction` and start again.
    case transactionAbortRequired(String)
    /// A transactional call in the wrong state (send before `beginTransaction`, commit without a
    /// transaction, a producer without `transactional.id`).
    case invalidTransactionState(String)

    /// Whether the same operation may succeed if tried again after a metadata refresh and backoff.
    public var isRetriable: Bool {
        switch self {
        case .broker(let code, _): code.isRetriable || code == .outOfOrderSequenceNumber
        case .connectionClosed, .unknownTopicOrPartition, .timedOut, .bootstrapFailed: true
        default: false
        }
    }

    /// Whether leadership may have moved, so routing must be looked up again before retrying.
    var invalidatesMetadata: Bool {
        switch self {
        case .broker(let code, _):
            [
                .notLeaderOrFollower, .leaderNotAvailable, .unknownTopicOrPartition, .fencedLeaderEpoch,
                .unknownLeaderEpoch, .kafkaStorageError,
            ].contains(code)
        case .connectionClosed, .unknownTopicOrPartition, .bootstrapFailed: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .broker(let code, let context): "\(context): broker error \(code) (\(code.rawValue))"
        case .connectionClosed(let why): "connection closed: \(why)"
        case .noCommonVersion(let api, let detail): "no common \(api.description) version: \(detail)"
        case .unknownTopicOrPartition(let topic, let partition):
            "unknown topic or partition \(topic)\(partition.map { "-\($0)" } ?? "")"
        case .unexpectedResponse(let detail): "unexpected response: \(detail)"
        case .bootstrapFailed(let detail): "bootstrap failed: \(detail)"
        case .timedOut(let what): "timed out: \(what)"
        case .closed: "closed"
        case .invalidConfiguration(let detail): "invalid configuration: \(detail)"
        case .authentication(let detail): "authentication failed: \(detail)"
        case .producerFenced(let detail): "producer fenced: \(detail)"
        case .transactionAbortRequired(let detail): "transaction must be aborted: \(detail)"
        case .invalidTransactionState(let detail): "invalid transaction state: \(detail)"
        }
    }
}
