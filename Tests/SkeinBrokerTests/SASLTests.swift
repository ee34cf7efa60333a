import Foundation
import NIOCore
import SkeinProtocol
import SkeinSASL
import Testing

@testable import SkeinBroker

@Suite struct SASLSettingsTests {
    @Test func kafkaNamesAndRefusals() throws {
        var config = BrokerConfig()
        #expect(config.sasl.enabledMechanisms == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
        try config.apply("sasl.enabled.mechanisms", "scram-sha-512, PLAIN")
        #expect(config.sasl.enabledMechanisms == ["SCRAM-SHA-512", "PLAIN"])
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("sasl.enabled.mechanisms", "GSSAPI") }
        try config.apply("connection.failed.authentication.delay.ms", "0")
        #expect(config.sasl.failedAuthenticationDelayMs == 0)
    }

    @Test func failureDelayDoublesPerAddressCapsAndIsForgotten() {
        var settings = SASLSettings()
        settings.failedAuthenticationDelayMs = 100
        settings.failedAuthenticationDelayMaxMs = 500
        settings.failedAuthenticationForgetMs = 1_000
        let delay = AuthenticationFailureDelay(settings: settings)
        let second: UInt64 = 1_000_000_000
        #expect(
            [0, 1, 2, 3, 4].map { delay.failed(address: "10.0.0.1", nowNanos: second + UInt64($0)) } == [
                100, 200, 400, 500, 500,
            ])
        #expect(delay.failed(address: "10.0.0.2", nowNanos: second) == 100)
        #expect(delay.failed(address: "10.0.0.1", nowNanos: 3 * second) == 100)
        #expect(AuthenticationFailureDelay.address(ofRemote: "[IPv4]127.0.0.1/127.0.0.1:5000") == "127.0.0.1")
        #expect(AuthenticationFailureDelay.address(ofRemote: "[IPv6]::1/::1:5000") == "::1")
    }
}

/// The gate and the exchange against a broker in this process, over raw frames.
@Suite struct SASLBrokerTests {
    /// Runs `body` against a SASL_PLAINTEXT broker with user alice, and stops the broker whatever happens.
    /// The test broker's own listener is PLAINTEXT; a second one, SASL_PLAINTEXT, serves these tests.
    static func withBroker(_ body: (RawKafkaConnectionFactory) throws -> Void) async throws {
        let broker = try await TestBroker(settings: ["connection.failed.authentication.delay.ms": "10"])
        let mechanism = SCRAMMechanism.sha256
        var sasl: KafkaServer?
        do {
            try broker.broker.sasl.store.update(set: [
                ("alice", mechanism, mechanism.credential(password: "pw-alice", salt: [9, 8, 7, 6], iterations: 4096))
            ])
            let server = try await KafkaServer.start(
                broker: broker.broker, group: broker.group,
                listener: .init(name: "SASL_PLAINTEXT", host: "127.0.0.1", port: 0, securityProtocol: .saslPlaintext),
                tls: nil)
            sasl = server
            try body(RawKafkaConnectionFactory(port: server.localAddress!.port!))
        } catch {
            try? await sasl?.close()
            try await broker.stop()
            throw error
        }
        try await sasl?.close()
        try await broker.stop()
    }

    struct RawKafkaConnectionFactory {
        let port: Int
        func connect() throws -> RawKafkaConnection { try RawKafkaConnection(port: port) }
    }

    @Test func scramLoginThenRequestsAreServed() async throws {
        try await Self.withBroker { broker in
            let connection = try broker.connect()
            #expect(
                try connection.roundTrip(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), version: 1).errorCode
                    == .noError)
            var client = SCRAMClient(mechanism: .sha256, user: "alice", password: "pw-alice")
            let first = try connection.roundTrip(SaslAuthenticateRequest(authBytes: client.firstMessage()), version: 2)
            #expect(first.errorCode == .noError)
            let final = try connection.roundTrip(
                SaslAuthenticateRequest(authBytes: client.finalMessage(serverFirst: first.authBytes)), version: 1)
            #expect(final.errorCode == .noError && final.sessionLifetimeMs == 0)
            try client.verify(serverFinal: final.authBytes)
            let metadata = try connection.roundTrip(MetadataRequest(topics: []), version: 1)
            #expect(metadata.brokers.count == 1)
        }
    }

    @Test func plainLoginUsesTheScramCredential() async throws {
        try await Self.withBroker { broker in
            let good = try broker.connect()
            _ = try good.roundTrip(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1)
            let ok = try good.roundTrip(
                SaslAuthenticateRequest(authBytes: PLAINMessage.make(user: "alice", password: "pw-alice")), version: 0)
            #expect(ok.errorCode == .noError)
            let bad = try broker.connect()
            _ = try bad.roundTrip(SaslHandshakeRequest(mechanism: "PLAIN"), version: 1)
            let refused = try bad.roundTrip(
                SaslAuthenticateRequest(authBytes: PLAINMessage.make(user: "alice", password: "nope")), version: 0)
            #expect(refused.errorCode == .saslAuthenticationFailed)
            #expect(refused.errorMessage?.contains("nope") == false)
            #expect(bad.isClosedByPeer())
        }
    }

    @Test func handshakeV0TakesBareTokens() async throws {
        try await Self.withBroker { broker in
            let connection = try broker.connect()
            #expect(
                try connection.roundTrip(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), version: 0).errorCode
                    == .noError)
            var client = SCRAMClient(mechanism: .sha256, user: "alice", password: "pw-alice")
            func bare(_ token: [UInt8]) throws -> [UInt8] {
                var frame = ByteBuffer()
                frame.writeInteger(Int32(token.count))
                frame.writeBytes(token)
                connection.send(frame)
                return Array(try #require(connection.receiveFrame()).readableBytesView)
            }
            let serverFirst = try bare(client.firstMessage())
            let final = try client.finalMessage(serverFirst: serverFirst)
            try client.verify(serverFinal: bare(final))
            #expect(try connection.roundTrip(MetadataRequest(topics: []), version: 1).brokers.count == 1)
        }
    }

    @Test func requestsBeforeLoginCloseTheConnection() async throws {
        try await Self.withBroker { broker in
            let connection = try broker.connect()
            let versions = try connection.roundTrip(ApiVersionsRequest(), version: 0)
            #expect(
                versions.apiKeys.contains {
                    $0.apiKey == ApiKey.saslHandshake.rawValue && $0.minVersion == 0 && $0.maxVersion == 1
                })
            connection.send(try connection.frame(MetadataRequest(topics: []), version: 1))
            #expect(connection.isClosedByPeer())
        }
    }
}
