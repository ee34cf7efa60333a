import NIOSSL

/// Kafka's `ssl.principal.mapping.rules`: a list of `RULE:pattern/replacement/[LU]` and `DEFAULT`, tried in
/// order on a client certificate's subject (RFC 2253 form, `CN=alice,OU=eng,O=Acme,C=US`); the first rule
/// whose pattern matches the whole subject gives the principal name, `DEFAULT` gives the subject itself.
/// A subject no rule matches is refused, as in Kafka.
public struct PrincipalMapping: Sendable, Equatable {
    public enum Rule: Sendable, Equatable {
        case keepSubject
        case rewrite(pattern: String, replacement: String, caseChange: CaseChange?)
    }

    public enum CaseChange: Sendable, Equatable { case lower, upper }

    public struct InvalidRules: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public var rules: [Rule]

    public static let `default` = PrincipalMapping(validRules: [.keepSubject])

    init(validRules: [Rule]) { rules = validRules }

    public init(rules text: String) throws(InvalidRules) {
        var rules: [Rule] = []
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "," }
            if rest.isEmpty { break }
            if rest.hasPrefix("DEFAULT") {
                rules.append(.keepSubject)
                rest = rest.dropFirst("DEFAULT".count)
            } else if rest.hasPrefix("RULE:") {
                rest = rest.dropFirst("RULE:".count)
                let pattern = try Self.readUntilSlash(&rest)
                let replacement = try Self.readUntilSlash(&rest)
                var caseChange: CaseChange?
                if rest.first == "L" {
                    caseChange = .lower
                    rest = rest.dropFirst()
                } else if rest.first == "U" {
                    caseChange = .upper
                    rest = rest.dropFirst()
                }
                do {
                    _ = try Regex(pattern)
                } catch {
                    throw InvalidRules(description: "pattern \(pattern) is not a regular expression: \(error)")
                }
                rules.append(.rewrite(pattern: pattern, replacement: replacement, caseChange: caseChange))
            } else {
                throw InvalidRules(
                    description: "expected DEFAULT or RULE:pattern/replacement/[LU] at \(rest.prefix(20))")
            }
            let next = rest.drop { $0 == " " || $0 == "\t" }
            guard next.isEmpty || next.first == "," || next.first == "\n" else {
                throw InvalidRules(description: "unexpected \(next.prefix(20)) after a rule")
            }
            rest = next
        }
        guard !rules.isEmpty else { throw InvalidRules(description: "no rules") }
        self.rules = rules
    }

    /// Up to the next `/` not escaped by a backslash (which is kept, as the regex needs it), then past it.
    private static func readUntilSlash(_ text: inout Substring) throws(InvalidRules) -> String {
        var out = ""
        var escaped = false
        while let character = text.first {
            text = text.dropFirst()
            if escaped {
                out.append(character == "/" ? "/" : "\\\(character)")
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "/" {
                return out
            } else {
                out.append(character)
            }
        }
        throw InvalidRules(description: "a RULE needs pattern/replacement/")
    }

    /// The principal name for `subject`, or nil when no rule matches.
    public func name(for subject: String) -> String? {
        for rule in rules {
            switch rule {
            case .keepSubject:
                return subject
            case .rewrite(let pattern, let replacement, let caseChange):
                guard let regex = try? Regex(pattern), let match = try? regex.wholeMatch(in: subject) else { continue }
                var result = ""
                var characters = Substring(replacement)
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if character == "$", let digit = characters.first?.wholeNumberValue {
                        characters = characters.dropFirst()
                        if digit < match.output.count, let group = match.output[digit].substring {
                            result += group
                        }
                    } else {
                        result.append(character)
                    }
                }
                switch caseChange {
                case .lower: return result.lowercased()
                case .upper: return result.uppercased()
                case nil: return result
                }
            }
        }
        return nil
    }
}

extension NIOSSLCertificate {
    /// The subject as RFC 2253 writes it (and Java's `X500Principal.getName()`, hence Kafka): the most
    /// specific attribute first, `CN=alice,OU=eng,O=Acme,C=US`, special characters escaped.
    public var subjectDistinguishedName: String {
        subjectName.reversed().map { "\(Self.attributeName($0.type))=\(Self.escape($0.value))" }.joined(separator: ",")
    }

    private static func attributeName(_ type: SSLCertificateNameType) -> String {
        switch type {
        case .commonName: "CN"
        case .organizationalUnit: "OU"
        case .organization: "O"
        case .city: "L"
        case .state: "ST"
        case .country: "C"
        case .emailAddress: "EMAILADDRESS"
        case .userId: "UID"
        default: "OID"
        }
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for (index, character) in value.enumerated() {
            let special = ",+\"\\<>;".contains(character)
            let leading = index == 0 && (character == "#" || character == " ")
            let trailing = index == value.count - 1 && character == " "
            if special || leading || trailing { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
