import ArgumentParser
import Foundation
import SkeinClient
import SkeinProtocol

/// What `kafka-transactions.sh list` and `describe` show, for finding the producer that holds a partition's
/// last stable offset back.
public struct TransactionsCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "transactions",
        abstract: "List and describe transactional producers (the coordinator's view).",
        discussion: """
            Examples:
              skein transactions list
              skein transactions list --state Ongoing --open-for 1m
              skein transactions describe billing-writer
            """,
        subcommands: [List.self, Describe.self])

    public init() {}

    struct List: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "List transactional ids, their producer ids and states.",
            discussion: "Example:\n  skein transactions list --state Ongoing")
        @OptionGroup var connection: ConnectionOptions
        @Option(
            name: .customLong("state"),
            help:
                "Only ids in this state (Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort); repeatable."
        )
        var states: [String] = []
        @Option(
            name: .customLong("open-for"),
            help: "Only transactions open at least this long (e.g. 30s, 5m, or milliseconds).")
        var openFor: String?

        func run() async throws {
            let options = self
            let minimum = try openFor.map(Self.milliseconds) ?? -1
            try await connection.withAdmin { admin in
                var rows = [["TRANSACTIONAL-ID", "PRODUCER-ID", "STATE"]]
                for listing in try await admin.listTransactions(states: options.states, minimumDurationMs: minimum) {
                    rows.append([listing.transactionalId, String(listing.producerId), listing.state])
                }
                print(table(rows), terminator: "")
            }
        }

        static func milliseconds(_ text: String) throws -> Int64 {
            let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
            for (suffix, scale) in units where text.hasSuffix(suffix) {
                if let value = Int64(text.dropLast(suffix.count)), value >= 0 { return value * scale }
            }
            guard let value = Int64(text), value >= 0 else {
                throw ValidationError("--open-for takes a duration such as 500ms, 30s, 5m or 1h")
            }
            return value
        }
    }

    struct Describe: AsyncParsableCommand, Sendable {
        static let configuration = CommandConfiguration(
            abstract: "Show a transactional id's producer, epoch, state, timeout and partitions.",
            discussion: "Example:\n  skein transactions describe billing-writer")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Transactional id.") var transactionalId: String

        func run() async throws {
            let options = self
            try await connection.withAdmin { admin in
                let described: AdminClient.TransactionDescription
                do {
                    described = try await admin.describeTransaction(options.transactionalId)
                } catch KafkaClientError.broker(.transactionalIdNotFound, _) {
                    throw ToolError.notFound("no transactional id '\(options.transactionalId)'")
                }
                var rows = [
                    ["TRANSACTIONAL-ID", "PRODUCER-ID", "EPOCH", "STATE", "TIMEOUT-MS", "STARTED", "PARTITIONS"]
                ]
                let started =
                    described.startTimeMs < 0
                    ? "-"
                    : ISO8601DateFormatter().string(
                        from: Date(timeIntervalSince1970: Double(described.startTimeMs) / 1000))
                rows.append([
                    described.transactionalId, String(described.producerId), String(described.producerEpoch),
                    described.state, String(described.timeoutMs), started,
                    described.partitions.isEmpty ? "-" : described.partitions.map(\.description).joined(separator: ","),
                ])
                print(table(rows), terminator: "")
            }
        }
    }
}
