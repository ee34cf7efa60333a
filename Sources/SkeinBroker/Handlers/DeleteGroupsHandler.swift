import SkeinProtocol

/// DeleteGroups: removes groups without members, with their committed offsets, answered once the
/// deletion is durable. This broker coordinates every group, so NOT_COORDINATOR never applies.
enum DeleteGroupsHandler {
    static func handle(_ request: DeleteGroupsRequest, context: RequestContext, broker: Broker) {
        broker.groups.deleteGroups(request.groupsNames) { outcomes in
            for outcome in outcomes where outcome.errorCode == .noError {
                broker.logger.info("deleted group \(outcome.groupId.quotedForLog)")
            }
            context.reply(
                DeleteGroupsResponse(results: outcomes.map { .init(groupId: $0.groupId, errorCode: $0.errorCode) }))
        }
    }
}
