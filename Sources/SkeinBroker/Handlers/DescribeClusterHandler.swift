import SkeinProtocol

/// DescribeCluster: this node is the whole cluster, its only broker and its controller. Any principal may ask,
/// as on Kafka's brokers; DESCRIBE on the cluster decides only whether the authorized operations are told.
enum DescribeClusterHandler {
    /// The operations Kafka reports for the cluster resource.
    static let clusterOperations: [AclOperation] = [
        .create, .clusterAction, .describeConfigs, .alterConfigs, .idempotentWrite, .alter, .describe,
    ]

    /// Kafka's bit field (bit n for operation code n) of what the principal may do on the cluster; 0 without
    /// DESCRIBE.
    static func clusterOperations(context: RequestContext, broker: Broker) -> Int32 {
        guard context.authorizedOnCluster(broker, .describe) else { return 0 }
        var bits: Int32 = 0
        for operation in clusterOperations
        where context.authorized(broker, operation, .cluster, aclClusterResourceName, countDenial: false) {
            bits |= 1 << Int32(operation.rawValue)
        }
        return bits
    }

    static func handle(_ request: DescribeClusterRequest, context: RequestContext, broker: Broker) {
        let config = broker.config
        guard request.endpointType == DescribeClusterRequest.brokersEndpointType else {
            // Kafka's brokers answer this way too: controllers are described through a controller listener,
            // and this broker has no separate one.
            let known = request.endpointType == DescribeClusterRequest.controllersEndpointType
            context.reply(
                DescribeClusterResponse(
                    errorCode: known ? .mismatchedEndpointType : .unsupportedEndpointType,
                    errorMessage: known
                        ? "this is a broker endpoint; the single node has no separate controller listener"
                        : "endpoint type \(request.endpointType) is unknown",
                    endpointType: request.endpointType, clusterId: config.clusterId))
            return
        }
        let address = broker.advertisedAddress(listener: context.connection.session.listenerName)
        context.reply(
            DescribeClusterResponse(
                clusterId: config.clusterId, controllerId: config.nodeId,
                brokers: [.init(brokerId: config.nodeId, host: address.host, port: Int32(address.port))],
                clusterAuthorizedOperations: request.includeClusterAuthorizedOperations
                    ? clusterOperations(context: context, broker: broker)
                    : DescribeClusterResponse.operationsNotRequested))
    }
}
