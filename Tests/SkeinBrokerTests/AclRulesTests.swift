import Foundation
import SkeinMetrics
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// Kafka's authorization rules as pure functions: which ACLs apply to a resource, DENY over ALLOW, the
/// operations that imply others, wildcards, hosts, the no-ACL default, super users, and the filters of
/// DescribeAcls and DeleteAcls.
@Suite struct AclRulesTests {
    static let alice = KafkaPrincipal(name: "alice")
    static let bob = KafkaPrincipal(name: "bob")
    static let remote = "[IPv4]127.0.0.1/127.0.0.1:50000"

    func allow(
        _ operation: AclOperation, _ name: String, _ pattern: AclPatternType = .literal,
        type: AclResourceType = .topic, principal: String = "User:alice", host: String = "*"
    ) -> AclBinding {
        AclBinding(
            resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host,
            operation: operation, permission: .allow)
    }

    func deny(
        _ operation: AclOperation, _ name: String, _ pattern: AclPatternType = .literal,
        type: AclResourceType = .topic, principal: String = "User:alice", host: String = "*"
    ) -> AclBinding {
        var binding = allow(operation, name, pattern, type: type, principal: principal, host: host)
        binding.permission = .deny
        return binding
    }

    func authorizer(
        _ acls: [AclBinding], superUsers: String = "", allowEveryone: Bool = false
    ) throws -> Authorizer {
        var config = AuthorizerConfig()
        config.className = "skein"
        config.superUsers = AuthorizerConfig.parseSuperUsers(superUsers)
        config.allowEveryoneIfNoAclFound = allowEveryone
        let authorizer = try Authorizer(config: config, dataDirectory: nil)
        try authorizer.create(acls)
        return authorizer
    }

    func may(
        _ authorizer: Authorizer, _ operation: AclOperation, _ name: String, type: AclResourceType = .topic,
        as principal: KafkaPrincipal = alice, remote: String = remote
    ) -> Bool {
        authorizer.authorize(principal: principal, remote: remote, operation, type, name)
    }

    @Test func aLiteralAclNamesOneResourceOnly() throws {
        let acls = try authorizer([allow(.read, "logs")])
        #expect(may(acls, .read, "logs"))
        #expect(!may(acls, .read, "logs2"))
        #expect(!may(acls, .read, "log"))
        #expect(!may(acls, .write, "logs"))
        #expect(!may(acls, .read, "logs", as: Self.bob))
        #expect(!may(acls, .read, "logs", type: .group))
    }

    @Test func aPrefixedAclNamesEveryResourceStartingWithIt() throws {
        let acls = try authorizer([allow(.write, "app-", .prefixed)])
        #expect(may(acls, .write, "app-"))
        #expect(may(acls, .write, "app-web"))
        #expect(!may(acls, .write, "ap"))
        #expect(!may(acls, .write, "other-app-web"))
    }

    @Test func theWildcardResourceAndPrincipalMatchEverything() throws {
        let acls = try authorizer([allow(.read, "*", principal: "User:*"), allow(.write, "*", type: .group)])
        #expect(may(acls, .read, "anything"))
        #expect(may(acls, .read, "anything", as: Self.bob))
        #expect(may(acls, .write, "g", type: .group))
        #expect(!may(acls, .write, "g", type: .group, as: Self.bob))
        // A prefixed "*" is a prefix like any other, not the wildcard.
        let prefixedStar = try authorizer([allow(.read, "*", .prefixed)])
        #expect(!may(prefixedStar, .read, "logs"))
        #expect(may(prefixedStar, .read, "*logs"))
    }

    @Test func denyWinsOverAllowWhereverItComesFrom() throws {
        let acls = try authorizer([
            allow(.all, "*", principal: "User:*"), deny(.write, "secret-", .prefixed),
            deny(.read, "audit", principal: "User:*"),
        ])
        #expect(may(acls, .write, "public"))
        #expect(!may(acls, .write, "secret-keys"))
        #expect(may(acls, .write, "secret-keys", as: Self.bob))
        #expect(!may(acls, .read, "audit"))
        #expect(!may(acls, .read, "audit", as: Self.bob))
        // DENY of one operation leaves the others, including the DESCRIBE that READ would have implied.
        #expect(may(acls, .write, "audit"))
        #expect(may(acls, .describe, "audit"))
        let denyAll = try authorizer([allow(.read, "t"), deny(.all, "t")])
        #expect(!may(denyAll, .read, "t"))
        #expect(!may(denyAll, .describe, "t"))
    }

