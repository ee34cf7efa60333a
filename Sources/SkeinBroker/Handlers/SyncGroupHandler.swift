import SkeinProtocol

/// SyncGroup: the leader's call carries every member's assignment; the others wait for it.
enum SyncGroupHandler {
    static func handle(_ request: SyncGroupRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(SyncGroupResponse(errorCode: .groupAuthorizationFailed))
            return
        }
        broker.groups.sync(request) { response in context.reply(response) }
    }
}
