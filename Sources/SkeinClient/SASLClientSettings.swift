import SkeinProtocol
import SkeinSASL

/// Kafka's client SASL settings: `sasl.mechanism`, `sasl.username`, `sasl.password`. Used when
/// `security.protocol` is SASL_PLAINTEXT (or SASL_SSL); the login runs on every new connection right
/// after ApiVersions, before any other request.
public struct SASLClientSettings: Sendable, Equatable {
    public static let mechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    public var mechanism: String
    public var username: String
    public var password: String

    public init(mechanism: String, username: String, password: String) throws(KafkaClientError) {
        let upper = mechanism.uppercased()
        guard Self.mechanisms.contains(upper) else {
            throw KafkaClientError.invalidConfiguration(
                "sasl.mechanism \(mechanism) is not supported (supported: \(Self.mechanisms.joined(separator: ", ")))")
        }
        guard !username.isEmpty else { throw KafkaClientError.invalidConfiguration("sasl.username is empty") }
        self.mechanism = upper
        self.username = username
        self.password = password
    }
}

extension SASLClientSettings: CustomStringConvertible {
    /// Never the password: settings get logged.
    public var description: String { "SASL \(mechanism) as \(username)" }
}

extension KafkaConnection {
    /// SaslHandshake v1, then SaslAuthenticate rounds. A refusal is thrown with the broker's message
    /// (never our password), and the broker closes the connection after it anyway.
    func authenticate(_ settings: SASLClientSettings) async throws {
        let handshake = try await send(SaslHandshakeRequest(mechanism: settings.mechanism))
        guard handshake.errorCode == .noError else {
            throw KafkaClientError.authentication(
                "broker refused SASL mechanism \(settings.mechanism) (\(handshake.errorCode); enabled: \(handshake.mechanisms.joined(separator: ", ")))"
            )
        }
        func round(_ bytes: [UInt8]) async throws -> [UInt8] {
            let response = try await send(SaslAuthenticateRequest(authBytes: bytes))
            guard response.errorCode == .noError else {
                throw KafkaClientError.authentication(
                    "SASL \(settings.mechanism) login as \(settings.username) failed: \(response.errorMessage ?? "\(response.errorCode)")"
                )
            }
            return response.authBytes
        }
        if let scram = SCRAMMechanism(rawValue: settings.mechanism) {
            var client = SCRAMClient(mechanism: scram, user: settings.username, password: settings.password)
            let serverFirst = try await round(client.firstMessage())
            let serverFinal: [UInt8]
            do {
                serverFinal = try await round(client.finalMessage(serverFirst: serverFirst))
                try client.verify(serverFinal: serverFinal)
            } catch let failure as SASLFailure {
                throw KafkaClientError.authentication("SCRAM exchange with the broker failed: \(failure)")
            }
        } else {
            _ = try await round(PLAINMessage.make(user: settings.username, password: settings.password))
        }
    }
}
