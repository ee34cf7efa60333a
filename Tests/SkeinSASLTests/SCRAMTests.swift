import Foundation
import Testing

@testable import SkeinSASL

/// RFC 7677 §3's SCRAM-SHA-256 example, replayed through both state machines.
@Suite struct SCRAMTests {
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonceSuffix = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let salt = Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    @Test func clientReproducesRFC7677() throws {
        var client = SCRAMClient(mechanism: .sha256, user: "user", password: "pencil", nonce: Self.clientNonce)
        #expect(String(decoding: client.firstMessage(), as: UTF8.self) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = try client.finalMessage(serverFirst: Array(Self.serverFirst.utf8))
        #expect(String(decoding: final, as: UTF8.self) == Self.clientFinal)
        try client.verify(serverFinal: Array(Self.serverFinal.utf8))
        #expect(throws: SASLFailure.self) { try client.verify(serverFinal: Array("v=AAAA".utf8)) }
    }

    @Test func serverReproducesRFC7677() throws {
        let credential = SCRAMMechanism.sha256.credential(password: "pencil", salt: Self.salt, iterations: 4096)
        var server = SCRAMServer(mechanism: .sha256)
        let first = try server.receive(
            Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8), lookup: { $0 == "user" ? credential : nil },
            decoy: { _ in
                Issue.record("decoy for a known user"); return credential
            },
            serverNonce: Self.serverNonceSuffix)
        #expect(first == .challenge(Array(Self.serverFirst.utf8)))
        let final = try server.receive(
            Array(Self.clientFinal.utf8), lookup: { _ in nil }, decoy: { _ in credential })
        #expect(final == .authenticated(user: "user", finalMessage: Array(Self.serverFinal.utf8)))
    }

    @Test func wrongPasswordFails() throws {
        let credential = SCRAMMechanism.sha256.credential(password: "pencil", salt: Self.salt, iterations: 4096)
        var server = SCRAMServer(mechanism: .sha256)
        _ = try server.receive(
            Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8), lookup: { _ in credential }, decoy: { _ in credential },
            serverNonce: Self.serverNonceSuffix)
        var client = SCRAMClient(mechanism: .sha256, user: "user", password: "crayon", nonce: Self.clientNonce)
        _ = client.firstMessage()
        let final = try client.finalMessage(serverFirst: Array(Self.serverFirst.utf8))
        #expect(throws: SASLFailure(.badCredentials, "authentication failed for user user")) {
            try server.receive(final, lookup: { _ in credential }, decoy: { _ in credential })
        }
    }

    /// librdkafka 2.0.2 (kcat, rsyslog's omkafka on Debian 12) sends its nonce, then the whole nonce.
    @Test func librdkafkaRepeatedClientNonceIsTaken() throws {
        let credential = SCRAMMechanism.sha256.credential(password: "pencil", salt: Self.salt, iterations: 4096)
        var server = SCRAMServer(mechanism: .sha256)
        _ = try server.receive(
            Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8), lookup: { _ in credential }, decoy: { _ in credential },
            serverNonce: Self.serverNonceSuffix)
        let doubled = Self.clientFinal.replacingOccurrences(of: "r=", with: "r=" + Self.clientNonce)
        // The proof covers the message with the doubled nonce, so the RFC's proof no longer matches: refused
        // as bad credentials, not as a nonce mismatch.
        #expect(throws: SASLFailure(.badCredentials, "authentication failed for user user")) {
            try server.receive(Array(doubled.utf8), lookup: { _ in credential }, decoy: { _ in credential })
        }
        var other = SCRAMServer(mechanism: .sha256)
        _ = try other.receive(
            Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8), lookup: { _ in credential }, decoy: { _ in credential },
            serverNonce: Self.serverNonceSuffix)
        let wrong = Self.clientFinal.replacingOccurrences(of: "r=", with: "r=x")
        #expect(throws: SASLFailure(.malformed, "nonce mismatch")) {
            try other.receive(Array(wrong.utf8), lookup: { _ in credential }, decoy: { _ in credential })
        }
    }

    @Test(arguments: SCRAMMechanism.allCases)
    func roundTripAndUnknownUser(_ mechanism: SCRAMMechanism) throws {
        let store = try CredentialStore(directory: NSTemporaryDirectory() + "/scram-\(UUID().uuidString)")
        let credential = mechanism.credential(password: "s3cret", salt: SASLBytes.random(count: 16), iterations: 4096)
        for (user, password, expected) in [
            ("al,i=ce", "s3cret", true), ("al,i=ce", "nope", false), ("eve", "s3cret", false),
        ] {
            var client = SCRAMClient(mechanism: mechanism, user: user, password: password)
            var server = SCRAMServer(mechanism: mechanism)
            let lookup: (String) -> SCRAMCredential? = { $0 == "al,i=ce" ? credential : nil }
            let decoy = { (name: String) in store.decoy(user: name, mechanism: mechanism) }
            guard
                case .challenge(let challenge) = try server.receive(client.firstMessage(), lookup: lookup, decoy: decoy)
            else { Issue.record("no challenge"); return }
            let final = try client.finalMessage(serverFirst: challenge)
            do {
                let step = try server.receive(final, lookup: lookup, decoy: decoy)
                guard case .authenticated(let name, let message) = step else { Issue.record("no verdict"); return }
                #expect(expected && name == user)
                try client.verify(serverFinal: message)
            } catch {
                #expect(!expected && error.reason == .badCredentials)
            }
        }
    }

    @Test func clientFirstGrammar() throws {
        let parsed = try SCRAMMessages.ClientFirst.parse(Array("n,a=bob,n=bob,r=xyz,x=1".utf8))
        #expect(parsed.user == "bob" && parsed.nonce == "xyz" && parsed.gs2Header == "n,a=bob,")
        for bad in [
            "p=tls-unique,,n=u,r=x", "n,,r=x,n=u", "n,,n=u", "n,,n=a=2Xb,r=x", "n,a=eve,n=u,r=x", "x,,n=u,r=x",
            "n,,m=1,n=u,r=x", "n,,n=,r=x", "n,,n=u,r=x,ext=1", "",
        ] {
            #expect(throws: SASLFailure.self, "\(bad)") { try SCRAMMessages.ClientFirst.parse(Array(bad.utf8)) }
        }
    }

    @Test func saslnameEscaping() {
        #expect(SASLName.escape("a=b,c") == "a=3Db=2Cc")
        #expect(SASLName.unescape("a=3Db=2Cc") == "a=b,c")
        #expect(SASLName.unescape("a=2") == nil)
        #expect(SASLName.unescape("a=41") == nil)
    }

    @Test func plainParsing() throws {
        #expect(
            try PLAINMessage.parse(PLAINMessage.make(user: "u", password: "p w")) == .init(user: "u", password: "p w"))
        #expect(try PLAINMessage.parse(Array("u\0u\0pw".utf8)).user == "u")
        for bad in ["eve\0u\0pw", "u\0pw", "\0\0pw", "\0u\0", "\0u\0p\0w"] {
            #expect(throws: SASLFailure.self, "\(bad.debugDescription)") { try PLAINMessage.parse(Array(bad.utf8)) }
        }
    }

    @Test func constantTimeEqual() {
        #expect(SASLBytes.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!SASLBytes.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!SASLBytes.constantTimeEqual([1, 2], [1, 2, 3]))
    }
}

