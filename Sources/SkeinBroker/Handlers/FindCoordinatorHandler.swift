import SkeinProtocol

/// FindCoordinator: this single broker coordinates every group and every transactional id. Answered from the first release because
/// librdkafka 2.0.2 takes FindCoordinator support as its signal that the broker can read lz4 batches.
enum FindCoordinatorHandler {
    /// Key type 1 names a transactional id; this broker coordinates those too.
    static let transactionKeyType: Int8 = 1

    static func handle(_ request: FindCoordinatorRequest, context: RequestContext, broker: Broker) {
        let address = broker.advertisedAddress(listener: context.connection.session.listenerName)
        let host = address.host
        let port = Int32(address.port)
        let coordinators = request.coordinatorKeys.map { key in
            guard request.keyType == FindCoordinatorRequest.groupKeyType || request.keyType == transactionKeyType
            else {
                return FindCoordinatorResponse.Coordinator(
                    key: key, nodeId: -1, host: "", port: -1, errorCode: .invalidRequest,
                    errorMessage: "unknown coordinator key type \(request.keyType)")
            }
            // DESCRIBE on the group or transactional id, so nobody learns which ids are in use elsewhere.
            let isGroup = request.keyType == FindCoordinatorRequest.groupKeyType
            guard context.authorized(broker, .describe, isGroup ? .group : .transactionalId, key) else {
                return FindCoordinatorResponse.Coordinator(
                    key: key, nodeId: -1, host: "", port: -1,
                    errorCode: isGroup ? .groupAuthorizationFailed : .transactionalIdAuthorizationFailed)
            }
            return FindCoordinatorResponse.Coordinator(key: key, nodeId: broker.config.nodeId, host: host, port: port)
        }
        context.reply(FindCoordinatorResponse(coordinators: coordinators))
    }
}
