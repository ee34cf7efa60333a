import SkeinProtocol

/// Kafka's authorization rules over the ACLs that apply to one resource, as pure functions so they can be
/// tested without a broker. `Authorizer` finds the applicable ACLs and caches them.
enum AclRules {
    static func principalMatches(_ acl: AclBinding, _ principal: String) -> Bool {
        acl.principal == principal || acl.principal == AclBinding.wildcardPrincipal
    }

    /// `host` is asked only when an ACL names one, so the common `*` ACLs never parse the peer address.
    static func hostMatches(_ acl: AclBinding, _ host: () -> String) -> Bool {
        acl.host == AclBinding.wildcardHost || acl.host == host()
    }

    /// The decision for one request on one resource, given every ACL that applies to that resource (any
    /// principal): no ACL at all gives `allowEveryoneIfNoAclFound`; otherwise a matching DENY (the
    /// operation or ALL) wins over everything, and a matching ALLOW of a granting operation is needed.
    static func decide(
        applicable acls: [AclBinding], principal: String, host: () -> String, operation: AclOperation,
        allowEveryoneIfNoAclFound: Bool
    ) -> Bool {
        decide(
            candidates: acls, anyAclOnResource: !acls.isEmpty, principal: principal, host: host,
            operation: operation, allowEveryoneIfNoAclFound: allowEveryoneIfNoAclFound)
    }

    /// The same, over `candidates` that may be only some of the ACLs on the resource (those of the principal
    /// and of `User:*`, as `Authorizer` indexes them); `anyAclOnResource` says whether the resource has any.
    static func decide(
        candidates: some Sequence<AclBinding>, anyAclOnResource: Bool, principal: String, host: () -> String,
        operation: AclOperation, allowEveryoneIfNoAclFound: Bool
    ) -> Bool {
        if !anyAclOnResource { return allowEveryoneIfNoAclFound }
        var allowed = false
        for acl in candidates where principalMatches(acl, principal) {
            switch acl.permission {
            case .deny where acl.operation == operation || acl.operation == .all:
                if hostMatches(acl, host) { return false }
            case .allow where !allowed && grants(acl.operation, operation):
                if hostMatches(acl, host) { allowed = true }
            default: continue
            }
        }
        return allowed
    }

    /// Whether an ALLOW of operation `granted` allows `operation`: itself and ALL, and for the two describe
    /// operations those that imply them (whoever may read, write, delete or alter a resource may see it;
    /// whoever may alter configs may see them). DENY never goes through this: a DENY on READ does not hide
    /// a topic.
    static func grants(_ granted: AclOperation, _ operation: AclOperation) -> Bool {
        if granted == operation || granted == .all { return true }
        switch operation {
        case .describe: return granted == .read || granted == .write || granted == .delete || granted == .alter
        case .describeConfigs: return granted == .alterConfigs
        default: return false
        }
    }

    /// KIP-679's question "may this principal do `operation` on some resource of this type", asked of
    /// every ACL of the type: an ALLOW on some pattern that no DENY of the same principal covers (a DENY on
    /// literal `*` covers all; a DENY prefix covers the patterns that start with it; a literal DENY covers
    /// the same literal). No ACL of the type at all gives `allowEveryoneIfNoAclFound`.
    static func decideAnyResource(
        ofType acls: [AclBinding], principal: String, host: () -> String, operation: AclOperation,
        allowEveryoneIfNoAclFound: Bool
    ) -> Bool {
        if acls.isEmpty { return allowEveryoneIfNoAclFound }
        var allows: [AclBinding] = []
        var denies: [AclBinding] = []
        for acl in acls where principalMatches(acl, principal) && hostMatches(acl, host) {
            if acl.permission == .deny && (acl.operation == operation || acl.operation == .all) {
                if acl.patternType == .literal && acl.resourceName == AclBinding.wildcardResource { return false }
                denies.append(acl)
            } else if acl.permission == .allow && grants(acl.operation, operation) {
                allows.append(acl)
            }
        }
        return allows.contains { allow in
            !denies.contains { deny in
                switch deny.patternType {
                case .prefixed: allow.resourceName.hasPrefix(deny.resourceName)
                case .literal: allow.patternType == .literal && allow.resourceName == deny.resourceName
                default: false
                }
            }
        }
    }

    /// The client's IP address from NIO's description of the peer (`[IPv4]host/10.0.0.1:52100`,
    /// `[IPv6]::1/::1:52100`), the form ACL hosts name.
    static func clientAddress(fromRemote remote: String) -> String {
        var text = Substring(remote)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") { text = text[text.index(after: close)...] }
        if let slash = text.lastIndex(of: "/") { text = text[text.index(after: slash)...] }
        if let colon = text.lastIndex(of: ":") { text = text[..<colon] }
        if text.hasPrefix("[") && text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        return String(text)
    }
}
