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

extension TopicsCommand {
    struct AddPartitions: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            commandName: "add-partitions",
            abstract: "Grow a topic to more partitions (partitions cannot be removed).",
            discussion: """
                Keys hash to other partitions afterwards, so per-key order only holds within what is written after
                the change. Example:
                  skein topics add-partitions events --partitions 12
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Option(name: [.short, .long], help: "The partition count the topic should have afterwards.")
        var partitions: Int32
        @Flag(help: "Only check that the broker would accept the change.") var validateOnly = false

        func validate() throws {
            guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
        }

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                do {
                    try await admin.addPartitions(
                        options.name, totalCount: options.partitions, validateOnly: options.validateOnly)
                } catch KafkaClientError.broker(.invalidPartitions, let context) {
                    throw ToolError.usage(context)
                } catch KafkaClientError.unknownTopicOrPartition {
                    throw ToolError.notFound("no topic '\(options.name)'")
                }
                let verb = options.validateOnly ? "would have" : "now has"
                print("topic \(options.name) \(verb) \(options.partitions) partitions")
            }
        }
    }

    struct DeleteRecords: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            commandName: "delete-records",
            abstract: "Delete a topic's oldest records, up to an offset (the log start offset moves forward).",
            discussion: """
                Examples:
                  skein topics delete-records events --partition 0 --before 1500
                  skein topics delete-records events --all          # every partition, everything written so far
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Option(name: [.short, .long], help: "Partition (repeatable; default: every partition).")
        var partition: [Int32] = []
        @Option(name: .long, help: "Delete the records below this offset.") var before: Int64?
        @Flag(help: "Delete every record written so far.") var all = false

        func validate() throws {
            guard (before != nil) != all else { throw ValidationError("give exactly one of --before or --all") }
            if let before { guard before >= 0 else { throw ValidationError("--before must not be negative") } }
        }

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let partitions: [TopicPartition]
                do {
                    partitions =
                        options.partition.isEmpty
                        ? try await admin.partitions(of: options.name)
                        : options.partition.map { TopicPartition(topic: options.name, partition: $0) }
                } catch KafkaClientError.unknownTopicOrPartition {
                    throw ToolError.notFound("no topic '\(options.name)'")
                }
                let offset = options.before ?? -1
                let starts: [TopicPartition: Int64]
                do {
                    starts = try await admin.deleteRecords(
                        before: Dictionary(uniqueKeysWithValues: partitions.map { ($0, offset) }))
                } catch KafkaClientError.broker(.offsetOutOfRange, let context) {
                    throw ToolError.usage("\(context): the offset is past the end of the partition")
                } catch KafkaClientError.unknownTopicOrPartition(let topic, let partition) {
                    throw ToolError.notFound("no partition \(partition.map(String.init) ?? "?") in topic '\(topic)'")
                }
                var rows = [["PARTITION", "START"]]
                for partition in starts.keys.sorted(by: { $0.partition < $1.partition }) {
                    rows.append(["\(partition.partition)", "\(starts[partition]!)"])
                }
                print(table(rows), terminator: "")
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
