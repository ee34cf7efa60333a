import SkeinSASL

/// The SASL exchange, which runs before a client has proved anything: a selector byte (even: SCRAM, odd:
/// PLAIN), then for SCRAM a client-first message, a NUL, and a client-final message.
enum SASLTarget {
    /// A real credential for "user", so the parser reaches the proof check with a known user too.
    static let credential = SCRAMMechanism.sha256.credential(
        saltedPassword: Array(repeating: 7, count: 32), salt: [1, 2, 3, 4], iterations: 4096)

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        guard let selector = input.first else { return }
        let bytes = Array(input.dropFirst())
        if selector & 1 == 1 {
            checkPlain(bytes, &violations)
            return
        }
        let mechanism: SCRAMMechanism = selector & 2 == 0 ? .sha256 : .sha512
        let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        var server = SCRAMServer(mechanism: mechanism)
        let lookup: (String) -> SCRAMCredential? = { $0 == "user" ? credential : nil }
        let decoy: (String) -> SCRAMCredential = { _ in credential }
        let first: SCRAMServer.Step
        do {
            first = try server.receive(Array(parts[0]), lookup: lookup, decoy: decoy, serverNonce: "S")
        } catch {
            return
        }
        guard case .challenge(let challenge) = first else {
            violations.fail("a client-first message logged in")
            return
        }
        violations.expect(
            (try? SCRAMMessages.ServerFirst.parse(challenge)) != nil, "the server-first message does not parse")
        guard parts.count == 2 else { return }
        do {
            let step = try server.receive(Array(parts[1]), lookup: lookup, decoy: decoy)
            // Without the password's keys no proof can pass (the credential's salted password is not derivable
            // from a fuzzer's bytes, short of a SHA-256 preimage).
            violations.fail("a fuzzed proof logged in: \(step)")
        } catch {}
    }

    static func checkPlain(_ bytes: [UInt8], _ violations: inout Violations) {
        guard let parsed = try? PLAINMessage.parse(bytes) else { return }
        violations.expect(!parsed.user.isEmpty && !parsed.password.isEmpty, "PLAIN accepted an empty field")
        violations.expect(
            PLAINMessage.make(user: parsed.user, password: parsed.password).count <= bytes.count,
            "PLAIN's fields are longer than the message")
        violations.expect(
            SASLName.unescape(Substring(SASLName.escape(parsed.user))) == parsed.user, "saslname does not round-trip")
    }
}
