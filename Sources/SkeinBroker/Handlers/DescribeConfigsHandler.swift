import SkeinProtocol

/// DescribeConfigs for topics (resource type 2) and this broker (type 4).
enum DescribeConfigsHandler {
    static let topicResource: Int8 = 2
    static let brokerResource: Int8 = 4

    static func handle(_ request: DescribeConfigsRequest, context: RequestContext, broker: Broker) {
        let results = request.resources.map { resource -> DescribeConfigsResponse.Result in
            let entries: [TopicConfig.Entry]
            switch resource.resourceType {
            case topicResource:
                guard context.authorized(broker, .describeConfigs, .topic, resource.resourceName) else {
                    return .init(
                        errorCode: .topicAuthorizationFailed, errorMessage: "needs DESCRIBE_CONFIGS on the topic",
                        resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [])
                }
                guard let topic = broker.topics.topic(resource.resourceName) else {
                    return .init(
                        errorCode: .unknownTopicOrPartition,
                        errorMessage: "topic \(resource.resourceName) does not exist",
                        resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [])
                }
                entries = TopicConfig.describe(overrides: topic.configs, broker: broker.config)
            case brokerResource:
                guard context.authorizedOnCluster(broker, .describeConfigs) else {
                    return .init(
                        errorCode: .clusterAuthorizationFailed, errorMessage: "needs DESCRIBE_CONFIGS on the cluster",
                        resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [])
                }
                guard resource.resourceName.isEmpty || resource.resourceName == String(broker.config.nodeId) else {
                    return .init(
                        errorCode: .invalidRequest, errorMessage: "this is broker \(broker.config.nodeId)",
                        resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [])
                }
                entries = brokerEntries(broker.config)
            default:
                return .init(
                    errorCode: .invalidRequest, errorMessage: "resource type \(resource.resourceType) is not supported",
                    resourceType: resource.resourceType, resourceName: resource.resourceName, configs: [])
            }
            let wanted = resource.configurationKeys.map(Set.init)
            let configs = entries.filter { wanted?.contains($0.name) ?? true }.map { entry in
                DescribeConfigsResponse.Config(
                    name: entry.name, value: entry.value, configSource: entry.source.rawValue,
                    synonyms: request.includeSynonyms
                        ? [.init(name: entry.name, value: entry.value, source: entry.source.rawValue)] : [])
            }
            return .init(resourceType: resource.resourceType, resourceName: resource.resourceName, configs: configs)
        }
        context.reply(DescribeConfigsResponse(results: results))
    }

    static func brokerEntries(_ config: BrokerConfig) -> [TopicConfig.Entry] {
        let defaults = config.logDefaults
        let values: [(String, String)] = [
            // Kafka reports it too; tools read it to tell "no authorizer" from "no ACLs" (librdkafka drops
            // DescribeAcls' SECURITY_DISABLED).
            ("authorizer.class.name", config.authorizer.className),
            ("auto.create.topics.enable", String(config.autoCreateTopics)),
            ("compression.type", config.compressionType),
            ("delete.topic.enable", String(config.deleteTopicEnable)),
            ("log.dirs", config.dataDirectory),
            ("log.retention.bytes", String(defaults.retentionBytes)),
            ("log.retention.ms", String(defaults.retentionMs)),
            ("log.roll.ms", String(defaults.segmentMs)),
            ("log.segment.bytes", String(defaults.segmentBytes)),
            ("message.max.bytes", String(defaults.maxMessageBytes)),
            ("node.id", String(config.nodeId)),
            ("num.partitions", String(config.numPartitions)),
            ("socket.request.max.bytes", String(config.maxRequestBytes)),
        ]
        return values.map { TopicConfig.Entry(name: $0.0, value: $0.1, source: .staticBroker) }
    }
}
