import SkeinProtocol

extension AclBinding {
    /// Why CreateAcls must refuse this ACL (INVALID_REQUEST), or nil. Filter-only values (ANY, MATCH) and
    /// UNKNOWN are no ACL; a cluster ACL names `kafka-cluster` literally, as Kafka requires; a principal
    /// needs its `Type:` part, or no principal could ever match it.
    public var invalidReason: String? {
        switch resourceType {
        case .unknown, .any: return "resource type \(resourceType) is only valid in a filter"
        default: break
        }
        guard patternType == .literal || patternType == .prefixed else {
            return "pattern type \(patternType) is only valid in a filter"
        }
        switch operation {
        case .unknown, .any: return "operation \(operation) is only valid in a filter"
        default: break
        }
        guard permission == .allow || permission == .deny else {
            return "permission type \(permission) is only valid in a filter"
        }
        if resourceName.isEmpty { return "the resource name is empty" }
        if resourceType == .cluster && (resourceName != aclClusterResourceName || patternType != .literal) {
            return "a CLUSTER ACL must name the literal resource \(aclClusterResourceName)"
        }
        guard let colon = principal.firstIndex(of: ":"), colon != principal.startIndex,
            principal.index(after: colon) != principal.endIndex
        else { return "principal \(principal) is not of the form Type:Name" }
        if host.isEmpty { return "the host is empty (use * for any host)" }
        return nil
    }

    /// Whether this ACL takes part in decisions about the resource `name` of its type: a literal pattern
    /// naming it or `*`, or a prefix of it.
    func applies(to name: String) -> Bool {
        switch patternType {
        case .literal: resourceName == name || resourceName == Self.wildcardResource
        case .prefixed: name.hasPrefix(resourceName)
        default: false
        }
    }
}

/// A DescribeAcls or DeleteAcls filter, with its numbers checked.
public struct AclBindingFilter: Sendable, Equatable {
    public var resourceType: AclResourceType
    public var resourceName: String?
    public var patternType: AclPatternType
    public var principal: String?
    public var host: String?
    public var operation: AclOperation
    public var permission: AclPermissionType

    public init(
        resourceType: AclResourceType = .any, resourceName: String? = nil, patternType: AclPatternType = .any,
        principal: String? = nil, host: String? = nil, operation: AclOperation = .any,
        permission: AclPermissionType = .any
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Nil when a number is unknown to Kafka or UNKNOWN itself, which no ACL can match (INVALID_REQUEST).
    public init?(wire filter: AclFilter) {
        guard let resourceType = AclResourceType(rawValue: filter.resourceType), resourceType != .unknown,
            let patternType = AclPatternType(rawValue: filter.patternType), patternType != .unknown,
            let operation = AclOperation(rawValue: filter.operation), operation != .unknown,
            let permission = AclPermissionType(rawValue: filter.permissionType), permission != .unknown
        else { return nil }
        self.init(
            resourceType: resourceType, resourceName: filter.resourceName, patternType: patternType,
            principal: filter.principal, host: filter.host, operation: operation, permission: permission)
    }

    public func matches(_ acl: AclBinding) -> Bool {
        if resourceType != .any && resourceType != acl.resourceType { return false }
        if !matchesPattern(acl) { return false }
        if let principal, principal != acl.principal { return false }
        if let host, host != acl.host { return false }
        if operation != .any && operation != acl.operation { return false }
        if permission != .any && permission != acl.permission { return false }
        return true
    }

    /// KIP-290's filter rules: LITERAL and PREFIXED take that kind only, by exact name; ANY takes both by
    /// exact name; MATCH takes every pattern that would apply to the named resource (literal, `*`, prefixes).
    private func matchesPattern(_ acl: AclBinding) -> Bool {
        switch patternType {
        case .any:
            return resourceName.map { $0 == acl.resourceName } ?? true
        case .match:
            guard let resourceName else { return true }
            return acl.applies(to: resourceName)
        case .literal, .prefixed:
            return acl.patternType == patternType && (resourceName.map { $0 == acl.resourceName } ?? true)
        case .unknown:
            return false
        }
    }
}

extension AclBinding {
    /// Nil when a number is one Kafka does not know; `invalidReason` judges the rest.
    public init?(wire creation: CreateAclsRequest.Creation) {
        guard let resourceType = AclResourceType(rawValue: creation.resourceType),
            let patternType = AclPatternType(rawValue: creation.patternType),
            let operation = AclOperation(rawValue: creation.operation),
            let permission = AclPermissionType(rawValue: creation.permissionType)
        else { return nil }
        self.init(
            resourceType: resourceType, resourceName: creation.resourceName, patternType: patternType,
            principal: creation.principal, host: creation.host, operation: operation, permission: permission)
    }
}
