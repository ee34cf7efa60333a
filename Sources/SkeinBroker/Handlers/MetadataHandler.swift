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
        context.reply(
            MetadataResponse(
                brokers: [
                    .init(nodeId: config.nodeId, host: config.advertisedHostName, port: Int32(broker.advertisedPort))
                ],
                clusterId: config.clusterId, controllerId: config.nodeId, topics: topics))
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
