import NIOCore
import NIOSSL

/// How a client connects to brokers: Kafka's `security.protocol` and the `ssl.*` settings, by the names
/// librdkafka and the Java client use, so one properties file serves kcat, the Java tools and `skein`.
/// One struct for every security setting, so SASL's `sasl.*` settings sit beside the TLS ones.
public struct ClientSecurity: Sendable, Equatable {
    /// `security.protocol`.
    public enum SecurityProtocol: String, Sendable, CaseIterable {
        case plaintext = "PLAINTEXT"
        case ssl = "SSL"
        case saslPlaintext = "SASL_PLAINTEXT"
        case saslSsl = "SASL_SSL"

        public var usesTLS: Bool { self == .ssl || self == .saslSsl }
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSsl }
    }

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

    public init() {}

    public static let plaintext = ClientSecurity()

    /// Whether `name` is a setting this struct takes (callers route unknown names elsewhere).
    public static func handles(_ name: String) -> Bool {
        name == "security.protocol" || name.hasPrefix("ssl.")
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
        default:
            throw .invalidConfiguration("unknown security setting \(name)")
        }
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
