import Foundation
import SkeinLog
import SkeinMetrics
import SkeinProtocol
import Synchronization

/// The authorizer settings, with Kafka's names (README "Authorization (ACLs)").
public struct AuthorizerConfig: Sendable, Equatable {
    /// `authorizer.class.name`: empty means no authorizer (every request allowed, the ACL APIs answer
    /// SECURITY_DISABLED). Any other value turns on the one authorizer skeind has, so a Kafka
    /// `server.properties` naming `kafka.security.authorizer.AclAuthorizer` or
    /// `org.apache.kafka.metadata.authorizer.StandardAuthorizer` works unchanged; `skein` is the short form.
    public var className = ""
    /// `super.users`: principals exempt from ACLs, `User:admin;User:ops` as in Kafka.
    public var superUsers: Set<String> = []
    /// `allow.everyone.if.no.acl.found`: what a resource without any ACL gives.
    public var allowEveryoneIfNoAclFound = false

    public init() {}

    public var enabled: Bool { !className.isEmpty }

    /// Kafka's `super.users` syntax: principals separated by semicolons (commas belong inside
    /// certificate-subject principals, so they cannot separate).
    static func parseSuperUsers(_ text: String) -> Set<String> {
        Set(text.split(separator: ";").map { $0.trimmingSpaces }.filter { !$0.isEmpty })
    }
}

/// Decides whether a principal may do an operation on a resource, and keeps the ACLs (`acls.json` in the
/// data directory, rewritten atomically on every change, read at start).
///
/// Checks sit on the produce and fetch path, so the ACLs that apply to a resource are found once and kept
/// in a cache keyed by resource, which every change of the ACLs empties (with the version counter) under
/// the same lock. A change therefore applies to the next request of every connection, open or new; no
/// connection keeps decisions of its own.
public final class Authorizer: Sendable {
    public static let fileName = "acls.json"
    /// Entries of the resource cache before it starts over: a client naming random topics cannot grow it.
    static let cacheLimit = 50_000

    public let config: AuthorizerConfig
    private let path: String?
    private let state: Mutex<State>
    /// Serialises changes, so the file write happens outside `state` and checks never wait for an fsync.
    private let changeLock = Mutex(())
    private let denials: MetricFamily<Counter>?

    struct ResourceKey: Hashable {
        var type: AclResourceType
        var name: String
    }

    /// The ACLs that apply to one resource, by principal, so a check reads only the principal's own and
    /// the `User:*` ones however many other principals have ACLs on the resource.
    struct Applicable {
        var any: Bool
        var byPrincipal: [String: [AclBinding]]

        init(_ acls: [AclBinding]) {
            any = !acls.isEmpty
            byPrincipal = Dictionary(grouping: acls, by: \.principal)
        }
    }

    struct State {
        var acls: [AclBinding] = []
        var byType: [AclResourceType: [AclBinding]] = [:]
        var version: UInt64 = 0
        var cache: [ResourceKey: Applicable] = [:]

        init(acls: [AclBinding]) {
            self.acls = acls
            byType = Dictionary(grouping: acls, by: \.resourceType)
        }
    }

    /// `dataDirectory` nil keeps the ACLs in memory only (tests).
    public init(config: AuthorizerConfig, dataDirectory: String?, metrics: MetricsRegistry? = nil) throws {
        self.config = config
        path = dataDirectory.map { $0 + "/" + Self.fileName }
        var stored: [AclBinding] = []
        if let path, let bytes = try DurableFile.read(path) {
            stored = try JSONDecoder().decode([StoredAcl].self, from: Data(bytes)).map { try $0.binding() }
        }
        state = Mutex(State(acls: stored))
        denials = metrics?.counterFamily(
            "skein_authorization_denied_total",
            help: "Requests (or parts of requests: one topic, one group) refused by the authorizer, by operation "
                + "and resource type.",
            labelNames: ["operation", "resource_type"])
    }

    public var enabled: Bool { config.enabled }
    /// Counts changes of the ACLs since start.
    public var version: UInt64 { state.withLock { $0.version } }
    public var acls: [AclBinding] { state.withLock { $0.acls } }

