import SkeinProtocol

extension AdminClient {
    /// One ACL as the ACL APIs carry it, with Kafka's enums (the broker's `AclBinding`).
    public typealias AclEntry = AclBinding

    /// CreateAcls; throws the first refusal, naming the ACL it was for.
    public func createAcls(_ acls: [AclEntry]) async throws {
        guard !acls.isEmpty else { return }
        let response = try await metadata.anyConnection().send(
            CreateAclsRequest(
                creations: acls.map {
                    .init(
                        resourceType: $0.resourceType.rawValue, resourceName: $0.resourceName,
                        patternType: $0.patternType.rawValue, principal: $0.principal, host: $0.host,
                        operation: $0.operation.rawValue, permissionType: $0.permission.rawValue)
                }),
            minimumVersion: acls.contains { $0.patternType != .literal } ? 1 : nil)
        for (acl, result) in zip(acls, response.results) {
            try Self.check(
                result.errorCode, result.errorMessage, context: "create ACL \(acl.operation) on \(acl.resourceName)")
        }
    }

    /// DescribeAcls: the ACLs `filter` matches.
    public func describeAcls(_ filter: AclFilter = AclFilter()) async throws -> [AclEntry] {
        let response = try await metadata.anyConnection().send(
            DescribeAclsRequest(filter: filter),
            minimumVersion: filter.patternType != AclPatternType.literal.rawValue ? 1 : nil)
        try Self.check(response.errorCode, response.errorMessage, context: "describe ACLs")
        return response.resources.flatMap { resource in
            resource.acls.map {
                AclEntry(
                    type: resource.resourceType, name: resource.resourceName, pattern: resource.patternType,
                    principal: $0.principal, host: $0.host, operation: $0.operation, permission: $0.permissionType)
            }
        }
    }

    /// DeleteAcls: deletes what each filter matches and returns the deleted ACLs (once each).
    public func deleteAcls(_ filters: [AclFilter]) async throws -> [AclEntry] {
        guard !filters.isEmpty else { return [] }
        let response = try await metadata.anyConnection().send(
            DeleteAclsRequest(filters: filters),
            minimumVersion: filters.contains { $0.patternType != AclPatternType.literal.rawValue } ? 1 : nil)
        var deleted: [AclEntry] = []
        for result in response.filterResults {
            try Self.check(result.errorCode, result.errorMessage, context: "delete ACLs")
            for match in result.matchingAcls {
                try Self.check(match.errorCode, match.errorMessage, context: "delete ACL on \(match.resourceName)")
                let entry = AclEntry(
                    type: match.resourceType, name: match.resourceName, pattern: match.patternType,
                    principal: match.principal, host: match.host, operation: match.operation,
                    permission: match.permissionType)
                if !deleted.contains(entry) { deleted.append(entry) }
            }
        }
        return deleted
    }
}

extension AclBinding {
    /// Values from a newer broker that this client has no name for read as UNKNOWN.
    init(
        type: Int8, name: String, pattern: Int8, principal: String, host: String, operation: Int8, permission: Int8
    ) {
        self.init(
            resourceType: AclResourceType(rawValue: type) ?? .unknown, resourceName: name,
            patternType: AclPatternType(rawValue: pattern) ?? .unknown, principal: principal, host: host,
            operation: AclOperation(rawValue: operation) ?? .unknown,
            permission: AclPermissionType(rawValue: permission) ?? .unknown)
    }
}
