/// RFC 4616 PLAIN: one message, `[authzid] NUL authcid NUL passwd`.
public enum PLAINMessage {
    public struct Parsed: Equatable, Sendable {
        public var user: String
        public var password: String
    }

    /// Kafka's rule for the authorization identity: empty, or the user name itself.
    public static func parse(_ bytes: [UInt8]) throws(SASLFailure) -> Parsed {
        let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let authzid = String(validating: parts[0], as: UTF8.self),
            let user = String(validating: parts[1], as: UTF8.self),
            let password = String(validating: parts[2], as: UTF8.self), !user.isEmpty, !password.isEmpty,
            !parts[2].contains(0)
        else { throw SASLFailure(.malformed, "PLAIN message must be authzid NUL user NUL password") }
        guard authzid.isEmpty || authzid == user else {
            throw SASLFailure(.unsupported, "authorization identity must be empty or the user name")
        }
        return Parsed(user: user, password: password)
    }

    public static func make(user: String, password: String) -> [UInt8] {
        [0] + Array(user.utf8) + [0] + Array(password.utf8)
    }
}
