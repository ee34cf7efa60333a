import ArgumentParser
import Foundation
import SkeinClient

public struct GroupsCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "List, describe, reset and delete consumer groups.",
        discussion: """
            Examples:
              skein groups list
              skein groups describe billing
              skein groups reset-offsets billing -t events --to-earliest             # shows the plan
              skein groups reset-offsets billing -t events --to-datetime 1h --execute
              skein groups delete billing
            """,
        subcommands: [List.self, Describe.self, ResetOffsets.self, Delete.self])

    public init() {}

    struct List: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "List consumer groups and their states.", discussion: "Example:\n  skein groups list")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let connection = self.connection
            try await connection.withAdmin { admin in
                var rows = [["GROUP", "STATE", "PROTOCOL-TYPE"]]
                for group in try await admin.listGroups() {
                    rows.append([group.groupId, group.state.isEmpty ? "-" : group.state, group.protocolType])
                }
                print(table(rows), terminator: "")
            }
        }
    }

    struct Describe: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Show a group's members, assignments, committed offsets and lag.",
            discussion: "Example:\n  skein groups describe billing")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Group id.") var group: String

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let description = try await admin.describeGroup(options.group)
                let committed = try await admin.committedOffsets(group: options.group)
                if description.state == "Dead" && committed.isEmpty {
                    throw ToolError.notFound("no consumer group '\(options.group)'")
                }
                var owners: [TopicPartition: String] = [:]
                for member in description.members {
                    for partition in member.assignment { owners[partition] = member.clientId + "/" + member.memberId }
                }
                let partitions = Set(committed.keys).union(owners.keys).sorted {
                    ($0.topic, $0.partition) < ($1.topic, $1.partition)
                }
                var ends: [TopicPartition: Int64] = [:]
                for (topic, members) in Dictionary(grouping: partitions, by: \.topic) {
                    if let found = try? await admin.offsets(members, .end) { ends.merge(found) { $1 } }
                    _ = topic
                }
                var out =
                    "Group: \(options.group)  State: \(description.state)  Protocol: \(description.protocolName.isEmpty ? "-" : description.protocolName)  Members: \(description.members.count)\n"
                if !description.members.isEmpty {
                    var rows = [["MEMBER", "CLIENT", "HOST", "ASSIGNMENT"]]
                    for member in description.members {
                        rows.append([
                            member.memberId, member.clientId, member.clientHost,
                            member.assignment.map(\.description).joined(separator: ","),
                        ])
                    }
                    out += "\n" + table(rows)
                }
                var rows = [["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OWNER"]]
                for partition in partitions {
                    let position = committed[partition]
                    let end = ends[partition]
                    let lag = position.flatMap { position in end.map { Swift.max($0 - position, 0) } }
                    rows.append([
                        partition.topic, "\(partition.partition)", position.map(String.init) ?? "-",
                        end.map(String.init) ?? "-",
                        lag.map(String.init) ?? "-", owners[partition] ?? "-",
                    ])
                }
                out += "\n" + table(rows)
                print(out, terminator: "")
            }
        }
    }

    struct ResetOffsets: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets (the group must have no members).",
            discussion: """
                Without --execute it prints the plan and changes nothing, as kafka-consumer-groups does.

                Examples:
                  skein groups reset-offsets billing -t events --to-earliest --execute
                  skein groups reset-offsets billing -t events -p 0 --to-offset 1200 --execute
                  skein groups reset-offsets billing -t events --shift-by -100 --execute
                  skein groups reset-offsets billing -t events --to-datetime '2026-11-22 09:00' --execute
                """)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Group id.") var group: String
        @Option(name: [.short, .long], help: "Topic whose offsets move.") var topic: String
        @Option(name: [.short, .long], help: "Only this partition (repeatable; default all).") var partition: [Int32] =
            []
        @Flag(help: "To the log start.") var toEarliest = false
        @Flag(help: "To the log end.") var toLatest = false
        @Option(help: "To this offset.") var toOffset: Int64?
        @Option(help: "To the first record at or after this time (10m, 2026-11-22T10:00:00Z, …).") var toDatetime:
            String?
        @Option(parsing: .unconditional, help: "By this many records from the committed offset (negative to re-read).")
        var shiftBy: Int64?
        @Flag(help: "Apply the plan; without it nothing changes.") var execute = false

        func validate() throws {
            let chosen = [toEarliest, toLatest, toOffset != nil, toDatetime != nil, shiftBy != nil].filter { $0 }.count
            guard chosen == 1 else {
                throw ValidationError(
                    "give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
            }
            if let toDatetime { _ = try validating { () throws(ToolError) in try TimeExpression.parse(toDatetime) } }
        }

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                var partitions = try await admin.partitions(of: options.topic)
                if !options.partition.isEmpty {
                    for wanted in options.partition where !partitions.contains(where: { $0.partition == wanted }) {
                        throw KafkaClientError.unknownTopicOrPartition(topic: options.topic, partition: wanted)
                    }
                    partitions = partitions.filter { options.partition.contains($0.partition) }
                }
                let starts = try await admin.offsets(partitions, .beginning)
                let ends = try await admin.offsets(partitions, .end)
                let committed = try await admin.committedOffsets(group: options.group, partitions: partitions)
                var targets: [TopicPartition: Int64] = [:]
                if options.toEarliest {
                    targets = starts
                } else if options.toLatest {
                    targets = ends
                } else if let offset = options.toOffset {
                    for partition in partitions { targets[partition] = offset }
                } else if let text = options.toDatetime {
                    targets = try await admin.offsets(partitions, .timestamp(try TimeExpression.parse(text)))
                } else if let shift = options.shiftBy {
                    for partition in partitions {
                        let (shifted, overflow) = (committed[partition] ?? ends[partition] ?? 0)
                            .addingReportingOverflow(shift)
                        targets[partition] = overflow ? (shift < 0 ? .min : .max) : shifted
                    }
                }
                for partition in partitions {
                    targets[partition] = Swift.min(
                        Swift.max(targets[partition] ?? 0, starts[partition] ?? 0), ends[partition] ?? 0)
                }
                var rows = [["TOPIC", "PARTITION", "CURRENT", "NEW"]]
                for partition in partitions {
                    rows.append([
                        partition.topic, "\(partition.partition)", committed[partition].map(String.init) ?? "-",
                        "\(targets[partition]!)",
                    ])
                }
                if options.execute {
                    do {
                        try await admin.commitOffsets(group: options.group, targets)
                    } catch KafkaClientError.broker(let code, _)
                        where [.unknownMemberId, .illegalGeneration, .rebalanceInProgress].contains(code)
                    {
                        throw ToolError.failed(
                            "group '\(options.group)' has active members; stop them before resetting offsets")
                    }
                    print(table(rows), terminator: "")
                } else {
                    print(table(rows) + "(dry run: add --execute to apply)")
                }
            }
        }
    }
}
