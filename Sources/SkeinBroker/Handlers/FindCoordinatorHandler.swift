import SkeinProtocol

/// FindCoordinator: this single broker coordinates every group. Answered from the first release because
/// librdkafka 2.0.2 takes FindCoordinator support as its signal that the broker can read lz4 batches.
enum FindCoordinatorHandler {
    static func handle(_ request: FindCoordinatorRequest, context: RequestContext, broker: Broker) {
        let host = broker.config.advertisedHostName
        let port = Int32(broker.advertisedPort)
        let coordinators = request.coordinatorKeys.map { key in
            if request.keyType == FindCoordinatorRequest.groupKeyType {
                return FindCoordinatorResponse.Coordinator(
                    key: key, nodeId: broker.config.nodeId, host: host, port: port)
            }
            // Transactions are not implemented, so there is no transaction coordinator to name.
            return FindCoordinatorResponse.Coordinator(
                key: key, nodeId: -1, host: "", port: -1, errorCode: .coordinatorNotAvailable,
                errorMessage: "transactions are not supported by this broker")
        }
        context.reply(FindCoordinatorResponse(coordinators: coordinators))
    }
}
