import NIOCore
import SkeinProtocol
import SkeinSASL

/// SaslAuthenticate: one round of the mechanism SaslHandshake chose. Success makes the connection act as
/// `User:<name>`; any failure is answered with SASL_AUTHENTICATION_FAILED after the failure delay, and
/// the connection is closed, as Kafka does. Passwords and proofs never reach a log line or a metric.
///
/// After a SaslHandshake v0 the same rounds arrive as bare tokens (a size and the token, no request
/// header) and are answered the same way; a failure there just closes, as Kafka does, since that framing
/// has no room for an error.
enum SaslAuthenticateHandler {
    static func handle(_ request: SaslAuthenticateRequest, context: RequestContext, broker: Broker) {
        step(request.authBytes, connection: context.connection, broker: broker) { result in
            switch result {
            case .success(let reply): context.reply(SaslAuthenticateResponse(authBytes: reply))
            case .failure(let failure):
                let message: String
                switch failure.reason {
                case .badCredentials:
                    message = "Authentication failed: invalid credentials with SASL mechanism \(failure.mechanism)"
                case .illegalState:
                    context.replyThenClose(
                        SaslAuthenticateResponse(
                            errorCode: .illegalSaslState, errorMessage: "SaslAuthenticate without a SaslHandshake first"
                        ))
                    return
                default:
                    message = "Authentication failed with SASL mechanism \(failure.mechanism): \(failure.message)"
                }
                context.replyThenClose(
                    SaslAuthenticateResponse(errorCode: .saslAuthenticationFailed, errorMessage: message))
            }
        }
    }

    /// A bare token after SaslHandshake v0: the frame is the token, the answer a size-prefixed token.
    static func handleBareToken(
        _ payload: ByteBuffer, connection: ConnectionInfo, broker: Broker, respond: @escaping Respond
    ) {
        step(Array(payload.readableBytesView), connection: connection, broker: broker) { result in
            switch result {
            case .success(let reply):
                var buffer = ByteBufferAllocator().buffer(capacity: 4 + reply.count)
                buffer.writeInteger(Int32(reply.count))
                buffer.writeBytes(reply)
                respond(.frame(buffer))
            case .failure:
                respond(.refused)
            }
        }
    }

    struct Failure: Error {
        enum Reason { case badCredentials, malformed, unsupported, illegalState }
        var reason: Reason
        var mechanism: String
        var message: String
    }

    /// Runs one round; `done` gets the bytes to send back, or the failure after its delay.
    private static func step(
        _ bytes: [UInt8], connection: ConnectionInfo, broker: Broker,
        done: @escaping @Sendable (Result<[UInt8], Failure>) -> Void
    ) {
        let session = connection.session
        let sasl = broker.sasl
        guard session.securityProtocol.usesSASL, !session.authenticated,
            let exchange = session.saslExchange.withLock({ $0 })
        else {
            _ = sasl.failed(mechanism: "unknown", reason: "illegal_state", remote: session.remote)
            done(.failure(Failure(reason: .illegalState, mechanism: "unknown", message: "no SaslHandshake")))
            return
        }
        let fail: @Sendable (SASLFailure, String) -> Void = { failure, mechanism in
            session.saslExchange.withLock { $0 = nil }
            let delayMs = sasl.failed(mechanism: mechanism, reason: failure.reason.rawValue, remote: session.remote)
            broker.clientWarnings.warning(
                "failed authentication", "SASL \(mechanism) login from \(session.remote) failed: \(failure.message)")
            let reason: Failure.Reason =
                switch failure.reason {
                case .badCredentials: .badCredentials
                case .malformed: .malformed
                case .unsupported: .unsupported
                }
            connection.eventLoop.scheduleTask(in: .milliseconds(delayMs)) {
                done(.failure(Failure(reason: reason, mechanism: mechanism, message: failure.message)))
            }
        }
        let succeed: @Sendable (String, String, [UInt8]) -> Void = { user, mechanism, reply in
            session.saslExchange.withLock { $0 = nil }
            session.authenticate(as: KafkaPrincipal(name: user), mechanism: mechanism)
            sasl.succeeded(mechanism: mechanism)
            broker.logger.debug("SASL \(mechanism) login of User:\(user) from \(session.remote)")
            done(.success(reply))
        }
        switch exchange {
        case .plain:
            // PBKDF2 against the stored SCRAM credential: off the event loop.
            sasl.work.async {
                do throws(SASLFailure) {
                    let plain = try PLAINMessage.parse(bytes)
                    guard sasl.store.verify(user: plain.user, password: plain.password) else {
                        throw SASLFailure(.badCredentials, "authentication failed for user \(plain.user)")
                    }
                    succeed(plain.user, "PLAIN", [])
                } catch {
                    fail(error, "PLAIN")
                }
            }
        case .scram(var server):
            let mechanism = server.mechanism
            do throws(SASLFailure) {
                let step = try server.receive(
                    bytes, lookup: { sasl.store.credential(user: $0, mechanism: mechanism) },
                    decoy: { sasl.store.decoy(user: $0, mechanism: mechanism) })
                session.saslExchange.withLock { $0 = .scram(server) }
                switch step {
                case .challenge(let reply): done(.success(reply))
                case .authenticated(let user, let final): succeed(user, mechanism.rawValue, final)
                }
            } catch {
                fail(error, mechanism.rawValue)
            }
        }
    }
}
