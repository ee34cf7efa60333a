import ArgumentParser
import SkeinClient
import SkeinProtocol

/// `skein acls list|add|remove`, with `kafka-acls.sh`'s options, through CreateAcls, DescribeAcls and
/// DeleteAcls, so it works against any broker with an authorizer.
public struct AclsCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "acls",
        abstract: "List, add and remove ACLs (the broker needs authorizer.class.name).",
        discussion: """
            Options follow kafka-acls.sh. Examples:
              skein acls add --allow-principal User:alice --operation Read --operation Describe --topic logs
              skein acls add --allow-principal User:shipper --producer --topic logs- --resource-pattern-type prefixed
              skein acls add --allow-principal User:reader --consumer --topic logs --group dashboards
              skein acls add --deny-principal User:* --operation Alter --cluster
              skein acls list --topic logs --resource-pattern-type match
              skein acls remove --allow-principal User:alice --operation Read --topic logs
            """,
        subcommands: [List.self, Add.self, Remove.self])

    public init() {}

    /// The resources and pattern type of a command line.
    struct ResourceOptions: ParsableArguments, Sendable {
        @Option(help: "A topic, or * for every topic; repeatable.") var topic: [String] = []
        @Option(help: "A consumer group, or * for every group; repeatable.") var group: [String] = []
        @Flag(help: "The cluster (CLUSTER resource kafka-cluster).") var cluster = false
        @Option(name: .customLong("transactional-id"), help: "A transactional id, or *; repeatable.")
        var transactionalId: [String] = []
        @Option(
            name: .customLong("resource-pattern-type"),
            help: "literal or prefixed (add); also any or match (list, remove). Default literal; list: any.")
        var patternType: String?

        func resources() -> [(AclResourceType, String)] {
            topic.map { (AclResourceType.topic, $0) } + group.map { (.group, $0) }
                + (cluster ? [(.cluster, aclClusterResourceName)] : []) + transactionalId.map { (.transactionalId, $0) }
        }

        func pattern(default fallback: AclPatternType, allowFilters: Bool) throws -> AclPatternType {
            guard let patternType else { return fallback }
            guard let parsed = AclPatternType(name: patternType), parsed != .unknown,
                allowFilters || parsed == .literal || parsed == .prefixed
            else {
                throw ValidationError(
                    "--resource-pattern-type takes \(allowFilters ? "literal, prefixed, any or match" : "literal or prefixed")"
                )
            }
            return parsed
        }
    }

    /// Who and how, for add and remove.
    struct RuleOptions: ParsableArguments, Sendable {
        @Option(
            name: .customLong("allow-principal"),
            help: "Principal to allow, Type:Name (User:alice, User:*); repeatable.")
        var allowPrincipals: [String] = []
        @Option(name: .customLong("deny-principal"), help: "Principal to deny; repeatable.")
        var denyPrincipals: [String] = []
        @Option(
            name: .customLong("allow-host"), help: "Client address the allow rules apply to (default *); repeatable.")
        var allowHosts: [String] = []
        @Option(name: .customLong("deny-host"), help: "Client address the deny rules apply to (default *); repeatable.")
        var denyHosts: [String] = []
        @Option(
            name: .customLong("operation"),
            help:
                "Read, Write, Create, Delete, Alter, Describe, DescribeConfigs, AlterConfigs, IdempotentWrite or All; repeatable."
        )
        var operations: [String] = []
        @Flag(
            help:
                "Producer rights: Write, Describe and Create on the topics, Write and Describe on the transactional ids."
        )
        var producer = false
        @Flag(help: "Consumer rights: Read and Describe on the topics, Read on the groups.")
        var consumer = false

        func parsedOperations() throws -> [AclOperation] {
            try operations.map { name in
                guard let operation = AclOperation(name: name), operation != .unknown, operation != .any else {
                    throw ValidationError("unknown operation '\(name)'")
                }
                return operation
            }
        }

        /// (permission, principal, host) of every rule the options name.
        func grants() -> [(AclPermissionType, String, String)] {
            let allowHosts = self.allowHosts.isEmpty ? ["*"] : self.allowHosts
            let denyHosts = self.denyHosts.isEmpty ? ["*"] : self.denyHosts
            return allowPrincipals.flatMap { principal in allowHosts.map { (.allow, principal, $0) } }
                + denyPrincipals.flatMap { principal in denyHosts.map { (.deny, principal, $0) } }
        }

        /// The operations on one resource type: the explicit ones, or those --producer and --consumer imply.
        func operations(for type: AclResourceType, explicit: [AclOperation]) -> [AclOperation] {
            var result = explicit
            func add(_ operations: [AclOperation]) {
                for operation in operations where !result.contains(operation) { result.append(operation) }
            }
            if producer {
                switch type {
                case .topic: add([.write, .describe, .create])
                case .transactionalId: add([.write, .describe])
                default: break
                }
            }
            if consumer {
                switch type {
                case .topic: add([.read, .describe])
                case .group: add([.read])
                default: break
                }
            }
            return result
        }
    }

    struct List: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "List ACLs: all, or those on the named resources.",
            discussion: "Example:\n  skein acls list --topic logs --resource-pattern-type match")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var resources: ResourceOptions
        @Option(help: "Only ACLs of this principal.") var principal: String?

        func run() async throws {
            let pattern = try resources.pattern(default: .any, allowFilters: true)
            let named = resources.resources()
            let filters: [AclFilter] =
                named.isEmpty
                ? [AclFilter(patternType: pattern.rawValue, principal: principal)]
                : named.map {
                    AclFilter(
                        resourceType: $0.0.rawValue, resourceName: $0.1, patternType: pattern.rawValue,
                        principal: principal)
                }
            try await connection.withAdmin { admin in
                var rows = [["RESOURCE-TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]]
                var seen = Set<AdminClient.AclEntry>()
                for filter in filters {
                    for acl in try await admin.describeAcls(filter) where seen.insert(acl).inserted {
                        rows.append(AclsCommand.row(acl))
                    }
                }
                print(table(rows), terminator: "")
            }
        }
    }

    struct Add: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Add ACLs: every principal × host × operation × resource named.",
            discussion: "Example:\n  skein acls add --allow-principal User:alice --operation Read --topic logs")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var resources: ResourceOptions
        @OptionGroup var rules: RuleOptions

        func validate() throws {
            if resources.resources().isEmpty {
                throw ValidationError("name a resource: --topic, --group, --cluster or --transactional-id")
            }
            if rules.grants().isEmpty { throw ValidationError("name --allow-principal or --deny-principal") }
            if try rules.parsedOperations().isEmpty && !rules.producer && !rules.consumer {
                throw ValidationError("name an --operation (or --producer, --consumer)")
            }
        }

        func run() async throws {
            let pattern = try resources.pattern(default: .literal, allowFilters: false)
            let explicit = try rules.parsedOperations()
            var acls: [AdminClient.AclEntry] = []
            for (type, name) in resources.resources() {
                for operation in rules.operations(for: type, explicit: explicit) {
                    for (permission, principal, host) in rules.grants() {
                        acls.append(
                            .init(
                                resourceType: type, resourceName: name,
                                patternType: type == .cluster ? .literal : pattern, principal: principal, host: host,
                                operation: operation, permission: permission))
                    }
                }
            }
            let toAdd = acls
            try await connection.withAdmin { admin in
                try await admin.createAcls(toAdd)
                var rows = [["RESOURCE-TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]]
                rows += toAdd.map(AclsCommand.row)
                print("Added:")
                print(table(rows), terminator: "")
            }
        }
    }

    struct Remove: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Remove ACLs on the named resources; without principals or operations, all of them.",
            discussion: "Example:\n  skein acls remove --allow-principal User:alice --operation Read --topic logs")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var resources: ResourceOptions
        @OptionGroup var rules: RuleOptions

        func validate() throws {
            if resources.resources().isEmpty {
                throw ValidationError("name a resource: --topic, --group, --cluster or --transactional-id")
            }
        }

        func run() async throws {
            let pattern = try resources.pattern(default: .literal, allowFilters: true)
            let explicit = try rules.parsedOperations()
            var filters: [AclFilter] = []
            for (type, name) in resources.resources() {
                let operations = rules.operations(for: type, explicit: explicit)
                let grants: [(AclPermissionType, String?, String?)] =
                    rules.grants().isEmpty
                    ? [(.any, nil, nil)]
                    : rules.grants().map { permission, principal, host in
                        (permission, principal, host == "*" && !hostNamed(permission) ? nil : host)
                    }
                for operation in operations.isEmpty ? [AclOperation.any] : operations {
                    for (permission, principal, host) in grants {
                        filters.append(
                            AclFilter(
                                resourceType: type.rawValue, resourceName: name,
                                patternType: (type == .cluster ? .literal : pattern).rawValue, principal: principal,
                                host: host, operation: operation.rawValue, permissionType: permission.rawValue))
                    }
                }
            }
            let toDelete = filters
            try await connection.withAdmin { admin in
                let deleted = try await admin.deleteAcls(toDelete)
                var rows = [["RESOURCE-TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]]
                rows += deleted.map(AclsCommand.row)
                print("Removed \(deleted.count):")
                print(table(rows), terminator: "")
            }
        }

        /// Whether the command line named hosts for this permission; unnamed means any host.
        func hostNamed(_ permission: AclPermissionType) -> Bool {
            permission == .allow ? !rules.allowHosts.isEmpty : !rules.denyHosts.isEmpty
        }
    }

    static func row(_ acl: AdminClient.AclEntry) -> [String] {
        [
            acl.resourceType.description, acl.resourceName, acl.patternType.description, acl.principal, acl.host,
            acl.operation.description, acl.permission.description,
        ]
    }
}
