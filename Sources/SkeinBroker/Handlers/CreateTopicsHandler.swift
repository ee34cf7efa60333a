import SkeinLog
import SkeinProtocol

/// CreateTopics with Kafka's topic config names; `validate_only` checks without creating.
///
/// Creating a partition costs a directory, three files and fsyncs, so a large request takes seconds: it runs
/// on the broker's admin queue, never on an event loop, and the answer is sent when it is done. Other
/// connections are served meanwhile; this connection's later requests wait, as Kafka answers in order.
enum CreateTopicsHandler {
    static func handle(_ request: CreateTopicsRequest, context: RequestContext, broker: Broker) {
        broker.adminQueue.async {
            context.reply(CreateTopicsResponse(topics: create(request, broker: broker)))
        }
    }

    static func create(_ request: CreateTopicsRequest, broker: Broker) -> [CreateTopicsResponse.Topic] {
        var seen = Set<String>()
        // Partitions this request has created (or, validating, would create): `max.partitions.per.request`.
        var requestPartitions = 0
        return request.topics.map { topic -> CreateTopicsResponse.Topic in
            guard seen.insert(topic.name).inserted else {
                return .init(
                    name: topic.name, errorCode: .invalidRequest, errorMessage: "topic listed twice in one request")
            }
            guard topic.assignments.isEmpty else {
                return .init(
                    name: topic.name, errorCode: .invalidReplicaAssignment,
                    errorMessage: "manual replica assignment is not supported")
            }
            let asked = Int(topic.numPartitions == -1 ? broker.config.numPartitions : topic.numPartitions)
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
                    topic.name, partitions: topic.numPartitions, replicationFactor: topic.replicationFactor,
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
}