@Suite struct CredentialStoreTests {
    @Test func storesKeysNotPasswordsAndSurvivesReopen() throws {
        let directory = NSTemporaryDirectory() + "/store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try CredentialStore(directory: directory)
        let credential = SCRAMMechanism.sha512.credential(
            password: "hunter2-secret", salt: SASLBytes.random(count: 16), iterations: 4096)
        try store.update(set: [("alice", .sha512, credential)])
        try store.update(set: [("bob", .sha256, credential)])
        #expect(store.verify(user: "alice", password: "hunter2-secret"))
        #expect(!store.verify(user: "alice", password: "hunter3"))
        #expect(!store.verify(user: "nobody", password: "hunter2-secret"))
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        #expect(!text.contains("hunter2"))
        var status = stat()
        #expect(stat(store.path, &status) == 0 && status.st_mode & 0o777 == 0o600)
        let reopened = try CredentialStore(directory: directory)
        #expect(reopened.credential(user: "alice", mechanism: .sha512) == credential)
        try reopened.update(delete: [("bob", .sha256)])
        #expect(try CredentialStore(directory: directory).list().map(\.user) == ["alice"])
        #expect(!FileManager.default.fileExists(atPath: store.path + ".tmp"))
    }

    @Test func decoyIsStablePerUser() throws {
        let store = try CredentialStore(directory: NSTemporaryDirectory())
        #expect(store.decoy(user: "x", mechanism: .sha256) == store.decoy(user: "x", mechanism: .sha256))
        #expect(store.decoy(user: "x", mechanism: .sha256).salt != store.decoy(user: "y", mechanism: .sha256).salt)
    }
}
