import SkeinProtocol

/// Heartbeat: keeps a member's session alive and tells it when the group is rebalancing.
enum HeartbeatHandler {
    static func handle(_ request: HeartbeatRequest, context: RequestContext, broker: Broker) {
        context.reply(HeartbeatResponse(errorCode: broker.groups.heartbeat(request)))
    }
}
