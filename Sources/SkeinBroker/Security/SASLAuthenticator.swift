import Dispatch
import Logging
import SkeinMetrics
import SkeinSASL
import Synchronization

/// The broker's side of SASL: the enabled mechanisms, the SCRAM credential store, the failure delay and
/// the metrics. Per-connection exchange state lives on the connection's session.
public final class SASLAuthenticator: Sendable {
    public let settings: SASLSettings
    public let store: CredentialStore
    let delay: AuthenticationFailureDelay
    let authentications: MetricFamily<Counter>
    let failures: MetricFamily<Counter>
    /// PBKDF2 for PLAIN logins takes milliseconds: it runs here, off the event loops.
    let work = DispatchQueue(label: "skein.sasl", attributes: .concurrent)

    init(settings: SASLSettings, dataDirectory: String, registry: MetricsRegistry) throws {
        self.settings = settings
        self.store = try CredentialStore(directory: dataDirectory)
        self.delay = AuthenticationFailureDelay(settings: settings)
        authentications = registry.counterFamily(
            "skein_sasl_authentications_total",
            help: "SASL logins, by mechanism and result (success or failure).", labelNames: ["mechanism", "result"])
        failures = registry.counterFamily(
            "skein_sasl_authentication_failures_total",
            help:
                "Failed SASL logins by reason (bad_credentials, malformed, unsupported, unsupported_mechanism, illegal_state).",
            labelNames: ["reason"])
    }

    func succeeded(mechanism: String) {
        authentications.labels(mechanism, "success").increment()
    }

    /// Counts a failure and returns the delay its answer waits.
    func failed(mechanism: String, reason: String, remote: String) -> Int64 {
        authentications.labels(mechanism, "failure").increment()
        failures.labels(reason).increment()
        return delay.failed(address: AuthenticationFailureDelay.address(ofRemote: remote))
    }
}

/// One connection's SASL exchange between SaslHandshake and the end of SaslAuthenticate.
enum SASLExchange: Sendable {
    case plain
    case scram(SCRAMServer)

    var mechanism: String {
        switch self {
        case .plain: "PLAIN"
        case .scram(let server): server.mechanism.rawValue
        }
    }
}
