import ArgumentParser
import Foundation
import SkeinClient
import SkeinProtocol

/// `kafka-configs --entity-type users|clients` for client quotas, through DescribeClientQuotas and
/// AlterClientQuotas.
public struct QuotasCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "quotas",
        abstract: "Describe and alter client quotas (producer_byte_rate, consumer_byte_rate).",
        discussion: """
            An entity is a user (the principal's name, ANONYMOUS on a plaintext listener), a client id, or a \
            user and a client id; --user-defaults and --client-defaults name the defaults.

            Examples:
              skein quotas describe
              skein quotas alter --client-id loader --add-config producer_byte_rate=1048576
              skein quotas alter --user alice --client-defaults --add-config consumer_byte_rate=2097152
              skein quotas alter --client-id loader --delete-config producer_byte_rate
            """,
        subcommands: [Describe.self, Alter.self])

    public init() {}

    struct EntityOptions: ParsableArguments, Sendable {
        @Option(name: .customLong("user"), help: "A user (principal name).") var user: String?
        @Flag(name: .customLong("user-defaults"), help: "The default user entity.") var userDefaults = false
        @Option(name: [.customLong("client-id"), .customLong("client")], help: "A client id.") var clientId: String?
        @Flag(name: .customLong("client-defaults"), help: "The default client-id entity.") var clientDefaults = false

        func validate() throws {
            if user != nil && userDefaults { throw ValidationError("--user and --user-defaults exclude each other") }
            if clientId != nil && clientDefaults {
                throw ValidationError("--client-id and --client-defaults exclude each other")
            }
        }

        var parts: [ClientQuotaEntityPart] {
            var parts: [ClientQuotaEntityPart] = []
            if user != nil || userDefaults { parts.append(.init(entityType: "user", entityName: user)) }
            if clientId != nil || clientDefaults { parts.append(.init(entityType: "client-id", entityName: clientId)) }
            return parts
        }
    }

    struct Describe: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "List quota entities and their values; with an entity, only that entity.",
            discussion: "Examples:\n  skein quotas describe\n  skein quotas describe --client-id loader")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var entity: EntityOptions

        func run() async throws {
            let components = entity.parts.map {
                DescribeClientQuotasRequest.Component(
                    entityType: $0.entityType, matchType: $0.entityName == nil ? 1 : 0, match: $0.entityName)
            }
            try await connection.withAdmin { admin in
                let quotas = try await admin.describeClientQuotas(components, strict: !components.isEmpty)
                var rows = [["ENTITY", "QUOTAS"]]
                for quota in quotas {
                    rows.append([
                        QuotasCommand.path(quota.entity),
                        quota.values.sorted { $0.key < $1.key }.map { "\($0.key)=\(QuotasCommand.format($0.value))" }
                            .joined(separator: ","),
                    ])
                }
                print(table(rows), terminator: "")
            }
        }
    }

    struct Alter: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Set (--add-config) or remove (--delete-config) quota values of one entity.",
            discussion: "Example:\n  skein quotas alter --client-id loader --add-config producer_byte_rate=1048576")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var entity: EntityOptions
        @Option(
            name: .customLong("add-config"),
            help: "KEY=VALUE[,KEY=VALUE] in bytes/s: producer_byte_rate, consumer_byte_rate; repeatable.")
        var add: [String] = []
        @Option(name: .customLong("delete-config"), help: "KEY[,KEY] to remove; repeatable.") var delete: [String] = []

        func validate() throws {
            if entity.parts.isEmpty {
                throw ValidationError("name an entity: --user, --user-defaults, --client-id or --client-defaults")
            }
            if add.isEmpty && delete.isEmpty {
                throw ValidationError("nothing to change: --add-config or --delete-config")
            }
            _ = try settings()
        }

        func settings() throws -> [String: Double] {
            var settings: [String: Double] = [:]
            for pair in add.flatMap({ $0.split(separator: ",") }) {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let value = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--add-config takes KEY=VALUE with a number, not '\(pair)'")
                }
                settings[parts[0].trimmingCharacters(in: .whitespaces)] = value
            }
            return settings
        }

        func run() async throws {
            let set = try settings()
            let remove = delete.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let parts = entity.parts
            try await connection.withAdmin { admin in
                try await admin.alterClientQuotas(parts, set: set, remove: remove)
                print("Altered quotas of \(QuotasCommand.path(parts)).")
            }
        }
    }

    /// Kafka's path form: `/users/alice/clients/<default>`.
    static func path(_ parts: [ClientQuotaEntityPart]) -> String {
        parts.map { part in
            let name = part.entityName ?? "<default>"
            switch part.entityType {
            case "user": return "/users/\(name)"
            case "client-id": return "/clients/\(name)"
            default: return "/\(part.entityType)/\(name)"
            }
        }.joined()
    }

    /// Byte rates are whole numbers; they print without a fraction.
    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
