import SkeinProtocol

/// ListGroups, optionally filtered by state (v4+).
enum ListGroupsHandler {
    static func handle(_ request: ListGroupsRequest, context: RequestContext, broker: Broker) {
        let wanted = Set(request.statesFilter.map { $0.lowercased() })
        let groups = broker.groups.list()
            .filter { wanted.isEmpty || wanted.contains($0.state.rawValue.lowercased()) }
            .map {
                ListGroupsResponse.Group(
                    groupId: $0.groupId, protocolType: $0.protocolType, groupState: $0.state.rawValue)
            }
        context.reply(ListGroupsResponse(groups: groups))
    }
}
