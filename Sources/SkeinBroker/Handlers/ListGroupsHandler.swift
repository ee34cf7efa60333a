import SkeinProtocol

/// ListGroups, optionally filtered by state (v4+).
enum ListGroupsHandler {
    static func handle(_ request: ListGroupsRequest, context: RequestContext, broker: Broker) {
        let wanted = Set(request.statesFilter.map { $0.lowercased() })
        // DESCRIBE on the cluster shows every group; otherwise the groups the principal may describe, and
        // never an authorization error (Kafka's rule).
        let everyGroup = context.authorizedOnCluster(broker, .describe)
        let groups = broker.groups.list()
            .filter { wanted.isEmpty || wanted.contains($0.state.rawValue.lowercased()) }
            .filter { everyGroup || context.authorized(broker, .describe, .group, $0.groupId, countDenial: false) }
            .map {
                ListGroupsResponse.Group(
                    groupId: $0.groupId, protocolType: $0.protocolType, groupState: $0.state.rawValue)
            }
        context.reply(ListGroupsResponse(groups: groups))
    }
}
