import NIOSSL

/// A TLS server's PEM files and policy, by librdkafka's file names (`ssl.certificate.location`,
/// `ssl.key.location`, `ssl.ca.location`) and Kafka's policy names (`ssl.client.auth`,
/// `ssl.enabled.protocols`, `ssl.principal.mapping.rules`). PEM rather than Kafka's JKS keystores: PEM is
/// what openssl, certbot and every CA hand out, and what Kafka itself reads with `ssl.keystore.type=PEM`.
public struct TLSServerSettings: Sendable, Equatable {
    /// `ssl.client.auth`: whether clients must present a certificate (mTLS).
    public enum ClientAuth: String, Sendable, CaseIterable {
        case none, requested, required
    }

    public var certificateLocation: String?
    public var keyLocation: String?
    /// `ssl.key.password`: the passphrase of an encrypted key; never logged.
    public var keyPassword: String?
    /// The CAs client certificates must chain to; needed when `clientAuth` is not `none`.
    public var caLocation: String?
    public var clientAuth: ClientAuth = .none
    /// `ssl.enabled.protocols`: TLSv1.2 and TLSv1.3 by default; older versions are not offered at all.
    public var minimumVersion: TLSVersion = .tlsv12
    public var maximumVersion: TLSVersion = .tlsv13
    public var principalMapping = PrincipalMapping.default
    /// How often the PEM files are checked for changes; 0 turns the check off (SIGHUP still reloads).
    public var reloadCheckIntervalMs: Int64 = 5_000

    public init() {}

    public struct InvalidSetting: Error, CustomStringConvertible, Equatable {
        public var name: String
        public var reason: String
        public var description: String { "\(name): \(reason)" }
    }

    /// The names this struct takes, without any prefix (`ssl.` included).
    public static func handles(_ name: String) -> Bool {
        [
            "ssl.certificate.location", "ssl.key.location", "ssl.key.password", "ssl.ca.location",
            "ssl.client.auth", "ssl.enabled.protocols", "ssl.principal.mapping.rules",
            "ssl.reload.check.interval.ms",
        ].contains(name)
    }

    public mutating func apply(_ name: String, _ value: String) throws(InvalidSetting) {
        let trimmed = value.trimmingSpaces
        switch name {
        case "ssl.certificate.location": certificateLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.key.location": keyLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.key.password": keyPassword = value.isEmpty ? nil : value
        case "ssl.ca.location": caLocation = trimmed.isEmpty ? nil : trimmed
        case "ssl.client.auth":
            guard let parsed = ClientAuth(rawValue: trimmed.lowercased()) else {
                throw InvalidSetting(name: name, reason: "expected none, requested or required")
            }
            clientAuth = parsed
        case "ssl.enabled.protocols":
            var versions: [TLSVersion] = []
            for item in trimmed.split(separator: ",") {
                switch item.trimmingSpaces {
                case "TLSv1.2": versions.append(.tlsv12)
                case "TLSv1.3": versions.append(.tlsv13)
                default: throw InvalidSetting(name: name, reason: "expected TLSv1.2 and/or TLSv1.3")
                }
            }
            guard !versions.isEmpty else { throw InvalidSetting(name: name, reason: "is empty") }
            minimumVersion = versions.contains(.tlsv12) ? .tlsv12 : .tlsv13
            maximumVersion = versions.contains(.tlsv13) ? .tlsv13 : .tlsv12
        case "ssl.principal.mapping.rules":
            do {
                principalMapping = try PrincipalMapping(rules: value)
            } catch {
                throw InvalidSetting(name: name, reason: error.description)
            }
        case "ssl.reload.check.interval.ms":
            guard let ms = Int64(trimmed), ms >= 0 else {
                throw InvalidSetting(name: name, reason: "expected an integer of 0 or more")
            }
            reloadCheckIntervalMs = ms
        default:
            throw InvalidSetting(name: name, reason: "unknown setting")
        }
    }

    /// What must hold before a context can be made; `what` names the listener in the message.
    public func validate(what: String) throws(InvalidSetting) {
        guard certificateLocation != nil, keyLocation != nil else {
            throw InvalidSetting(
                name: "ssl.certificate.location", reason: "\(what) needs ssl.certificate.location and ssl.key.location")
        }
        if clientAuth != .none, caLocation == nil {
            throw InvalidSetting(
                name: "ssl.ca.location",
                reason: "\(what) has ssl.client.auth=\(clientAuth.rawValue) but no ssl.ca.location")
        }
    }

    /// Reads the PEM files and makes the context (and says which certificate it serves).
    func makeContext() throws -> (context: NIOSSLContext, leaf: NIOSSLCertificate?) {
        guard let certificateLocation, let keyLocation else {
            throw InvalidSetting(name: "ssl.certificate.location", reason: "not set")
        }
        let chain = try NIOSSLCertificate.fromPEMFile(certificateLocation)
        guard !chain.isEmpty else {
            throw InvalidSetting(
                name: "ssl.certificate.location", reason: "\(certificateLocation) holds no certificate")
        }
        let key: NIOSSLPrivateKey
        if let keyPassword {
            key = try NIOSSLPrivateKey(file: keyLocation, format: .pem) { $0(Array(keyPassword.utf8)) }
        } else {
            key = try NIOSSLPrivateKey(file: keyLocation, format: .pem)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        switch clientAuth {
        case .none: configuration.certificateVerification = .none
        case .requested: configuration.certificateVerification = .optionalVerification
        case .required: configuration.certificateVerification = .noHostnameVerification
        }
        if let caLocation {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caLocation))
        }
        return (try NIOSSLContext(configuration: configuration), chain.first)
    }

    /// The files whose change means a reload.
    var files: [String] { [certificateLocation, keyLocation, caLocation].compactMap { $0 } }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
