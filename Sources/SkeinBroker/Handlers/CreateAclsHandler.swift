import SkeinProtocol

/// CreateAcls: needs ALTER on the cluster. Each ACL is checked on its own (a bad one gets INVALID_REQUEST,
/// the others are created); the valid ones are saved together before the answer. The save fsyncs, so it
/// runs on the admin queue.
enum CreateAclsHandler {
    static let noAuthorizer = "No authorizer is configured (authorizer.class.name is empty)."

    static func handle(_ request: CreateAclsRequest, context: RequestContext, broker: Broker) {
        func all(_ code: ErrorCode, _ message: String) -> CreateAclsResponse {
            CreateAclsResponse(results: request.creations.map { _ in .init(errorCode: code, errorMessage: message) })
        }
        guard broker.authorizer.enabled else {
            context.reply(all(.securityDisabled, noAuthorizer))
            return
        }
        guard context.authorizedOnCluster(broker, .alter) else {
            context.reply(all(.clusterAuthorizationFailed, "CreateAcls needs ALTER on the cluster"))
            return
        }
        var results: [CreateAclsResponse.Result] = []
        var valid: [(index: Int, binding: AclBinding)] = []
        for (index, creation) in request.creations.enumerated() {
            guard let binding = AclBinding(wire: creation) else {
                results.append(
                    .init(
                        errorCode: .invalidRequest,
                        errorMessage: "unknown resource, pattern, operation or permission type"))
                continue
            }
            if let reason = binding.invalidReason {
                results.append(.init(errorCode: .invalidRequest, errorMessage: reason))
                continue
            }
            results.append(.init())
            valid.append((index, binding))
        }
        let checked = results
        let toCreate = valid
        broker.adminQueue.async {
            var results = checked
            let valid = toCreate
            do {
                try broker.authorizer.create(valid.map(\.binding))
                let added = valid.map { describe($0.binding) }.joined(separator: ", ")
                if !valid.isEmpty {
                    broker.logger.info("ACLs created by \(context.connection.session.principal): \(added)")
                }
            } catch {
                for entry in valid {
                    results[entry.index] = .init(
                        errorCode: .unknownServerError, errorMessage: "cannot save the ACLs: \(error)")
                }
            }
            context.reply(CreateAclsResponse(results: results))
        }
    }

    static func describe(_ acl: AclBinding) -> String {
        "\(acl.permission) \(acl.principal) \(acl.operation) on \(acl.resourceType) \(acl.patternType) "
            + "\(acl.resourceName.quotedForLog) from \(acl.host)"
    }
}
