import ArgumentParser
import SkeinProtocol
import Testing

@testable import SkeinTool

/// `skein acls` parses kafka-acls.sh's options into the ACLs and filters it sends.
@Suite struct AclsCommandTests {
    @Test func producerAndConsumerExpandAsKafkaAclsDoes() throws {
        let add = try AclsCommand.Add.parse([
            "--allow-principal", "User:shipper", "--producer", "--consumer", "--topic", "logs-",
            "--resource-pattern-type", "prefixed", "--group", "g", "--transactional-id", "tx",
        ])
        #expect(try add.resources.pattern(default: .literal, allowFilters: false) == .prefixed)
        #expect(add.rules.operations(for: .topic, explicit: []) == [.write, .describe, .create, .read])
        #expect(add.rules.operations(for: .group, explicit: []) == [.read])
        #expect(add.rules.operations(for: .transactionalId, explicit: []) == [.write, .describe])
        #expect(add.resources.resources().map(\.0) == [.topic, .group, .transactionalId])
    }

    @Test func principalsHostsAndOperationsMultiply() throws {
        let add = try AclsCommand.Add.parse([
            "--allow-principal", "User:a", "--allow-principal", "User:b", "--deny-principal", "User:*",
            "--deny-host", "10.0.0.1", "--operation", "Read", "--operation", "describe-configs", "--cluster",
        ])
        let grants = add.rules.grants()
        #expect(grants.map(\.0) == [.allow, .allow, .deny])
        #expect(grants.map(\.1) == ["User:a", "User:b", "User:*"])
        #expect(grants.map(\.2) == ["*", "*", "10.0.0.1"])
        #expect(try add.rules.parsedOperations() == [.read, .describeConfigs])
        #expect(add.resources.resources().map(\.1) == [aclClusterResourceName])
    }

    @Test func badArgumentsAreRefusedBeforeConnecting() {
        #expect(throws: (any Error).self) {
            try AclsCommand.Add.parse(["--allow-principal", "User:a", "--operation", "Read"])
        }
        #expect(throws: (any Error).self) { try AclsCommand.Add.parse(["--operation", "Read", "--topic", "t"]) }
        #expect(throws: (any Error).self) {
            try AclsCommand.Add.parse(["--allow-principal", "User:a", "--operation", "Fly", "--topic", "t"])
        }
        #expect(throws: (any Error).self) {
            let add = try AclsCommand.Add.parse([
                "--allow-principal", "User:a", "--operation", "Read", "--topic", "t", "--resource-pattern-type",
                "match",
            ])
            _ = try add.resources.pattern(default: .literal, allowFilters: false)
        }
        #expect(throws: (any Error).self) { try AclsCommand.Remove.parse(["--allow-principal", "User:a"]) }
    }
}
