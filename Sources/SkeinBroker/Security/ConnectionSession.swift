import SkeinProtocol
import Synchronization

/// Who a connection acts as, in Kafka's `Type:Name` form (`User:alice`), the form ACLs and quotas name.
/// Until TLS or SASL says otherwise it is `User:ANONYMOUS`, as in Kafka.
public struct KafkaPrincipal: Hashable, Sendable, CustomStringConvertible {
    public var type: String
    public var name: String

    public init(type: String = "User", name: String) {
        self.type = type
        self.name = name
    }

    public static let anonymous = KafkaPrincipal(name: "ANONYMOUS")

    public var description: String { "\(type):\(name)" }
}

/// What one connection's earlier requests and its TLS handshake established, read by later requests:
/// the listener it came in on and the principal it acts as. One per connection, shared by the requests
/// in flight on it; a handler that changes it (SaslAuthenticate, the TLS handshake) does so before the
/// connection's next request is dispatched, as requests of a connection are dispatched in order.
public final class ConnectionSession: Sendable {
    public let listenerName: String
    public let securityProtocol: SecurityProtocol
    public let remote: String
    private let state: Mutex<State>
    /// The SASL exchange between SaslHandshake and the last SaslAuthenticate round (SaslAuthenticateHandler).
    let saslExchange = Mutex<SASLExchange?>(nil)
    /// SaslHandshake v0 was used: the SASL tokens that follow come as bare frames, not SaslAuthenticate.
    let saslBareTokens = Mutex(false)

    struct State {
        var principal: KafkaPrincipal = .anonymous
        /// False on a SASL listener until SaslAuthenticate succeeds; requests other than ApiVersions and
        /// the SASL ones are refused until then.
        var authenticated: Bool
        var saslMechanism: String?
    }

    public init(listenerName: String = "PLAINTEXT", securityProtocol: SecurityProtocol = .plaintext, remote: String) {
        self.listenerName = listenerName
        self.securityProtocol = securityProtocol
        self.remote = remote
        self.state = Mutex(State(authenticated: !securityProtocol.usesSASL))
    }

    public var principal: KafkaPrincipal { state.withLock { $0.principal } }
    public var authenticated: Bool { state.withLock { $0.authenticated } }
    public var saslMechanism: String? { state.withLock { $0.saslMechanism } }

    /// The TLS handshake named a client certificate's principal (mTLS on an SSL listener).
    public func setPrincipal(_ principal: KafkaPrincipal) {
        state.withLock { $0.principal = principal }
    }

    /// SASL succeeded: the connection acts as `principal` from its next request on.
    public func authenticate(as principal: KafkaPrincipal, mechanism: String) {
        state.withLock {
            $0.principal = principal
            $0.authenticated = true
            $0.saslMechanism = mechanism
        }
    }
}
