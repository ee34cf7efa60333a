import Foundation

/// Why a SASL exchange ended without a login. The description is what the client is told and what the
/// broker logs, so it never contains a password, a proof or a key.
public struct SASLFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        /// The client's message does not follow the mechanism's grammar.
        case malformed
        /// Wrong password, or no such user (deliberately the same answer).
        case badCredentials = "bad_credentials"
        /// Something the mechanism allows but this broker does not do (channel binding, authzid for another user).
        case unsupported
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

/// RFC 5802's saslname: user names travel with `,` as `=2C` and `=` as `=3D`.
public enum SASLName {
    public static func escape(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    /// Nil when an `=` is followed by anything but `2C` or `3D` (RFC 5802 §5.1: the server must fail).
    public static func unescape(_ text: Substring) -> String? {
        var result = ""
        var rest = text[...]
        while let equals = rest.firstIndex(of: "=") {
            result += rest[..<equals]
            let code = rest[rest.index(after: equals)...].prefix(2)
            switch code {
            case "2C": result += ","
            case "3D": result += "="
            default: return nil
            }
            rest = rest[rest.index(equals, offsetBy: 3)...]
        }
        return result + rest
    }
}

/// The SCRAM messages, parsed by their RFC 5802 §7 grammar: `attr=value` pairs separated by commas.
public enum SCRAMMessages {
    /// The client's first message: `gs2-header client-first-message-bare`.
    public struct ClientFirst: Equatable, Sendable {
        public var gs2Header: String
        public var bare: String
        public var user: String
        public var nonce: String

        /// Only `n` (no channel binding) and `y` (client could bind, thinks the server cannot) are taken;
        /// this server offers no `-PLUS` mechanism, so `p=` is refused as RFC 5802 asks.
        public static func parse(_ bytes: [UInt8]) throws(SASLFailure) -> ClientFirst {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw SASLFailure(.malformed, "client-first-message is not UTF-8")
            }
            let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { throw SASLFailure(.malformed, "client-first-message has no gs2 header") }
            switch parts[0] {
            case "n", "y": break
            case let flag where flag.hasPrefix("p="):
                throw SASLFailure(.unsupported, "channel binding is not supported")
            default: throw SASLFailure(.malformed, "invalid gs2 channel-binding flag")
            }
            let bare = String(parts[2])
            let attributes = try SCRAMMessages.attributes(bare)
            guard attributes.count >= 2, attributes[0].key == "n", attributes[1].key == "r" else {
                if attributes.first?.key == "m" {
                    throw SASLFailure(.unsupported, "mandatory extensions are not supported")
                }
                throw SASLFailure(.malformed, "client-first-message must start with n= and r=")
            }
            guard let user = SASLName.unescape(attributes[0].value), !user.isEmpty else {
                throw SASLFailure(.malformed, "invalid user name encoding")
            }
            let nonce = String(attributes[1].value)
            guard !nonce.isEmpty else { throw SASLFailure(.malformed, "empty client nonce") }
            if !parts[1].isEmpty {
                guard parts[1].hasPrefix("a="), let authzid = SASLName.unescape(parts[1].dropFirst(2)) else {
                    throw SASLFailure(.malformed, "invalid authorization identity")
                }
                guard authzid == user else {
                    throw SASLFailure(.unsupported, "authorization identity must be the user name")
                }
            }
            return ClientFirst(gs2Header: "\(parts[0]),\(parts[1]),", bare: bare, user: user, nonce: nonce)
        }

        public static func make(user: String, nonce: String) -> String {
            "n,,n=\(SASLName.escape(user)),r=\(nonce)"
        }
    }

    public struct ServerFirst: Equatable, Sendable {
        public var nonce: String
        public var salt: [UInt8]
        public var iterations: Int

        public var text: String { "r=\(nonce),s=\(Data(salt).base64EncodedString()),i=\(iterations)" }

        public static func parse(_ bytes: [UInt8]) throws(SASLFailure) -> ServerFirst {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw SASLFailure(.malformed, "server-first-message is not UTF-8")
            }
            let attributes = try SCRAMMessages.attributes(text)
            if attributes.first?.key == "e" {
                throw SASLFailure(.badCredentials, "server error: \(attributes[0].value)")
            }
            guard attributes.count >= 3, attributes[0].key == "r", attributes[1].key == "s", attributes[2].key == "i",
                let salt = Data(base64Encoded: String(attributes[1].value)), let iterations = Int(attributes[2].value),
                iterations > 0
            else { throw SASLFailure(.malformed, "server-first-message must be r=, s=, i=") }
            return ServerFirst(nonce: String(attributes[0].value), salt: Array(salt), iterations: iterations)
        }
    }

    /// The client's final message: `c=` (the gs2 header, base64), `r=` (the whole nonce), `p=` (the proof).
    public struct ClientFinal: Equatable, Sendable {
        public var channelBinding: [UInt8]
        public var nonce: String
        public var proof: [UInt8]
        /// Everything before `,p=`: part of the AuthMessage both sides sign.
        public var withoutProof: String

        public static func parse(_ bytes: [UInt8]) throws(SASLFailure) -> ClientFinal {
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw SASLFailure(.malformed, "client-final-message is not UTF-8")
            }
            guard let proofStart = text.range(of: ",p=", options: .backwards) else {
                throw SASLFailure(.malformed, "client-final-message has no proof")
            }
            let withoutProof = String(text[..<proofStart.lowerBound])
            let attributes = try SCRAMMessages.attributes(withoutProof)
            guard attributes.count >= 2, attributes[0].key == "c", attributes[1].key == "r",
                let binding = Data(base64Encoded: String(attributes[0].value)),
                let proof = Data(base64Encoded: String(text[proofStart.upperBound...]))
            else { throw SASLFailure(.malformed, "client-final-message must be c=, r=, p=") }
            return ClientFinal(
                channelBinding: Array(binding), nonce: String(attributes[1].value), proof: Array(proof),
                withoutProof: withoutProof)
        }
    }

    struct Attribute {
        var key: Character
        var value: Substring
    }

    /// Splits `a=v,b=w`; every attribute name is one ASCII letter.
    static func attributes(_ text: String) throws(SASLFailure) -> [Attribute] {
        var result: [Attribute] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, key.isASCII, key.isLetter,
                part[part.index(after: part.startIndex)] == "="
            else { throw SASLFailure(.malformed, "invalid SCRAM attribute") }
            result.append(Attribute(key: key, value: part.dropFirst(2)))
        }
        return result
    }
}