    @Test func readWriteDeleteAndAlterImplyDescribeAndAlterConfigsImpliesDescribeConfigs() throws {
        for operation in [AclOperation.read, .write, .delete, .alter, .describe, .all] {
            let acls = try authorizer([allow(operation, "t")])
            #expect(may(acls, .describe, "t"), "\(operation)")
        }
        for operation in [AclOperation.create, .alterConfigs, .describeConfigs, .idempotentWrite] {
            let acls = try authorizer([allow(operation, "t")])
            #expect(!may(acls, .describe, "t"), "\(operation)")
        }
        let alterConfigs = try authorizer([allow(.alterConfigs, "t")])
        #expect(may(alterConfigs, .describeConfigs, "t"))
        // Implication goes one way only.
        let describe = try authorizer([allow(.describe, "t"), allow(.describeConfigs, "u")])
        #expect(!may(describe, .read, "t"))
        #expect(!may(describe, .alterConfigs, "u"))
        let all = try authorizer([allow(.all, aclClusterResourceName, type: .cluster)])
        for operation in [AclOperation.create, .alter, .describe, .idempotentWrite, .alterConfigs] {
            #expect(may(all, operation, aclClusterResourceName, type: .cluster), "\(operation)")
        }
    }

    @Test func aHostInAnAclMatchesThatClientAddressOnly() throws {
        let acls = try authorizer([allow(.read, "t", host: "10.0.0.7"), deny(.write, "t", host: "127.0.0.1")])
        #expect(may(acls, .read, "t", remote: "[IPv4]10.0.0.7/10.0.0.7:41000"))
        #expect(!may(acls, .read, "t", remote: "[IPv4]10.0.0.8/10.0.0.8:41000"))
        #expect(!may(acls, .read, "t"))
        let mixed = try authorizer([allow(.write, "t"), deny(.write, "t", host: "127.0.0.1")])
        #expect(!may(mixed, .write, "t"))
        #expect(may(mixed, .write, "t", remote: "[IPv4]10.0.0.7/10.0.0.7:41000"))
        #expect(AclRules.clientAddress(fromRemote: "[IPv6]::1/::1:9092") == "::1")
        #expect(AclRules.clientAddress(fromRemote: "[IPv4]localhost/127.0.0.1:9092") == "127.0.0.1")
        #expect(AclRules.clientAddress(fromRemote: "192.168.1.2:80") == "192.168.1.2")
    }

    @Test func aResourceWithoutAnyAclFollowsAllowEveryoneIfNoAclFound() throws {
        let strict = try authorizer([allow(.read, "other", principal: "User:bob")])
        #expect(!may(strict, .read, "t"))
        let lenient = try authorizer([allow(.read, "other", principal: "User:bob")], allowEveryone: true)
        #expect(may(lenient, .read, "t"))
        // Any ACL on the resource, even for someone else, ends the default.
        let taken = try authorizer([allow(.read, "t", principal: "User:bob")], allowEveryone: true)
        #expect(!may(taken, .read, "t"))
        #expect(may(taken, .read, "t", as: Self.bob))
    }

    @Test func superUsersAreExemptAndParsedAsKafkaDoes() throws {
        #expect(AuthorizerConfig.parseSuperUsers("User:admin; User:ops ;;") == ["User:admin", "User:ops"])
        let acls = try authorizer([deny(.all, "*", principal: "User:admin")], superUsers: "User:admin;User:ops")
        #expect(may(acls, .delete, "t", as: KafkaPrincipal(name: "admin")))
        #expect(may(acls, .alter, aclClusterResourceName, type: .cluster, as: KafkaPrincipal(name: "ops")))
        #expect(!may(acls, .read, "t"))
    }

    @Test func withoutAnAuthorizerEverythingIsAllowed() throws {
        let authorizer = try Authorizer(config: AuthorizerConfig(), dataDirectory: nil)
        #expect(!authorizer.enabled)
        #expect(may(authorizer, .delete, "t"))
    }

    @Test func idempotentWriteOnAnyTopicFollowsKip679() throws {
        func any(_ acls: [AclBinding]) throws -> Bool {
            try authorizer(acls).authorizeAny(principal: Self.alice, remote: Self.remote, .write, .topic)
        }
        #expect(try any([allow(.write, "t")]))
        #expect(try any([allow(.all, "logs-", .prefixed)]))
        #expect(try !any([allow(.read, "t")]))
        #expect(try !any([allow(.write, "t", principal: "User:bob")]))
        #expect(try !any([allow(.write, "t"), deny(.write, "*")]))
        #expect(try !any([allow(.write, "logs-a", .prefixed), deny(.write, "logs-", .prefixed)]))
        #expect(try any([allow(.write, "logs-a", .prefixed), deny(.write, "logs-b", .prefixed)]))
        #expect(try !any([allow(.write, "t"), deny(.write, "t")]))
    }

    @Test func aChangeAppliesToTheNextCheckThroughTheCache() throws {
        let acls = try authorizer([allow(.write, "t")])
        #expect(may(acls, .write, "t"))
        #expect(may(acls, .write, "t"))
        let before = acls.version
        try acls.create([deny(.write, "t")])
        #expect(acls.version == before + 1)
        #expect(!may(acls, .write, "t"))
        _ = try acls.delete([AclBindingFilter(permission: .deny)])
        #expect(may(acls, .write, "t"))
        // Creating an ACL twice changes nothing.
        let version = acls.version
        try acls.create([allow(.write, "t")])
        #expect(acls.version == version)
        #expect(acls.acls.count == 1)
    }

