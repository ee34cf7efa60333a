import SkeinProtocol

/// DeleteGroups: removes groups without members, with their committed offsets, answered once the
/// deletion is durable. This broker coordinates every group, so NOT_COORDINATOR never applies.
enum DeleteGroupsHandler {
    static func handle(_ request: DeleteGroupsRequest, context: RequestContext, broker: Broker) {
        let allowed = request.groupsNames.filter { context.authorized(broker, .delete, .group, $0) }
        let refused = request.groupsNames.filter { !allowed.contains($0) }
        broker.groups.deleteGroups(allowed) { deleted in
            let outcomes = deleted + refused.map { (groupId: $0, errorCode: ErrorCode.groupAuthorizationFailed) }
            for outcome in outcomes where outcome.errorCode == .noError {
                broker.logger.info("deleted group \(outcome.groupId.quotedForLog)")
            }
            context.reply(
                DeleteGroupsResponse(results: outcomes.map { .init(groupId: $0.groupId, errorCode: $0.errorCode) }))
        }
    }
}
