import ArgumentParser
import Foundation
import SkeinClient

public struct TopicsCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "List, create, delete, describe, configure and grow topics, and delete old records.",
        discussion: """
            Examples:
              skein topics list
              skein topics create events -p 6 -c retention.ms=86400000 -c compression.type=zstd
              skein topics describe events
              skein topics alter-config events --set retention.ms=3600000 --delete segment.bytes
              skein topics add-partitions events --partitions 12
              skein topics delete-records events --partition 0 --before 1500
              skein topics delete events
            """,
        subcommands: [
            List.self, Create.self, Delete.self, Describe.self, AlterConfig.self, AddPartitions.self,
            DeleteRecords.self,
        ])

    public init() {}

    struct List: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "List topics with their partition counts.",
            discussion: "Example:\n  skein topics list --bootstrap broker:9092")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let connection = self.connection
            try await connection.withAdmin { admin in
                let cluster = try await admin.cluster()
                var rows = [["TOPIC", "PARTITIONS"]]
                for topic in cluster.topics { rows.append([topic.name, "\(topic.partitionCount)"]) }
                print(table(rows), terminator: "")
            }
        }
    }

    struct Create: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Create a topic.",
            discussion: "Example:\n  skein topics create events --partitions 6 --config retention.ms=86400000")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Option(name: [.short, .long], help: "Number of partitions.") var partitions: Int32 = 1
        @Option(name: [.short, .long], help: "Replication factor.") var replicationFactor: Int16 = 1
        @Option(name: [.short, .long], help: "Topic setting key=value, with Kafka's names (repeatable).")
        var config: [String] = []
        @Flag(help: "Succeed quietly when the topic exists.") var ifNotExists = false

        func validate() throws {
            guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
            for item in config { _ = try validating { () throws(ToolError) in try keyValue(item, what: "--config") } }
        }

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let configs = Dictionary(
                    try options.config.map { try keyValue($0, what: "--config") }, uniquingKeysWith: { $1 })
                do {
                    try await admin.createTopic(
                        options.name, partitions: options.partitions, replicationFactor: options.replicationFactor,
                        configs: configs)
                } catch KafkaClientError.broker(.topicAlreadyExists, _) where options.ifNotExists {
                    return
                } catch KafkaClientError.broker(.topicAlreadyExists, _) {
                    throw ToolError.failed("topic '\(options.name)' already exists")
                }
                print(
                    "created topic \(options.name) with \(options.partitions) partition\(options.partitions == 1 ? "" : "s")"
                )
            }
        }
    }

    struct Delete: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Delete a topic and its data.", discussion: "Example:\n  skein topics delete events")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Flag(help: "Succeed quietly when the topic does not exist.") var ifExists = false

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                do {
                    try await admin.deleteTopic(options.name)
                } catch KafkaClientError.unknownTopicOrPartition where options.ifExists {
                    return
                }
                print("deleted topic \(options.name)")
            }
        }
    }

    struct Describe: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Show a topic's partitions (leader, offsets, record counts, bytes on disk) and settings.",
            discussion: "Example:\n  skein topics describe events")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Topic name.") var name: String
        @Flag(help: "Also list settings left at their defaults.") var all = false

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let info = try await admin.topic(options.name)
                let partitions = info.partitions.keys.sorted().map {
                    TopicPartition(topic: options.name, partition: $0)
                }
                let starts = try await admin.offsets(partitions, .beginning)
                let ends = try await admin.offsets(partitions, .end)
                // A broker without DescribeLogDirs (or one that refuses it) still gets the rest of the table.
                let sizes = try? await admin.partitionSizes(of: options.name)
                var out = "Topic: \(options.name)  Partitions: \(partitions.count)\n\n"
                var rows = [["PARTITION", "LEADER", "START", "END", "RECORDS", "BYTES"]]
                for partition in partitions {
                    let start = starts[partition] ?? 0
                    let end = ends[partition] ?? 0
                    rows.append([
                        "\(partition.partition)", "\(info.partitions[partition.partition]?.leaderId ?? -1)", "\(start)",
                        "\(end)", "\(end - start)", sizes?[partition.partition].map(String.init) ?? "-",
                    ])
                }
                out += table(rows)
                let configs = try await admin.topicConfigs(options.name).filter {
                    options.all || $0.source != "default"
                }
                out += "\n"
                if configs.isEmpty {
                    out += "Settings: all defaults (--all lists them)\n"
                } else {
                    var settingRows = [["SETTING", "VALUE", "SOURCE"]]
                    for entry in configs {
                        settingRows.append([
                            entry.name, entry.isSensitive ? "(sensitive)" : entry.value ?? "", entry.source,
                        ])
                    }
                    out += table(settingRows)
                }
                print(out, terminator: "")
            }
        }
    }
}
