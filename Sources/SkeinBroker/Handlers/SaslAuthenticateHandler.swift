import NIOCore
import SkeinProtocol
import SkeinSASL

/// SaslAuthenticate: one round of the mechanism SaslHandshake chose. Success makes the connection act as
/// `User:<name>`; any failure is answered with SASL_AUTHENTICATION_FAILED after the failure delay, and
/// the connection is closed, as Kafka does. Passwords and proofs never reach a log line or a metric.
enum SaslAuthenticateHandler {
    static func handle(_ request: SaslAuthenticateRequest, context: RequestContext, broker: Broker) {
        let session = context.connection.session
        let sasl = broker.sasl
        guard session.securityProtocol.usesSASL, !session.authenticated,
            let exchange = session.saslExchange.withLock({ $0 })
        else {
            _ = sasl.failed(mechanism: session.saslMechanism ?? "unknown", reason: "illegal_state", remote: session.remote)
            context.replyThenClose(
                SaslAuthenticateResponse(
                    errorCode: .illegalSaslState, errorMessage: "SaslAuthenticate without a SaslHandshake first"))
            return
        }
        switch exchange {
        case .plain:
            // PBKDF2 against the stored SCRAM credential: off the event loop.
            sasl.work.async {
                do {
                    let plain = try PLAINMessage.parse(request.authBytes)
                    guard sasl.store.verify(user: plain.user, password: plain.password) else {
                        throw SASLFailure(.badCredentials, "authentication failed for user \(plain.user)")
                    }
                    succeed(user: plain.user, mechanism: "PLAIN", reply: [], context: context, broker: broker)
                } catch let failure as SASLFailure {
                    fail(failure, mechanism: "PLAIN", context: context, broker: broker)
                } catch {
                    fail(SASLFailure(.malformed, "\(error)"), mechanism: "PLAIN", context: context, broker: broker)
                }
            }
        case .scram(var server):
            let mechanism = server.mechanism
            do {
                let step = try server.receive(
                    request.authBytes, lookup: { sasl.store.credential(user: $0, mechanism: mechanism) },
                    decoy: { sasl.store.decoy(user: $0, mechanism: mechanism) })
                session.saslExchange.withLock { $0 = .scram(server) }
                switch step {
                case .challenge(let bytes):
                    context.reply(SaslAuthenticateResponse(authBytes: bytes))
                case .authenticated(let user, let final):
                    succeed(user: user, mechanism: mechanism.rawValue, reply: final, context: context, broker: broker)
                }
            } catch {
                fail(error, mechanism: mechanism.rawValue, context: context, broker: broker)
            }
        }
    }

    private static func succeed(user: String, mechanism: String, reply: [UInt8], context: RequestContext, broker: Broker) {
        let session = context.connection.session
        session.saslExchange.withLock { $0 = nil }
        session.authenticate(as: KafkaPrincipal(name: user), mechanism: mechanism)
        broker.sasl.succeeded(mechanism: mechanism)
        broker.logger.debug("SASL \(mechanism) login of User:\(user) from \(session.remote)")
        context.reply(SaslAuthenticateResponse(authBytes: reply))
    }

    private static func fail(_ failure: SASLFailure, mechanism: String, context: RequestContext, broker: Broker) {
        let session = context.connection.session
        session.saslExchange.withLock { $0 = nil }
        let delayMs = broker.sasl.failed(mechanism: mechanism, reason: failure.reason.rawValue, remote: session.remote)
        broker.clientWarnings.warning(
            "failed authentication", "SASL \(mechanism) login from \(session.remote) failed: \(failure.message)")
        let response = SaslAuthenticateResponse(
            errorCode: .saslAuthenticationFailed,
            errorMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism)"
                + (failure.reason == .badCredentials ? "" : ": \(failure.message)"))
        context.connection.eventLoop.scheduleTask(in: .milliseconds(delayMs)) {
            context.replyThenClose(response)
        }
    }
}
