import SkeinClient
import Testing

/// `sasl.*` in ClientSecurity: Kafka's client names, checked when a SASL protocol is chosen, and never the
/// password in a description.
@Suite struct ClientSASLSettingsTests {
    @Test func kafkaNamesMakeALogin() throws {
        var security = ClientSecurity()
        #expect(try security.saslSettings() == nil)
        for (name, value) in [
            ("security.protocol", "SASL_SSL"), ("sasl.mechanisms", "scram-sha-256"), ("sasl.username", "alice"),
            ("sasl.password", "s3cret-pw"),
        ] {
            #expect(ClientSecurity.handles(name))
            try security.apply(name, value)
        }
        let login = try #require(try security.saslSettings())
        #expect(login.mechanism == "SCRAM-SHA-256" && login.username == "alice" && login.password == "s3cret-pw")
        #expect(!security.description.contains("s3cret"))
        #expect(!login.description.contains("s3cret"))
    }

    @Test func javaClientsJaasConfigIsRead() throws {
        var security = ClientSecurity()
        try security.apply("security.protocol", "SASL_PLAINTEXT")
        try security.apply(
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"bob\" password=\"b p;w\";")
        try security.apply("sasl.kerberos.service.name", "kafka")
        let login = try #require(try security.saslSettings())
        #expect(login.username == "bob" && login.password == "b p;w")
    }

    @Test func missingOrUnknownSettingsAreRefused() throws {
        var security = ClientSecurity()
        try security.apply("security.protocol", "SASL_PLAINTEXT")
        #expect(throws: KafkaClientError.self) { try security.saslSettings() }
        try security.apply("sasl.username", "alice")
        #expect(throws: KafkaClientError.self) { try security.saslSettings() }
        try security.apply("sasl.password", "pw")
        try security.apply("sasl.mechanism", "GSSAPI")
        #expect(throws: KafkaClientError.self) { try security.saslSettings() }
        #expect(throws: KafkaClientError.self) { try security.apply("sasl.password.file", "/nonexistent/pw") }
        #expect(throws: KafkaClientError.self) { try security.apply("sasl.usernmae", "typo") }
    }
}
