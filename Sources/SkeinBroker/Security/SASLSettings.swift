import SkeinSASL

/// The broker's SASL settings, by Kafka's names where Kafka has them.
public struct SASLSettings: Sendable, Equatable {
    public static let supportedMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

    /// `sasl.enabled.mechanisms`: what SaslHandshake accepts on SASL listeners. Kafka's default is GSSAPI,
    /// which this broker does not have; all three of its mechanisms are on by default instead.
    public var enabledMechanisms = supportedMechanisms
    /// `connection.failed.authentication.delay.ms` (Kafka's name and default): how long the answer to a
    /// failed login waits. Repeated failures from one address double it, up to the maximum below.
    public var failedAuthenticationDelayMs: Int64 = 100
    /// `connection.failed.authentication.delay.max.ms`: the cap of that doubling delay.
    public var failedAuthenticationDelayMaxMs: Int64 = 5_000
    /// `connection.failed.authentication.forget.ms`: an address without failures this long starts over.
    public var failedAuthenticationForgetMs: Int64 = 60_000

    public init() {}

    static let names: Set<String> = [
        "sasl.enabled.mechanisms", "connection.failed.authentication.delay.ms",
        "connection.failed.authentication.delay.max.ms", "connection.failed.authentication.forget.ms",
    ]

    mutating func apply(_ name: String, _ value: String) throws(BrokerConfig.InvalidSetting) {
        switch name {
        case "sasl.enabled.mechanisms":
            let names = value.split(separator: ",").map { $0.trimmingSpaces.uppercased() }.filter { !$0.isEmpty }
            for mechanism in names where !Self.supportedMechanisms.contains(mechanism) {
                throw BrokerConfig.InvalidSetting(
                    name: name, value: value,
                    reason:
                        "\(mechanism) is not supported (supported: \(Self.supportedMechanisms.joined(separator: ",")))")
            }
            enabledMechanisms = names
        case "connection.failed.authentication.delay.ms":
            failedAuthenticationDelayMs = try BrokerConfig.positive(value, name: name, orZero: true)
        case "connection.failed.authentication.delay.max.ms":
            failedAuthenticationDelayMaxMs = try BrokerConfig.positive(value, name: name, orZero: true)
        default:
            failedAuthenticationForgetMs = try BrokerConfig.positive(value, name: name)
        }
    }
}
