import SkeinProtocol

/// DescribeGroups: state, protocol and members; an unknown group is reported Dead, as Kafka does.
enum DescribeGroupsHandler {
    static func handle(_ request: DescribeGroupsRequest, context: RequestContext, broker: Broker) {
        let groups = request.groups.map { groupId in
            guard context.authorized(broker, .describe, .group, groupId) else {
                return DescribeGroupsResponse.Group(errorCode: .groupAuthorizationFailed, groupId: groupId)
            }
            let summary = broker.groups.describe(groupId)
            return DescribeGroupsResponse.Group(
                groupId: groupId, groupState: summary.state.rawValue, protocolType: summary.protocolType,
                protocolData: summary.protocolName, members: summary.members)
        }
        context.reply(DescribeGroupsResponse(groups: groups))
    }
}
