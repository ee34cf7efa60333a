import SkeinProtocol

/// AlterConfigs: the legacy whole-set replacement. A topic's overrides become exactly the configs the
/// request names (the last value of one named twice), so anything left out returns to its default. Broker configs are read-only here: they
/// come from the config file and flags.
enum AlterConfigsHandler {
    static let brokerReadOnlyMessage = "broker configs are read-only; set them in the config file"

    static func handle(_ request: AlterConfigsRequest, context: RequestContext, broker: Broker) {
        let repeated = repeatedResources(request.resources.map { ($0.resourceType, $0.resourceName) })
        let responses = request.resources.map { resource -> AlterConfigsResponse.Result in
            let (code, message) = outcome(
                resourceType: resource.resourceType, resourceName: resource.resourceName, repeated: repeated,
                validateOnly: request.validateOnly, context: context, broker: broker
            ) { _ throws(Broker.TopicConfigChangeError) in
                var replacement: [String: String] = [:]
                // A config named twice takes its last value, as in Kafka, whose legacy AlterConfigs builds a
                // map from the list; librdkafka 2.0.2 relies on it when it appends a change to the configs it
                // read back (its test 0092 sets message.format.version that way).
                for config in resource.configs {
                    guard let value = config.value else {
                        throw .invalidRequest("config \(config.name) has a null value")
                    }
                    replacement[config.name] = value
                }
                return replacement
            }
            return .init(
                errorCode: code, errorMessage: message, resourceType: resource.resourceType,
                resourceName: resource.resourceName)
        }
        context.reply(AlterConfigsResponse(responses: responses))
    }

    /// Resources named more than once in one request; Kafka refuses each of their entries.
    static func repeatedResources(_ resources: [(Int8, String)]) -> Set<String> {
        var seen = Set<String>()
        var repeated = Set<String>()
        for (type, name) in resources where !seen.insert("\(type)/\(name)").inserted {
            repeated.insert("\(type)/\(name)")
        }
        return repeated
    }

    /// The checks and the change shared with IncrementalAlterConfigs, as the per-resource error code and
    /// message. ALTER_CONFIGS on the topic, or on the cluster for broker configs, comes first.
    static func outcome(
        resourceType: Int8, resourceName: String, repeated: Set<String>, validateOnly: Bool, context: RequestContext,
        broker: Broker, change: ([String: String]) throws(Broker.TopicConfigChangeError) -> [String: String]
    ) -> (ErrorCode, String?) {
        guard !repeated.contains("\(resourceType)/\(resourceName)") else {
            return (.invalidRequest, "resource \(resourceName) is listed more than once")
        }
        switch resourceType {
        case DescribeConfigsRequest.topicResourceType:
            guard context.authorized(broker, .alterConfigs, .topic, resourceName) else {
                return (.topicAuthorizationFailed, "needs ALTER_CONFIGS on the topic")
            }
            do {
                try broker.changeTopicConfigs(resourceName, validateOnly: validateOnly, change)
                return (.noError, nil)
            } catch {
                switch error {
                case .unknownTopic(let why): return (.unknownTopicOrPartition, why)
                case .invalidRequest(let why): return (.invalidRequest, why)
                case .invalidConfig(let why): return (.invalidConfig, why)
                case .storage(let why): return (.kafkaStorageError, why)
                }
            }
        case DescribeConfigsRequest.brokerResourceType:
            guard context.authorizedOnCluster(broker, .alterConfigs) else {
                return (.clusterAuthorizationFailed, "needs ALTER_CONFIGS on the cluster")
            }
            return (.policyViolation, brokerReadOnlyMessage)
        default:
            return (.invalidRequest, "resource type \(resourceType) is not supported")
        }
    }
}
