import SkeinProtocol

/// CreatePartitions: grows topics; partitions are never removed. Like CreateTopics it creates directories
/// and fsyncs, so it runs on the broker's admin queue and answers when every topic is done.
enum CreatePartitionsHandler {
    static func handle(_ request: CreatePartitionsRequest, context: RequestContext, broker: Broker) {
        // ALTER on each topic, decided on the connection's event loop before the work is queued.
        let refused = Set(request.topics.map(\.name).filter { !context.authorized(broker, .alter, .topic, $0) })
        broker.adminQueue.async {
            context.reply(CreatePartitionsResponse(results: grow(request, refused: refused, broker: broker)))
        }
    }

    static func grow(_ request: CreatePartitionsRequest, refused: Set<String> = [], broker: Broker)
        -> [CreatePartitionsResponse.Result]
    {
        var counts: [String: Int] = [:]
        for topic in request.topics { counts[topic.name, default: 0] += 1 }
        // Partitions this request has added (or, validating, would add): `max.partitions.per.request`.
        var requestPartitions = 0
        return request.topics.map { topic -> CreatePartitionsResponse.Result in
            guard counts[topic.name] == 1 else {
                return .init(
                    name: topic.name, errorCode: .invalidRequest, errorMessage: "topic listed twice in one request")
            }
            if refused.contains(topic.name) {
                return .init(
                    name: topic.name, errorCode: .topicAuthorizationFailed, errorMessage: "needs ALTER on the topic")
            }
            if let current = broker.topics.topic(topic.name)?.partitionCount, topic.count > current,
                topic.count <= broker.config.maxPartitionsPerTopic,
                requestPartitions + Int(topic.count - current) > broker.config.maxPartitionsPerRequest
            {
                return .init(
                    name: topic.name, errorCode: .policyViolation,
                    errorMessage:
                        "\(topic.count - current) more partitions would take this request past max.partitions.per.request=\(broker.config.maxPartitionsPerRequest)"
                )
            }
            do throws(Broker.PartitionGrowthError) {
                let before = broker.topics.topic(topic.name)?.partitionCount ?? 0
                let grown = try broker.addPartitions(
                    to: topic.name, count: topic.count, assignments: topic.assignments?.map(\.brokerIds),
                    validateOnly: request.validateOnly)
                requestPartitions += Int(grown.partitionCount - before)
                return .init(name: topic.name)
            } catch {
                let code: ErrorCode
                let message: String
                switch error {
                case .unknownTopic(let why): (code, message) = (.unknownTopicOrPartition, why)
                case .invalidPartitions(let why): (code, message) = (.invalidPartitions, why)
                case .invalidReplicaAssignment(let why): (code, message) = (.invalidReplicaAssignment, why)
                case .policyViolation(let why): (code, message) = (.policyViolation, why)
                case .storage(let why): (code, message) = (.kafkaStorageError, why)
                }
                return .init(name: topic.name, errorCode: code, errorMessage: message)
            }
        }
    }
}
