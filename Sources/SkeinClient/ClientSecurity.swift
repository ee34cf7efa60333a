import NIOCore
import NIOSSL
import SkeinProtocol

/// How a client connects to brokers: Kafka's `security.protocol` and the `ssl.*` settings, by the names
/// librdkafka and the Java client use, so one properties file serves kcat, the Java tools and `skein`.
/// One struct for every security setting, so SASL's `sasl.*` settings sit beside the TLS ones.
public struct ClientSecurity: Sendable, Equatable {
    /// `security.protocol`.
    public typealias SecurityProtocol = SkeinProtocol.SecurityProtocol

    public var securityProtocol: SecurityProtocol = .plaintext
    /// `ssl.ca.location`: PEM file of the CAs that sign broker certificates; the system's store when nil.
    public var caLocation: String?
    /// `ssl.certificate.location` and `ssl.key.location`: the client certificate (chain) and its key, PEM,
    /// for brokers that ask for one (mTLS).
    public var certificateLocation: String?
    public var keyLocation: String?
    /// `ssl.key.password`: the passphrase of an encrypted key.
    public var keyPassword: String?
    /// `ssl.endpoint.identification.algorithm`: `https` (the default, as in librdkafka ≥ 1.9 and Kafka ≥ 2.0)
    /// checks that the broker's certificate names the host connected to; `none` only checks the chain.
    public var verifyHostname = true
    /// `sasl.mechanism` (librdkafka also says `sasl.mechanisms`): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    /// Kafka's default is GSSAPI, which Skein does not have; SCRAM-SHA-512 is the default here.
    public var saslMechanism = "SCRAM-SHA-512"
    /// `sasl.username` and `sasl.password`; `sasl.password.file` (Skein's) reads the password from the first
    /// line of a file, so it need not sit in a command line or a shared configuration file.
    public var saslUsername: String?
    public var saslPassword: String?

    public init() {}

    public static let plaintext = ClientSecurity()

    /// Whether `name` is a setting this struct takes (callers route unknown names elsewhere).
    public static func handles(_ name: String) -> Bool {
        name == "security.protocol" || name.hasPrefix("ssl.") || name.hasPrefix("sasl.")
    }

    /// Applies one setting by its Kafka client name.
    public mutating func apply(_ name: String, _ value: String) throws(KafkaClientError) {
        let trimmed = value.trimmingCharacters(in: " \t")
        switch name {
        case "security.protocol":
            guard let parsed = SecurityProtocol(rawValue: trimmed.uppercased()) else {
                throw .invalidConfiguration(
                    "security.protocol=\(value): expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
            }
            securityProtocol = parsed
        case "ssl.ca.location": caLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.certificate.location": certificateLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.key.location": keyLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.key.password": keyPassword = value.isEmpty ? nil : value
        case "ssl.endpoint.identification.algorithm":
            switch trimmed.lowercased() {
            case "https": verifyHostname = true
            case "none", "": verifyHostname = false
            default:
                throw .invalidConfiguration("ssl.endpoint.identification.algorithm=\(value): expected https or none")
            }
        case "sasl.mechanism", "sasl.mechanisms": saslMechanism = trimmed.uppercased()
        case "sasl.username": saslUsername = trimmed.isEmpty ? nil : trimmed
        case "sasl.password": saslPassword = value
        case "sasl.password.file":
            guard let text = try? String(contentsOfFile: trimmed, encoding: .utf8) else {
                throw .invalidConfiguration("sasl.password.file: cannot read \(trimmed)")
            }
            saslPassword = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        case "sasl.jaas.config":
            // The Java clients' form, common in `--command-config` files written for Kafka's own tools:
            // `...LoginModule required username="alice" password="...";`.
            if let username = Self.jaasOption("username", in: value) { saslUsername = username }
            if let password = Self.jaasOption("password", in: value) { saslPassword = password }
        case _ where Self.otherClientsSASLPrefixes.contains(where: name.hasPrefix):
            // Kerberos, OAuth and login-refresh settings of other clients in a shared file: nothing to do here.
            break
        default:
            throw .invalidConfiguration("unknown security setting \(name)")
        }
    }

    static let otherClientsSASLPrefixes = [
        "sasl.kerberos.", "sasl.login.", "sasl.oauthbearer.", "sasl.client.callback.handler.class",
    ]

    /// `name="value"` (or `name=value`) in a JAAS configuration line.
    static func jaasOption(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: name + "=") else { return nil }
        let rest = text[start.upperBound...]
        if rest.first == "\"" {
            let body = rest.dropFirst()
            guard let end = body.firstIndex(of: "\"") else { return nil }
            return String(body[..<end])
        }
        return String(rest.prefix { !$0.isWhitespace && $0 != ";" })
    }

    /// The SASL login of a SASL `security.protocol` (nil for the others), checked: a known mechanism, a user
    /// name and a password.
    public func saslSettings() throws(KafkaClientError) -> SASLClientSettings? {
        guard securityProtocol.usesSASL else { return nil }
        guard let saslUsername else {
            throw .invalidConfiguration("security.protocol \(securityProtocol.rawValue) needs sasl.username")
        }
        guard let saslPassword else {
            throw .invalidConfiguration(
                "security.protocol \(securityProtocol.rawValue) needs sasl.password (or sasl.password.file)")
        }
        return try SASLClientSettings(mechanism: saslMechanism, username: saslUsername, password: saslPassword)
    }

    /// The TLS context for connections to brokers; made once per client, as it reads the PEM files.
    public func makeTLSContext() throws(KafkaClientError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = verifyHostname ? .fullVerification : .noHostnameVerification
        do {
            if let caLocation {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caLocation))
            }
            if certificateLocation != nil || keyLocation != nil {
                guard let certificateLocation, let keyLocation else {
                    throw KafkaClientError.invalidConfiguration(
                        "ssl.certificate.location and ssl.key.location go together")
                }
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateLocation).map {
                    .certificate($0)
                }
                let key: NIOSSLPrivateKey
                if let keyPassword {
                    key = try NIOSSLPrivateKey(file: keyLocation, format: .pem) { $0(Array(keyPassword.utf8)) }
                } else {
                    key = try NIOSSLPrivateKey(file: keyLocation, format: .pem)
                }
                configuration.privateKey = .privateKey(key)
            }
            return try NIOSSLContext(configuration: configuration)
        } catch let error as KafkaClientError {
            throw error
        } catch {
            throw .invalidConfiguration("TLS settings: \(error)")
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}

extension ClientSecurity: CustomStringConvertible {
    /// Never the password or the key passphrase: settings get logged.
    public var description: String {
        var parts = [securityProtocol.rawValue]
        if securityProtocol.usesSASL {
            parts.append("sasl.mechanism=\(saslMechanism) sasl.username=\(saslUsername ?? "-")")
        }
        if securityProtocol.usesTLS { parts.append("ssl.ca.location=\(caLocation ?? "system")") }
        return parts.joined(separator: " ")
    }
}