    /// Whether `principal`, connected from `remote`, may do `operation` on the resource. Always true
    /// without an authorizer or for a super user. `countDenial` false for checks that only filter a
    /// listing (Metadata of all topics, ListGroups), as Kafka does not log those either.
    public func authorize(
        principal: KafkaPrincipal, remote: String, _ operation: AclOperation, _ type: AclResourceType,
        _ name: String, countDenial: Bool = true
    ) -> Bool {
        guard config.enabled else { return true }
        let principalText = principal.description
        if config.superUsers.contains(principalText) { return true }
        let applicable = applicableAcls(ResourceKey(type: type, name: name))
        let own = applicable.byPrincipal[principalText] ?? []
        let everyone = applicable.byPrincipal[AclBinding.wildcardPrincipal] ?? []
        let allowed = AclRules.decide(
            candidates: [own, everyone].joined(), anyAclOnResource: applicable.any, principal: principalText,
            host: { AclRules.clientAddress(fromRemote: remote) }, operation: operation,
            allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound)
        if !allowed && countDenial { denials?.labels(operation.description, type.description).increment() }
        return allowed
    }

    /// KIP-679: may the principal do `operation` on some resource of `type` (idempotent producers need
    /// WRITE on some topic when they lack IDEMPOTENT_WRITE on the cluster).
    public func authorizeAny(
        principal: KafkaPrincipal, remote: String, _ operation: AclOperation, _ type: AclResourceType
    ) -> Bool {
        guard config.enabled else { return true }
        let principalText = principal.description
        if config.superUsers.contains(principalText) { return true }
        let ofType = state.withLock { $0.byType[type] ?? [] }
        return AclRules.decideAnyResource(
            ofType: ofType, principal: principalText, host: { AclRules.clientAddress(fromRemote: remote) },
            operation: operation, allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound)
    }

    private func applicableAcls(_ key: ResourceKey) -> Applicable {
        state.withLock { state in
            if let cached = state.cache[key] { return cached }
            let found = Applicable((state.byType[key.type] ?? []).filter { $0.applies(to: key.name) })
            if state.cache.count >= Self.cacheLimit { state.cache.removeAll(keepingCapacity: true) }
            state.cache[key] = found
            return found
        }
    }

    // MARK: Changes

    /// Adds ACLs (one already there is not added twice) and saves them before anyone sees them.
    public func create(_ bindings: [AclBinding]) throws {
        try change { acls in
            var present = Set(acls)
            for binding in bindings where present.insert(binding).inserted { acls.append(binding) }
        }
    }

    /// Deletes what each filter matches; returns the deleted ACLs per filter (an ACL two filters match
    /// is listed under both, as Kafka does).
    public func delete(_ filters: [AclBindingFilter]) throws -> [[AclBinding]] {
        var matched: [[AclBinding]] = []
        try change { acls in
            matched = filters.map { filter in acls.filter { filter.matches($0) } }
            let doomed = Set(matched.joined())
            acls.removeAll { doomed.contains($0) }
        }
        return matched
    }

    public func describe(_ filter: AclBindingFilter) -> [AclBinding] {
        state.withLock { $0.acls.filter { filter.matches($0) } }
    }

    private func change(_ body: (inout [AclBinding]) -> Void) throws {
        try changeLock.withLock { _ in
            var acls = state.withLock { $0.acls }
            let before = acls
            body(&acls)
            if acls == before { return }
            if let path {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try DurableFile.write(path, Array(try encoder.encode(acls.map(StoredAcl.init))))
            }
            state.withLock { state in
                let version = state.version &+ 1
                state = State(acls: acls)
                state.version = version
            }
        }
    }
}

/// The file form: Kafka's names rather than numbers, so an operator can read it.
struct StoredAcl: Codable {
    var resourceType: String
    var resourceName: String
    var patternType: String
    var principal: String
    var host: String
    var operation: String
    var permission: String

    init(_ acl: AclBinding) {
        resourceType = acl.resourceType.description
        resourceName = acl.resourceName
        patternType = acl.patternType.description
        principal = acl.principal
        host = acl.host
        operation = acl.operation.description
        permission = acl.permission.description
    }

    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    func binding() throws -> AclBinding {
        guard let type = AclResourceType(name: resourceType), let pattern = AclPatternType(name: patternType),
            let operation = AclOperation(name: operation),
            let permission = AclPermissionType(name: permission)
        else { throw Unreadable(description: "\(Authorizer.fileName): unreadable ACL \(self)") }
        return AclBinding(
            resourceType: type, resourceName: resourceName, patternType: pattern, principal: principal, host: host,
            operation: operation, permission: permission)
    }
}
