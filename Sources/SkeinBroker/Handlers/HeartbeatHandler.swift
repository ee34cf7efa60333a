import SkeinProtocol

/// Heartbeat: keeps a member's session alive and tells it when the group is rebalancing.
enum HeartbeatHandler {
    static func handle(_ request: HeartbeatRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(HeartbeatResponse(errorCode: .groupAuthorizationFailed))
            return
        }
        context.reply(HeartbeatResponse(errorCode: broker.groups.heartbeat(request)))
    }
}
