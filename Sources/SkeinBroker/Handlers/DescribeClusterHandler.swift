import SkeinProtocol

/// DescribeCluster: this node is the whole cluster, its only broker and its controller.
enum DescribeClusterHandler {
    static func handle(_ request: DescribeClusterRequest, context: RequestContext, broker: Broker) {
        let config = broker.config
        guard context.authorizedOnCluster(broker, .describe) else {
            context.reply(
                DescribeClusterResponse(
                    errorCode: .clusterAuthorizationFailed,
                    errorMessage: "DescribeCluster needs DESCRIBE on the cluster",
                    endpointType: request.endpointType, clusterId: config.clusterId))
            return
        }
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
        context.reply(
            DescribeClusterResponse(
                clusterId: config.clusterId, controllerId: config.nodeId,
                brokers: [
                    .init(brokerId: config.nodeId, host: config.advertisedHostName, port: Int32(broker.advertisedPort))
                ]))
    }
}
