import Foundation

/// The server side of one SCRAM exchange (RFC 5802 §5): two rounds, then a verdict. One per connection
/// attempt; it holds the nonce and the messages the final proof signs.
public struct SCRAMServer: Sendable {
    public let mechanism: SCRAMMechanism
    private var state: State = .initial

    enum State: Sendable {
        case initial
        case sentFirst(
            user: String, credential: SCRAMCredential, known: Bool, clientNonce: String, nonce: String,
            authMessagePrefix: String, gs2Header: String)
        case done
    }

    public init(mechanism: SCRAMMechanism) {
        self.mechanism = mechanism
    }

    /// What `receive` asks of the caller: either bytes to send and another round, or a finished login.
    public enum Step: Equatable, Sendable {
        case challenge([UInt8])
        case authenticated(user: String, finalMessage: [UInt8])
    }

    /// Takes the client's next message. `lookup` finds the stored credential of a user; for an unknown
    /// user the exchange goes on with a made-up one (`decoy`) and fails at the proof, so the answers do
    /// not tell which users exist.
    public mutating func receive(
        _ message: [UInt8], lookup: (String) -> SCRAMCredential?, decoy: (String) -> SCRAMCredential,
        serverNonce: String = Data(SASLBytes.random(count: 24)).base64EncodedString()
    ) throws(SASLFailure) -> Step {
        switch state {
        case .initial:
            let first = try SCRAMMessages.ClientFirst.parse(message)
            let stored = lookup(first.user)
            let credential = stored ?? decoy(first.user)
            let reply = SCRAMMessages.ServerFirst(
                nonce: first.nonce + serverNonce, salt: credential.salt, iterations: credential.iterations)
            state = .sentFirst(
                user: first.user, credential: credential, known: stored != nil, clientNonce: first.nonce,
                nonce: reply.nonce,
                authMessagePrefix: first.bare + "," + reply.text, gs2Header: first.gs2Header)
            return .challenge(Array(reply.text.utf8))
        case .sentFirst(let user, let credential, let known, let clientNonce, let nonce, let prefix, let gs2Header):
            state = .done
            let final = try SCRAMMessages.ClientFinal.parse(message)
            // librdkafka before 2.x's fix repeats its own nonce in front of the whole nonce; Kafka accepts any
            // final nonce that ends with the whole one. This takes exactly that form and the RFC's.
            guard final.nonce == nonce || final.nonce == clientNonce + nonce else {
                throw SASLFailure(.malformed, "nonce mismatch")
            }
            guard final.channelBinding == Array(gs2Header.utf8) else {
                throw SASLFailure(.malformed, "channel binding does not repeat the gs2 header")
            }
            let authMessage = Array((prefix + "," + final.withoutProof).utf8)
            let clientSignature = mechanism.hmac(key: credential.storedKey, authMessage)
            guard final.proof.count == clientSignature.count else {
                throw SASLFailure(.badCredentials, "authentication failed for user \(user)")
            }
            let clientKey = SASLBytes.xor(final.proof, clientSignature)
            let matches = SASLBytes.constantTimeEqual(mechanism.hash(clientKey), credential.storedKey)
            guard matches && known else {
                throw SASLFailure(.badCredentials, "authentication failed for user \(user)")
            }
            let serverSignature = mechanism.hmac(key: credential.serverKey, authMessage)
            let reply = "v=" + Data(serverSignature).base64EncodedString()
            return .authenticated(user: user, finalMessage: Array(reply.utf8))
        case .done:
            throw SASLFailure(.malformed, "the SCRAM exchange is already over")
        }
    }
}

/// The client side of one SCRAM exchange, for SkeinClient and the tests.
public struct SCRAMClient: Sendable {
    public let mechanism: SCRAMMechanism
    public let user: String
    private let password: String
    private let clientNonce: String
    private var serverSignature: [UInt8] = []
    private var authMessagePrefix = ""

    public init(
        mechanism: SCRAMMechanism, user: String, password: String,
        nonce: String = Data(SASLBytes.random(count: 24)).base64EncodedString()
    ) {
        self.mechanism = mechanism
        self.user = user
        self.password = password
        self.clientNonce = nonce
    }

    public mutating func firstMessage() -> [UInt8] {
        let text = SCRAMMessages.ClientFirst.make(user: user, nonce: clientNonce)
        authMessagePrefix = String(text.dropFirst(3))
        return Array(text.utf8)
    }

    /// Answers the server's first message with the proof; refuses a server nonce that does not extend
    /// ours, and iteration counts out of Kafka's range (a hostile server could ask for billions).
    public mutating func finalMessage(serverFirst: [UInt8]) throws(SASLFailure) -> [UInt8] {
        let first = try SCRAMMessages.ServerFirst.parse(serverFirst)
        guard first.nonce.hasPrefix(clientNonce), first.nonce.count > clientNonce.count else {
            throw SASLFailure(.malformed, "server nonce does not extend the client nonce")
        }
        guard first.iterations <= 100 * SCRAMMechanism.maximumIterations else {
            throw SASLFailure(.unsupported, "server asks for \(first.iterations) iterations")
        }
        let salted = mechanism.saltedPassword(Array(password.utf8), salt: first.salt, iterations: first.iterations)
        let clientKey = mechanism.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = mechanism.hash(clientKey)
        let withoutProof = "c=biws,r=\(first.nonce)"
        let authMessage = Array(
            (authMessagePrefix + "," + String(decoding: serverFirst, as: UTF8.self) + "," + withoutProof).utf8)
        let proof = SASLBytes.xor(clientKey, mechanism.hmac(key: storedKey, authMessage))
        serverSignature = mechanism.hmac(key: mechanism.hmac(key: salted, Array("Server Key".utf8)), authMessage)
        return Array((withoutProof + ",p=" + Data(proof).base64EncodedString()).utf8)
    }

    /// Checks the server's signature: the server also knew the password's keys, not just accepted anything.
    public func verify(serverFinal: [UInt8]) throws(SASLFailure) {
        guard let text = String(validating: serverFinal, as: UTF8.self) else {
            throw SASLFailure(.malformed, "server-final-message is not UTF-8")
        }
        if text.hasPrefix("e=") { throw SASLFailure(.badCredentials, "server error: \(text.dropFirst(2))") }
        guard text.hasPrefix("v="), let signature = Data(base64Encoded: String(text.dropFirst(2).prefix { $0 != "," })),
            SASLBytes.constantTimeEqual(Array(signature), serverSignature)
        else { throw SASLFailure(.badCredentials, "the server's signature does not match") }
    }
}
