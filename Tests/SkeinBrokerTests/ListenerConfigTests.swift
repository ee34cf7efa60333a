import SkeinTLS
import Testing

@testable import SkeinBroker

/// The listener model and TLS settings of issue #15, parsed as Kafka names them.
@Suite struct ListenerConfigTests {
    @Test func namedListenersWithProtocolMapAndAdvertisedAddresses() throws {
        var config = BrokerConfig()
        try config.apply(
            propertiesText: """
                listeners=PLAINTEXT://127.0.0.1:9092,INTERNAL://0.0.0.0:9093,ssl://[::1]:9094
                listener.security.protocol.map=INTERNAL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL
                advertised.listeners=PLAINTEXT://localhost:9092,INTERNAL://broker.example:0
                ssl.certificate.location=/etc/skein/server.pem
                ssl.key.location=/etc/skein/server.key
                ssl.ca.location=/etc/skein/ca.pem
                listener.name.ssl.ssl.client.auth=required
                ssl.principal.mapping.rules=RULE:^CN=(.*?),OU=ops.*$/$1/L,DEFAULT
                """)
        let listeners = try config.resolvedListeners()
        #expect(listeners.map(\.name) == ["PLAINTEXT", "INTERNAL", "SSL"])
        #expect(listeners.map(\.securityProtocol) == [.plaintext, .saslSsl, .ssl])
        #expect(listeners[2].host == "::1" && listeners[2].port == 9094)
        #expect(listeners[0].tls == nil)
        #expect(listeners[1].tls?.clientAuth == TLSServerSettings.ClientAuth.none)
        #expect(listeners[2].tls?.clientAuth == .required)
        #expect(listeners[2].tls?.certificateLocation == "/etc/skein/server.pem")
        #expect(config.listenHost == "127.0.0.1" && config.listenPort == 9092)
        #expect(config.advertisedAddress(listener: "PLAINTEXT", boundPort: 9092) == ("localhost", 9092))
        #expect(config.advertisedAddress(listener: "INTERNAL", boundPort: 40001) == ("broker.example", 40001))
        #expect(config.advertisedAddress(listener: "SSL", boundPort: 9094) == ("::1", 9094))
    }

    @Test func theOldSingleListenerFormsStillWork() throws {
        var config = BrokerConfig()
        try config.apply("listen", "0.0.0.0:19092")
        #expect(config.listeners == [.init(name: "PLAINTEXT", host: "0.0.0.0", port: 19092)])
        try config.apply("advertised.listeners", "kafka.example:19092")
        #expect(config.advertisedAddress(listener: "PLAINTEXT", boundPort: 19092) == ("kafka.example", 19092))
        #expect(try config.resolvedListeners().map(\.securityProtocol) == [.plaintext])
    }

    @Test func listenerMistakesAreRefusedWithTheirName() throws {
        var config = BrokerConfig()
        #expect(throws: BrokerConfig.InvalidSetting.self) {
            try config.apply("listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2")
        }
        #expect(throws: BrokerConfig.InvalidSetting.self) {
            try config.apply("listener.security.protocol.map", "INTERNAL:TLS")
        }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("ssl.client.auth", "sometimes") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("ssl.keystore.location", "/x.jks") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("ssl.enabled.protocols", "TLSv1.1") }
        // A name without a protocol, and a TLS listener without certificate and key, fail at resolution.
        try config.apply("listeners", "INTERNAL://127.0.0.1:0")
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.resolvedListeners() }
        try config.apply("listeners", "SSL://127.0.0.1:0")
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.resolvedListeners() }
        try config.apply("ssl.certificate.location", "/c.pem")
        try config.apply("ssl.key.location", "/k.pem")
        try config.apply("ssl.client.auth", "required")
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.resolvedListeners() }
    }

    @Test func aKeyPasswordNeverAppearsInAnError() {
        var config = BrokerConfig()
        do {
            try config.apply("http.ssl.key.password.typo", "hunter2")
            Issue.record("accepted an unknown setting")
        } catch {
            #expect(error.name == "http.ssl.key.password.typo")
        }
        #expect(throws: Never.self) { try config.apply("ssl.key.password", "hunter2") }
    }

    @Test func httpTLSAndBasicAuthSettings() throws {
        var config = BrokerConfig()
        #expect(try config.httpTLSSettings() == nil)
        try config.apply("http.ssl.certificate.location", "/c.pem")
        try config.apply("http.ssl.key.location", "/k.pem")
        try config.apply("http.basic.auth.users.file", "/etc/skein/http-users")
        #expect(try config.httpTLSSettings()?.keyLocation == "/k.pem")
        #expect(config.httpBasicAuthUsersFile == "/etc/skein/http-users")
        try config.apply("http.ssl.client.auth", "required")
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.httpTLSSettings() }
    }
}

@Suite struct PrincipalMappingTests {
    @Test func defaultKeepsTheWholeSubject() throws {
        #expect(PrincipalMapping.default.name(for: "CN=alice,OU=eng,O=Acme,C=US") == "CN=alice,OU=eng,O=Acme,C=US")
        let mapping = try PrincipalMapping(rules: "DEFAULT")
        #expect(mapping.name(for: "CN=bob") == "CN=bob")
    }

    @Test func rulesExtractAndChangeCase() throws {
        let mapping = try PrincipalMapping(
            rules: "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, RULE:^CN=([^,]*),O=(.*)$/$1@$2/U,DEFAULT")
        #expect(mapping.name(for: "CN=Kafka-Client,OU=ServiceUsers,O=Acme,C=US") == "kafka-client")
        #expect(mapping.name(for: "CN=carol,O=acme") == "CAROL@ACME")
        #expect(mapping.name(for: "CN=dave,OU=people") == "CN=dave,OU=people")
    }

    @Test func escapedSlashAndNoMatch() throws {
        let mapping = try PrincipalMapping(rules: #"RULE:^CN=(.*)\/x$/$1/"#)
        #expect(mapping.name(for: "CN=a/x") == "a")
        // Without DEFAULT, a subject no rule matches has no principal (the connection is refused).
        #expect(mapping.name(for: "CN=a") == nil)
    }

    @Test func malformedRulesAreRefused() {
        #expect(throws: PrincipalMapping.InvalidRules.self) { try PrincipalMapping(rules: "RULE:^CN=(.*)$") }
        #expect(throws: PrincipalMapping.InvalidRules.self) { try PrincipalMapping(rules: "SOMETIMES") }
        #expect(throws: PrincipalMapping.InvalidRules.self) { try PrincipalMapping(rules: "RULE:^CN=((.*$/$1/") }
        #expect(throws: PrincipalMapping.InvalidRules.self) { try PrincipalMapping(rules: "") }
    }
}
