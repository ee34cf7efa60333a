import SkeinLog
import SkeinProtocol

/// CreateTopics with Kafka's topic config names; `validate_only` checks without creating.
enum CreateTopicsHandler {
    static func handle(_ request: CreateTopicsRequest, context: RequestContext, broker: Broker) {
        var seen = Set<String>()
        let results = request.topics.map { topic -> CreateTopicsResponse.Topic in
            guard seen.insert(topic.name).inserted else {
                return .init(
                    name: topic.name, errorCode: .invalidRequest, errorMessage: "topic listed twice in one request")
            }
            guard topic.assignments.isEmpty else {
                return .init(
                    name: topic.name, errorCode: .invalidReplicaAssignment,
                    errorMessage: "manual replica assignment is not supported")
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
                    }
                return .init(name: topic.name, errorCode: code, errorMessage: message)
            }
        }
        context.reply(CreateTopicsResponse(topics: results))
    }
}
