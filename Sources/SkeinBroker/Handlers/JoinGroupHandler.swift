import SkeinProtocol

/// JoinGroup: answered when the group's join phase ends, which may be seconds later.
enum JoinGroupHandler {
    static func handle(_ request: JoinGroupRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(JoinGroupResponse(errorCode: .groupAuthorizationFailed, protocolName: nil))
            return
        }
        let join = GroupCoordinator.JoinContext(
            version: context.version, clientId: context.header.clientId ?? "", clientHost: context.connection.remote)
        broker.groups.join(request, context: join) { response in context.reply(response) }
    }
}
