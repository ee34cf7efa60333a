import Foundation
import SkeinLog
import SkeinProtocol

/// Metadata: this broker is the only node, the controller and the leader of every partition.
/// Topics a client asks for are auto-created when the broker and the request both allow it, and the
/// principal may (CREATE on the cluster or the topic). Only topics the principal may DESCRIBE are shown: a
/// listing of all topics leaves the others out, a named one answers TOPIC_AUTHORIZATION_FAILED.
enum MetadataHandler {
    static func handle(_ request: MetadataRequest, context: RequestContext, broker: Broker) {
        let config = broker.config
        let topics: [MetadataResponse.Topic]
        if let requested = request.topics {
            topics = requested.map { entry in
                guard let name = entry.name else {
                    return MetadataResponse.Topic(
                        errorCode: .unknownTopicId, name: nil, topicId: entry.topicId, partitions: [])
                }
                guard TopicPartition.isValidTopicName(name) else {
                    return MetadataResponse.Topic(errorCode: .invalidTopicException, name: name, partitions: [])
                }
                guard context.authorized(broker, .describe, .topic, name) else {
                    return MetadataResponse.Topic(errorCode: .topicAuthorizationFailed, name: name, partitions: [])
                }
                // v0-v3 have no allowAutoTopicCreation field and always auto-create, as Kafka did.
                let allow = context.version < 4 || request.allowAutoTopicCreation
                if allow && config.autoCreateTopics && broker.topics.topic(name) == nil
                    && !context.authorizedOnCluster(broker, .create)
                    && !context.authorized(broker, .create, .topic, name)
                {
                    return MetadataResponse.Topic(errorCode: .topicAuthorizationFailed, name: name, partitions: [])
                }
                guard let topic = broker.topicCreatingIfAllowed(name, allowAutoCreate: allow) else {
                    return MetadataResponse.Topic(errorCode: .unknownTopicOrPartition, name: name, partitions: [])
                }
                return describe(topic, nodeId: config.nodeId)
            }
        } else {
            topics = broker.topics.allTopics
                .filter { context.authorized(broker, .describe, .topic, $0.name, countDenial: false) }
                .map { describe($0, nodeId: config.nodeId) }
        }
        let address = broker.advertisedAddress(listener: context.connection.session.listenerName)
        var response = MetadataResponse(
            brokers: [.init(nodeId: config.nodeId, host: address.host, port: Int32(address.port))],
            clusterId: config.clusterId, controllerId: config.nodeId, topics: topics)
        // KIP-430: what the principal may do, as a bit field per operation code (librdkafka's
        // describe_cluster and describe_topics ask through Metadata).
        if request.includeClusterAuthorizedOperations {
            response.clusterAuthorizedOperations = DescribeClusterHandler.clusterOperations(
                context: context, broker: broker)
        }
        if request.includeTopicAuthorizedOperations {
            for index in response.topics.indices where response.topics[index].errorCode == .noError {
                guard let name = response.topics[index].name else { continue }
                response.topics[index].topicAuthorizedOperations = topicOperations(
                    name, context: context, broker: broker)
            }
        }
        context.reply(response)
    }

    /// The operations Kafka reports for a topic.
    static let topicOperations: [AclOperation] = [
        .read, .write, .create, .delete, .alter, .describe, .describeConfigs, .alterConfigs,
    ]

    static func topicOperations(_ name: String, context: RequestContext, broker: Broker) -> Int32 {
        var bits: Int32 = 0
        for operation in topicOperations where context.authorized(broker, operation, .topic, name, countDenial: false) {
            bits |= 1 << Int32(operation.rawValue)
        }
        return bits
    }

    static func describe(_ topic: TopicMetadata, nodeId: Int32) -> MetadataResponse.Topic {
        MetadataResponse.Topic(
            name: topic.name, topicId: KafkaUUID(topic.topicId),
            partitions: (0..<topic.partitionCount).map {
                MetadataResponse.Partition(
                    partitionIndex: $0, leaderId: nodeId, leaderEpoch: 0, replicaNodes: [nodeId], isrNodes: [nodeId])
            })
    }
}

extension KafkaUUID {
    init(_ uuid: UUID) {
        let bytes = uuid.uuid
        let most = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5, bytes.6, bytes.7].reduce(UInt64(0)) {
            $0 << 8 | UInt64($1)
        }
        let least = [bytes.8, bytes.9, bytes.10, bytes.11, bytes.12, bytes.13, bytes.14, bytes.15].reduce(UInt64(0)) {
            $0 << 8 | UInt64($1)
        }
        self.init(mostSignificantBits: most, leastSignificantBits: least)
    }
}
