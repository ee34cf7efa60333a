/// The numeric vocabulary of Kafka's ACL APIs (CreateAcls, DescribeAcls, DeleteAcls), with Kafka's wire
/// values. The messages carry the raw `Int8`s so that a value from a newer peer still decodes and the
/// broker can answer it with an error instead of closing the connection.

/// What an ACL protects. `any` (1) only appears in filters; `user` (7) arrived with v3 of the APIs.
public enum AclResourceType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case unknown = 0
    case any = 1
    case topic = 2
    case group = 3
    case cluster = 4
    case transactionalId = 5
    case delegationToken = 6
    case user = 7

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .topic: "TOPIC"
        case .group: "GROUP"
        case .cluster: "CLUSTER"
        case .transactionalId: "TRANSACTIONAL_ID"
        case .delegationToken: "DELEGATION_TOKEN"
        case .user: "USER"
        }
    }

    /// Accepts Kafka's names in any case, with `-`, `_` or neither (`transactional-id`, `TransactionalId`).
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { aclNameKey($0.description) == aclNameKey(name) }) else {
            return nil
        }
        self = match
    }
}

/// The only resource name a CLUSTER ACL may have.
public let aclClusterResourceName = "kafka-cluster"

/// What an ACL allows or denies. `any` only appears in filters; `all` in an ACL covers every operation.
public enum AclOperation: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case unknown = 0
    case any = 1
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11
    case idempotentWrite = 12
    case createTokens = 13
    case describeTokens = 14
    case twoPhaseCommit = 15

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .all: "ALL"
        case .read: "READ"
        case .write: "WRITE"
        case .create: "CREATE"
        case .delete: "DELETE"
        case .alter: "ALTER"
        case .describe: "DESCRIBE"
        case .clusterAction: "CLUSTER_ACTION"
        case .describeConfigs: "DESCRIBE_CONFIGS"
        case .alterConfigs: "ALTER_CONFIGS"
        case .idempotentWrite: "IDEMPOTENT_WRITE"
        case .createTokens: "CREATE_TOKENS"
        case .describeTokens: "DESCRIBE_TOKENS"
        case .twoPhaseCommit: "TWO_PHASE_COMMIT"
        }
    }

    /// Accepts `Read`, `READ`, `DescribeConfigs`, `describe-configs`, `DESCRIBE_CONFIGS`.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { aclNameKey($0.description) == aclNameKey(name) }) else {
            return nil
        }
        self = match
    }
}

/// ALLOW or DENY (`any` only in filters).
public enum AclPermissionType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case unknown = 0
    case any = 1
    case deny = 2
    case allow = 3

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .deny: "DENY"
        case .allow: "ALLOW"
        }
    }
}

/// How an ACL's resource name is read (KIP-290). LITERAL (the default before v1) names one resource, or
/// every resource of the type when the name is `*`; PREFIXED names every resource starting with it. `any`
/// and `match` are filter-only: `any` takes both kinds by name, `match` takes every ACL that would apply
/// to the named resource.
public enum AclPatternType: Int8, Sendable, CaseIterable, CustomStringConvertible {
    case unknown = 0
    case any = 1
    case match = 2
    case literal = 3
    case prefixed = 4

    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .any: "ANY"
        case .match: "MATCH"
        case .literal: "LITERAL"
        case .prefixed: "PREFIXED"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { aclNameKey($0.description) == aclNameKey(name) }) else {
            return nil
        }
        self = match
    }
}

extension AclPermissionType {
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { aclNameKey($0.description) == aclNameKey(name) }) else {
            return nil
        }
        self = match
    }
}

/// Kafka's enum names compared the way its tools accept them: case, `-` and `_` do not matter.
func aclNameKey(_ name: String) -> String {
    String(name.uppercased().filter { $0 != "_" && $0 != "-" })
}

/// One ACL: a principal is allowed or denied an operation, from a host, on the resources a pattern names.
/// The broker's stored form and the admin client's; the wire messages carry the same fields as raw numbers.
public struct AclBinding: Hashable, Sendable {
    public var resourceType: AclResourceType
    public var resourceName: String
    public var patternType: AclPatternType
    /// `Type:Name`; `User:*` is every principal.
    public var principal: String
    /// A client IP address as the broker sees it, or `*` for any.
    public var host: String
    public var operation: AclOperation
    public var permission: AclPermissionType

    public static let wildcardResource = "*"
    public static let wildcardPrincipal = "User:*"
    public static let wildcardHost = "*"

    public init(
        resourceType: AclResourceType, resourceName: String, patternType: AclPatternType = .literal,
        principal: String, host: String = wildcardHost, operation: AclOperation, permission: AclPermissionType = .allow
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }
}
