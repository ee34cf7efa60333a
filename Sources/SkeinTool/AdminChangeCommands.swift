import ArgumentParser
import SkeinClient

extension TopicsCommand {
    struct AlterConfig: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            commandName: "alter-config",
            abstract: "Change a topic's settings (Kafka's names); others keep their values.",
            discussion: """
                Examples:
                  skein topics alter-config events --set retention.ms=3600000 --set segment.bytes=104857600
                  skein topics alter-config events --delete retention.ms      # back to the default
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Option(name: .long, help: "Setting key=value (repeatable).") var set: [String] = []
        @Option(name: .long, help: "Setting to return to its default (repeatable).") var delete: [String] = []
        @Flag(help: "Only check that the broker would accept the change.") var validateOnly = false

        func validate() throws {
            guard !set.isEmpty || !delete.isEmpty else { throw ValidationError("give at least one --set or --delete") }
            for item in set { _ = try validating { () throws(ToolError) in try keyValue(item, what: "--set") } }
        }

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let changes = Dictionary(
                    try options.set.map { try keyValue($0, what: "--set") }, uniquingKeysWith: { $1 })
                do {
                    try await admin.alterTopicConfigs(
                        options.name, set: changes, delete: options.delete, validateOnly: options.validateOnly)
                } catch KafkaClientError.broker(.invalidConfig, let context) {
                    throw ToolError.usage(context)
                }
                let verb = options.validateOnly ? "would change" : "changed"
                print("\(verb) \(changes.count + options.delete.count) setting(s) of \(options.name)")
            }
        }
    }
}

extension GroupsCommand {
    struct Delete: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Delete a consumer group that has no members, with its committed offsets.",
            discussion: "Example:\n  skein groups delete billing")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Group id.") var group: String

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                do {
                    try await admin.deleteGroup(options.group)
                } catch KafkaClientError.broker(.nonEmptyGroup, _) {
                    throw ToolError.failed("group '\(options.group)' has active members; stop them first")
                } catch KafkaClientError.broker(.groupIdNotFound, _) {
                    throw ToolError.notFound("no consumer group '\(options.group)'")
                }
                print("deleted group \(options.group)")
            }
        }
    }
}
