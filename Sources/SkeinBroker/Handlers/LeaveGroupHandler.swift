import SkeinProtocol

/// LeaveGroup: a member (or, v3+, several static members) leaves at once instead of timing out.
enum LeaveGroupHandler {
    static func handle(_ request: LeaveGroupRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(LeaveGroupResponse(errorCode: .groupAuthorizationFailed))
            return
        }
        context.reply(broker.groups.leave(request))
    }
}
