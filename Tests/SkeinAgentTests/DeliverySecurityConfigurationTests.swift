import Testing

@testable import SkeinAgent

/// `[delivery]` takes Kafka's client security names, as TOML dotted keys or quoted (issue #15).
@Suite struct DeliverySecurityConfigurationTests {
    @Test func dottedAndQuotedKafkaNamesReachDeliveryAndHostMetrics() throws {
        let text = """
            [delivery]
            topic = "logs"
            security.protocol = "SSL"
            ssl.ca.location = "/etc/skein/ca.pem"
            "ssl.certificate.location" = "/etc/skein/agent.pem"
            "ssl.key.location" = "/etc/skein/agent.key"
            ssl.endpoint.identification.algorithm = "none"
            """
        let configuration = try AgentConfiguration.load(fromFileText: text)
        let security = configuration.delivery.security
        #expect(security.securityProtocol == .ssl)
        #expect(security.caLocation == "/etc/skein/ca.pem")
        #expect(security.certificateLocation == "/etc/skein/agent.pem")
        #expect(security.keyLocation == "/etc/skein/agent.key")
        #expect(!security.verifyHostname)
        #expect(configuration.deliverySettings.security == security)
    }

    @Test func badSecurityValuesAndUnknownSslKeysAreErrorsWithTheirLine() {
        #expect(throws: ConfigFileError.self) {
            try AgentConfiguration.load(fromFileText: "[delivery]\nsecurity.protocol = \"TLS\"\n")
        }
        #expect(throws: ConfigFileError.self) {
            try AgentConfiguration.load(fromFileText: "[delivery]\nssl.keystore.location = \"/x.jks\"\n")
        }
        #expect(throws: ConfigFileError.self) {
            try AgentConfiguration.load(fromFileText: "[delivery]\nsecurity.protocl = \"SSL\"\n")
        }
    }
}
