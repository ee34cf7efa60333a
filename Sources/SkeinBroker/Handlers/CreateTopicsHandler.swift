import SkeinLog
import SkeinProtocol

/// CreateTopics with Kafka's topic config names; `validate_only` checks without creating.
///
/// Creating a partition costs a directory, three files and fsyncs, so a large request takes seconds: it runs
/// on the broker's admin queue, never on an event loop, and the answer is sent when it is done. Other
/// connections are served meanwhile; this connection's later requests wait, as Kafka answers in order.
enum CreateTopicsHandler {
    static func handle(_ request: CreateTopicsRequest, context: RequestContext, broker: Broker) {
        // CREATE on the cluster covers every topic; without it, CREATE on each topic (Kafka's order).
        let refused: Set<String> =
            context.authorizedOnCluster(broker, .create)
            ? [] : Set(request.topics.map(\.name).filter { !context.authorized(broker, .create, .topic, $0) })
        broker.adminQueue.async {
            context.reply(CreateTopicsResponse(topics: create(request, refused: refused, broker: broker)))
        }
    }

    static func create(_ request: CreateTopicsRequest, refused: Set<String> = [], broker: Broker)
        -> [CreateTopicsResponse.Topic]
    {
        var seen = Set<String>()
        // Partitions this request has created (or, validating, would create): `max.partitions.per.request`.
        var requestPartitions = 0
        return request.topics.map { topic -> CreateTopicsResponse.Topic in
            guard seen.insert(topic.name).inserted else {
                return .init(
                    name: topic.name, errorCode: .invalidRequest, errorMessage: "topic listed twice in one request")
            }
            if refused.contains(topic.name) {
                return .init(
                    name: topic.name, errorCode: .topicAuthorizationFailed,
                    errorMessage: "needs CREATE on the cluster or the topic")
            }
            var requested = topic.numPartitions
            if !topic.assignments.isEmpty {
                switch checkAssignments(topic, broker: broker) {
                case .success(let count): requested = count
                case .failure(let refusal):
                    return .init(name: topic.name, errorCode: refusal.code, errorMessage: refusal.message)
                }
            }
            let asked = Int(requested == -1 ? broker.config.numPartitions : requested)
            // A topic over max.partitions.per.topic is refused for that, below, whatever else the request asks.
            if asked > 0 && asked <= broker.config.maxPartitionsPerTopic
                && requestPartitions + asked > broker.config.maxPartitionsPerRequest
            {
                return .init(
                    name: topic.name, errorCode: .policyViolation,
                    errorMessage:
                        "\(asked) more partitions would take this request past max.partitions.per.request=\(broker.config.maxPartitionsPerRequest)"
                )
            }
            var configs: [String: String] = [:]
            for config in topic.configs {
                if let value = config.value { configs[config.name] = value }
            }
            let outcome = Result { () throws(Broker.TopicCreationError) -> TopicMetadata in
                try broker.createTopic(
                    topic.name, partitions: requested, replicationFactor: topic.replicationFactor,
                    configs: configs,
                    validateOnly: request.validateOnly)
            }
            switch outcome {
            case .success(let created):
                requestPartitions += Int(created.partitionCount)
                let described = TopicConfig.describe(overrides: created.configs, broker: broker.config).map {
                    CreateTopicsResponse.Config(name: $0.name, value: $0.value, configSource: $0.source.rawValue)
                }
                return .init(
                    name: topic.name, topicId: KafkaUUID(created.topicId), numPartitions: created.partitionCount,
                    replicationFactor: 1,
                    configs: described)
            case .failure(let error):
                let (code, message): (ErrorCode, String) =
                    switch error {
                    case .alreadyExists: (.topicAlreadyExists, "topic \(topic.name) already exists")
                    case .invalidName(let why): (.invalidTopicException, why)
                    case .invalidPartitions(let why): (.invalidPartitions, why)
                    case .invalidReplicationFactor(let why): (.invalidReplicationFactor, why)
                    case .invalidConfig(let why): (.invalidConfig, why)
                    case .policyViolation(let why): (.policyViolation, why)
                    case .storage(let why): (.kafkaStorageError, why)
                    }
                return .init(name: topic.name, errorCode: code, errorMessage: message)
            }
        }
    }

    struct Refusal: Error {
        var code: ErrorCode
        var message: String
    }

    /// The partition count an explicit replica assignment gives, if this node can honour it: partitions
    /// numbered 0 to n-1, each with one replica, on this node. Kafka wants the partition count and the
    /// replication factor left at -1 beside an assignment; values that agree with it are accepted too.
    static func checkAssignments(_ topic: CreateTopicsRequest.Topic, broker: Broker) -> Result<Int32, Refusal> {
        let count = Int32(topic.assignments.count)
        guard topic.numPartitions == -1 || topic.numPartitions == count,
            topic.replicationFactor == -1 || topic.replicationFactor == 1
        else {
            return .failure(
                Refusal(
                    code: .invalidRequest,
                    message:
                        "numPartitions \(topic.numPartitions) and replicationFactor \(topic.replicationFactor) disagree with the \(count) partitions of the replica assignment; leave them at -1"
                ))
        }
        let indexes = topic.assignments.map(\.partitionIndex).sorted()
        guard indexes == Array(0..<count) else {
            return .failure(
                Refusal(
                    code: .invalidReplicaAssignment,
                    message: "assigned partitions must be numbered 0 to \(count - 1), each once; got \(indexes)"))
        }
        for assignment in topic.assignments {
            if let problem = broker.assignmentProblem(assignment.brokerIds, partition: assignment.partitionIndex) {
                return .failure(Refusal(code: .invalidReplicaAssignment, message: problem))
            }
        }
        return .success(count)
    }
}
