import SkeinProtocol

/// DeleteAcls: needs ALTER on the cluster; each filter deletes every ACL it matches and lists them. The
/// save fsyncs, so it runs on the admin queue.
enum DeleteAclsHandler {
    static func handle(_ request: DeleteAclsRequest, context: RequestContext, broker: Broker) {
        func all(_ code: ErrorCode, _ message: String) -> DeleteAclsResponse {
            DeleteAclsResponse(
                filterResults: request.filters.map { _ in .init(errorCode: code, errorMessage: message) })
        }
        guard broker.authorizer.enabled else {
            context.reply(all(.securityDisabled, CreateAclsHandler.noAuthorizer))
            return
        }
        guard context.authorizedOnCluster(broker, .alter) else {
            context.reply(all(.clusterAuthorizationFailed, "DeleteAcls needs ALTER on the cluster"))
            return
        }
        let filters = request.filters.map { AclBindingFilter(wire: $0) }
        broker.adminQueue.async {
            var results = filters.map { filter -> DeleteAclsResponse.FilterResult in
                filter == nil
                    ? .init(
                        errorCode: .invalidRequest,
                        errorMessage: "unknown resource, pattern, operation or permission type")
                    : .init()
            }
            let valid = filters.enumerated().compactMap { index, filter in filter.map { (index, $0) } }
            do {
                let deleted = try broker.authorizer.delete(valid.map(\.1))
                for (position, entry) in valid.enumerated() {
                    results[entry.0].matchingAcls = deleted[position].map(matching)
                }
                let count = Set(deleted.joined()).count
                if count > 0 {
                    broker.logger.info("\(count) ACLs deleted by \(context.connection.session.principal)")
                }
            } catch {
                for entry in valid {
                    results[entry.0] = .init(
                        errorCode: .unknownServerError, errorMessage: "cannot save the ACLs: \(error)")
                }
            }
            context.reply(DeleteAclsResponse(filterResults: results))
        }
    }

    static func matching(_ acl: AclBinding) -> DeleteAclsResponse.MatchingAcl {
        .init(
            resourceType: acl.resourceType.rawValue, resourceName: acl.resourceName,
            patternType: acl.patternType.rawValue, principal: acl.principal, host: acl.host,
            operation: acl.operation.rawValue, permissionType: acl.permission.rawValue)
    }
}
