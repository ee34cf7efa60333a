import SkeinProtocol

/// DescribeAcls: needs DESCRIBE on the cluster; answers the ACLs the filter matches, grouped by resource
/// pattern as Kafka does.
enum DescribeAclsHandler {
    static func handle(_ request: DescribeAclsRequest, context: RequestContext, broker: Broker) {
        guard broker.authorizer.enabled else {
            context.reply(
                DescribeAclsResponse(errorCode: .securityDisabled, errorMessage: CreateAclsHandler.noAuthorizer))
            return
        }
        guard context.authorizedOnCluster(broker, .describe) else {
            context.reply(
                DescribeAclsResponse(
                    errorCode: .clusterAuthorizationFailed, errorMessage: "DescribeAcls needs DESCRIBE on the cluster"))
            return
        }
        guard let filter = AclBindingFilter(wire: request.filter) else {
            context.reply(
                DescribeAclsResponse(
                    errorCode: .invalidRequest, errorMessage: "unknown resource, pattern, operation or permission type")
            )
            return
        }
        context.reply(DescribeAclsResponse(resources: resources(broker.authorizer.describe(filter))))
    }

    static func resources(_ acls: [AclBinding]) -> [DescribeAclsResponse.Resource] {
        struct Pattern: Hashable {
            var type: AclResourceType
            var name: String
            var pattern: AclPatternType
        }
        var order: [Pattern] = []
        var grouped: [Pattern: [DescribeAclsResponse.AclDescription]] = [:]
        for acl in acls {
            let key = Pattern(type: acl.resourceType, name: acl.resourceName, pattern: acl.patternType)
            if grouped[key] == nil { order.append(key) }
            grouped[key, default: []].append(
                .init(
                    principal: acl.principal, host: acl.host, operation: acl.operation.rawValue,
                    permissionType: acl.permission.rawValue))
        }
        return order.map {
            .init(
                resourceType: $0.type.rawValue, resourceName: $0.name, patternType: $0.pattern.rawValue,
                acls: grouped[$0] ?? [])
        }
    }
}
