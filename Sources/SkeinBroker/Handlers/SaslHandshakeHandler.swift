import SkeinProtocol
import SkeinSASL

/// SaslHandshake: picks the mechanism for the SaslAuthenticate rounds that follow.
enum SaslHandshakeHandler {
    static func handle(_ request: SaslHandshakeRequest, context: RequestContext, broker: Broker) {
        let session = context.connection.session
        let enabled = broker.sasl.settings.enabledMechanisms
        // Re-authentication (KIP-368) is not offered: the session lifetime answered is 0, so clients never try.
        guard session.securityProtocol.usesSASL, !session.authenticated else {
            context.replyThenClose(SaslHandshakeResponse(errorCode: .illegalSaslState, mechanisms: enabled))
            return
        }
        let name = request.mechanism.uppercased()
        guard enabled.contains(name) else {
            _ = broker.sasl.failed(mechanism: "unknown", reason: "unsupported_mechanism", remote: session.remote)
            context.replyThenClose(SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: enabled))
            return
        }
        let exchange: SASLExchange =
            if let scram = SCRAMMechanism(rawValue: name) { .scram(SCRAMServer(mechanism: scram)) } else { .plain }
        session.saslExchange.withLock { $0 = exchange }
        // v0: the tokens follow as bare frames (KIP-43's original framing), v1: as SaslAuthenticate requests.
        session.saslBareTokens.withLock { $0 = context.version == 0 }
        context.reply(SaslHandshakeResponse(mechanisms: enabled))
    }
}
