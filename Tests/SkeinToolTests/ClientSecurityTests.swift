import ArgumentParser
import Foundation
import SkeinClient
import Testing

@testable import SkeinTool

/// Client TLS settings by Kafka's client names, from `-X` and `--command-config` (issue #15).
@Suite struct ClientSecurityTests {
    @Test func kafkaClientNamesSetTheirFields() throws {
        var security = ClientSecurity()
        try security.apply("security.protocol", "ssl")
        try security.apply("ssl.ca.location", "/etc/skein/ca.pem")
        try security.apply("ssl.certificate.location", "/etc/skein/client.pem")
        try security.apply("ssl.key.location", "/etc/skein/client.key")
        try security.apply("ssl.endpoint.identification.algorithm", "none")
        #expect(security.securityProtocol == .ssl && security.securityProtocol.usesTLS)
        #expect(security.caLocation == "/etc/skein/ca.pem")
        #expect(security.certificateLocation == "/etc/skein/client.pem")
        #expect(security.keyLocation == "/etc/skein/client.key")
        #expect(!security.verifyHostname)
        #expect(ClientSecurity.plaintext.verifyHostname && !ClientSecurity.plaintext.securityProtocol.usesTLS)
    }

    @Test func badValuesAreRefused() {
        var security = ClientSecurity()
        #expect(throws: KafkaClientError.self) { try security.apply("security.protocol", "TLS") }
        #expect(throws: KafkaClientError.self) { try security.apply("ssl.endpoint.identification.algorithm", "x") }
        #expect(throws: KafkaClientError.self) { try security.apply("ssl.keystore.location", "/x.jks") }
        // A certificate without its key cannot make a context.
        security.securityProtocol = .ssl
        security.certificateLocation = "/nonexistent.pem"
        #expect(throws: KafkaClientError.self) { try security.makeTLSContext() }
    }

    @Test func commandConfigThenXWithOtherClientsSettingsSkipped() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("skein-client-\(getpid()).properties")
        try "# shared with kafka-console-consumer\nsecurity.protocol=SSL\nssl.ca.location=/a.pem\nrequest.timeout.ms=1\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let options = try ConnectionOptions.parse([
            "--command-config", file.path, "-X", "ssl.ca.location=/b.pem", "-X", "ssl.key.password=a=b",
        ])
        let security = try options.security()
        #expect(security.securityProtocol == .ssl)
        #expect(security.caLocation == "/b.pem")
        #expect(security.keyPassword == "a=b")
        #expect(throws: ToolError.self) { try ConnectionOptions.parse(["-X", "novalue"]).security() }
    }
}
