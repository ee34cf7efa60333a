import SkeinLog

/// What the coordinator knows about one transactional id. The whole value is written to the transaction log
/// on every change, so a restart finds each id as it was after its last acknowledged request.
struct TransactionMetadata: Codable, Equatable, Sendable {
    /// Kafka's coordinator states, minus the ones that only exist for replication.
    enum State: String, Codable, Sendable {
        case empty, ongoing, prepareCommit, prepareAbort, completeCommit, completeAbort

        /// The names DescribeTransactions and ListTransactions use.
        var kafkaName: String {
            switch self {
            case .empty: "Empty"
            case .ongoing: "Ongoing"
            case .prepareCommit: "PrepareCommit"
            case .prepareAbort: "PrepareAbort"
            case .completeCommit: "CompleteCommit"
            case .completeAbort: "CompleteAbort"
            }
        }
    }

    struct Partition: Codable, Hashable, Comparable, Sendable {
        var topic: String
        var partition: Int32

        var topicPartition: TopicPartition { TopicPartition(topic, partition) }
        init(_ topicPartition: TopicPartition) {
            topic = topicPartition.topic
            partition = topicPartition.partition
        }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition) }
    }

    /// An offset sent with TxnOffsetCommit: it reaches the group only if the transaction commits.
    struct PendingOffset: Codable, Equatable, Sendable {
        var group: String
        var partition: Partition
        var offset: Int64
        var leaderEpoch: Int32
        var metadata: String?
    }

    var transactionalId: String
    var producerId: Int64
    var producerEpoch: Int16
    /// The epoch before the broker last bumped it on its own (a timeout), so that producer can still resume
    /// with InitProducerId (KIP-360) instead of being told it is a zombie.
    var lastProducerEpoch: Int16 = -1
    var timeoutMs: Int32
    var state: State = .empty
    var partitions: Set<Partition> = []
    var groups: Set<String> = []
    var pendingOffsets: [PendingOffset] = []
    /// When the open transaction started (its first AddPartitionsToTxn or AddOffsetsToTxn), or -1.
    var startedMs: Int64 = -1
    var updatedMs: Int64

    /// Clears what belonged to the finished transaction.
    mutating func finish(_ state: State, nowMs: Int64) {
        self.state = state
        partitions = []
        groups = []
        pendingOffsets = []
        startedMs = -1
        updatedMs = nowMs
    }

    mutating func beginIfIdle(nowMs: Int64) {
        guard state != .ongoing else { return }
        finish(.ongoing, nowMs: nowMs)
        startedMs = nowMs
    }
}