    @Test func filtersFollowKip290() {
        let literal = allow(.read, "logs")
        let wildcard = allow(.read, "*")
        let prefixed = allow(.read, "lo", .prefixed)
        let other = allow(.read, "metrics", .prefixed)
        let all = [literal, wildcard, prefixed, other]
        func matched(_ filter: AclBindingFilter) -> [AclBinding] { all.filter { filter.matches($0) } }
        #expect(matched(AclBindingFilter(resourceName: "logs", patternType: .literal)) == [literal])
        #expect(matched(AclBindingFilter(patternType: .literal)) == [literal, wildcard])
        #expect(matched(AclBindingFilter(resourceName: "lo", patternType: .prefixed)) == [prefixed])
        #expect(matched(AclBindingFilter(resourceName: "logs", patternType: .prefixed)) == [])
        #expect(matched(AclBindingFilter(resourceName: "lo", patternType: .any)) == [prefixed])
        #expect(matched(AclBindingFilter(resourceName: "logs", patternType: .match)) == [literal, wildcard, prefixed])
        #expect(matched(AclBindingFilter(patternType: .match)) == all)
        #expect(matched(AclBindingFilter()) == all)
        #expect(matched(AclBindingFilter(resourceType: .group)) == [])
        #expect(matched(AclBindingFilter(principal: "User:bob")) == [])
        #expect(matched(AclBindingFilter(host: "*", operation: .read, permission: .allow)) == all)
        #expect(matched(AclBindingFilter(permission: .deny)) == [])
        #expect(AclBindingFilter(wire: AclFilter(resourceType: 0)) == nil)
        #expect(AclBindingFilter(wire: AclFilter(operation: 99)) == nil)
        #expect(AclBindingFilter(wire: AclFilter()) == AclBindingFilter())
    }

    @Test func createRefusesFilterValuesAndMalformedAcls() {
        #expect(allow(.read, "t").invalidReason == nil)
        #expect(allow(.read, aclClusterResourceName, type: .cluster).invalidReason == nil)
        #expect(allow(.read, "t", type: .any).invalidReason != nil)
        #expect(allow(.read, "t", .match).invalidReason != nil)
        #expect(allow(.any, "t").invalidReason != nil)
        #expect(allow(.read, "").invalidReason != nil)
        #expect(allow(.read, "my-cluster", type: .cluster).invalidReason != nil)
        #expect(allow(.read, "t", principal: "alice").invalidReason != nil)
        #expect(allow(.read, "t", principal: "User:").invalidReason != nil)
        var anyPermission = allow(.read, "t")
        anyPermission.permission = .any
        #expect(anyPermission.invalidReason != nil)
    }

    @Test func aclsSurviveInTheDataDirectory() throws {
        let directory = NSTemporaryDirectory() + "skein-acl-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AuthorizerConfig()
        config.className = "kafka.security.authorizer.AclAuthorizer"
        let first = try Authorizer(config: config, dataDirectory: directory)
        let stored = [
            allow(.read, "logs-", .prefixed, host: "10.0.0.1"), deny(.alterConfigs, "t", principal: "User:*"),
            allow(.idempotentWrite, aclClusterResourceName, type: .cluster),
            allow(.describe, "tx", type: .transactionalId),
        ]
        try first.create(stored)
        let text = try String(contentsOfFile: directory + "/" + Authorizer.fileName, encoding: .utf8)
        #expect(text.contains("\"PREFIXED\"") && text.contains("\"ALTER_CONFIGS\"") && text.contains("\"DENY\""))
        let second = try Authorizer(config: config, dataDirectory: directory)
        #expect(second.acls == stored)
        _ = try second.delete([AclBindingFilter(resourceType: .topic)])
        let third = try Authorizer(config: config, dataDirectory: directory)
        #expect(third.acls == Array(stored[2...]))
        // A damaged file stops the broker rather than starting it with no ACLs, which would deny everyone
        // or, with allow.everyone.if.no.acl.found, allow everyone.
        try Data("[{\"resourceType\": \"TOPIK\"}]".utf8).write(to: URL(fileURLWithPath: directory + "/acls.json"))
        #expect(throws: (any Error).self) { try Authorizer(config: config, dataDirectory: directory) }
    }

    @Test func denialsAreCounted() throws {
        let registry = MetricsRegistry()
        var config = AuthorizerConfig()
        config.className = "skein"
        let authorizer = try Authorizer(config: config, dataDirectory: nil, metrics: registry)
        #expect(!may(authorizer, .write, "t"))
        #expect(
            !authorizer.authorize(principal: Self.alice, remote: Self.remote, .read, .topic, "t", countDenial: false))
        let text = registry.render()
        #expect(text.contains("skein_authorization_denied_total{operation=\"WRITE\",resource_type=\"TOPIC\"} 1"))
        #expect(!text.contains("operation=\"READ\""))
    }
}
