import ArgumentParser
import Foundation
import Logging
import SkeinClient

public struct ConsumeCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Print the records of a topic.",
        discussion: """
            Without --follow it reads up to the end offsets of the moment it started and exits 0. By default it
            starts at the beginning (at the end with --follow and no --offset/--since).

            Examples:
              skein consume -t events                          # everything, then exit
              skein consume -t events -o -10                   # last 10 records of each partition
              skein consume -t events --since 10m --format json
              skein consume -t events -p 0 -o 1500 -n 100      # 100 records of partition 0 from offset 1500
              skein consume -t events --follow                 # new records as they arrive (Ctrl-C stops)
              skein consume -t events --group billing --follow # share partitions with other group members
            """)

    @OptionGroup public var connection: ConnectionOptions
    @Option(name: [.short, .long], help: "Topic to read.")
    public var topic: String
    @Option(
        name: [.short, .long], parsing: .unconditional,
        help: "Start: an offset N, -N (N records before the end), beginning or end.")
    public var offset: String?
    @Option(help: "Start at the first record at or after this time (10m, 2h, 2026-11-22T10:00:00Z, …).")
    public var since: String?
    @Option(help: "Stop after the last record at or before this time.")
    public var until: String?
    @Option(name: [.short, .long], help: "Partition to read (repeatable; default all).")
    public var partition: [Int32] = []
    @Flag(name: [.short, .long], help: "Keep printing new records until interrupted.")
    public var follow = false
    @Option(name: [.customShort("n"), .long], help: "Stop after this many records.")
    public var max: Int?
    @Option(name: [.short, .long], help: "Consume as a member of this consumer group, committing offsets.")
    public var group: String?
    @Option(name: [.customShort("F"), .long], help: "Output: text, json or raw.")
    public var format: RecordFormat = .text
    @Flag(help: "Print the key and a tab before the value (text and raw).")
    public var printKey = false
    @Option(help: "Written after each record in text and raw output (C escapes allowed).")
    public var delimiter: String = "\\n"
    @Flag(help: "Print how many records were read and where each partition started, on stderr.")
    public var stats = false
    @Option(
        name: [.customLong("isolation-level"), .customLong("isolation")],
        help: "read_committed (default: committed transactions only) or read_uncommitted (also open and aborted ones).")
    public var isolationLevel: IsolationLevel = .readCommitted

    public init() {}

    public func validate() throws {
        if let max, max <= 0 { throw ValidationError("--max must be positive") }
        if follow, until != nil { throw ValidationError("--follow and --until cannot be combined") }
        if group != nil {
            if since != nil || until != nil || !partition.isEmpty {
                throw ValidationError(
                    "--group takes partitions from the group: --since, --until and --partition do not apply")
            }
            if let offset, !["beginning", "end", "earliest", "latest"].contains(offset) {
                throw ValidationError(
                    "with --group, --offset is where partitions without a committed offset start: beginning or end")
            }
        }
        if let offset { _ = try validating { () throws(ToolError) in try StartPosition.parse(offset) } }
        if let since { _ = try validating { () throws(ToolError) in try TimeExpression.parse(since) } }
        if let until { _ = try validating { () throws(ToolError) in try TimeExpression.parse(until) } }
    }

    public func run() async throws {
        let options = self
        try await connection.run { try await options.consume() }
    }

    private func consume() async throws {
        let sink = OutputSink()
        let progress = ProgressLine(label: "read")
        let delimiter = unescape(self.delimiter)
        var printed = 0
        var scratch: [UInt8] = []
        let limit = max ?? .max
        // Property-wrapper reads are not free; the closure below runs once per record.
        let format = self.format
        let printKey = self.printKey
        let follow = self.follow
        // Returns how many of `records` it printed, and whether to go on (false once --max is reached).
        let print: ([ConsumerRecord]) -> (printed: Int, more: Bool) = { records in
            for (index, record) in records.enumerated() {
                format.write(record, to: sink, printKey: printKey, delimiter: delimiter, scratch: &scratch)
                printed += 1
                if printed >= limit { return (index + 1, false) }
            }
            if follow { sink.flush() }
            progress.update(records: printed, bytes: sink.bytesWritten)
            return (records.count, true)
        }
        defer {
            sink.flush()
            progress.finish()
        }
        if let group {
            try await consumeInGroup(group, print: print)
            return
        }
        var request = ReadRequest(topic: topic)
        request.partitions = partition.isEmpty ? nil : partition
        request.start = try offset.map(StartPosition.parse) ?? (follow && since == nil ? .end : .beginning)
        request.since = try since.map { try TimeExpression.parse($0) }
        request.until = try until.map { try TimeExpression.parse($0) }
        request.follow = follow
        let reader = RecordReader(
            bootstrap: connection.servers, logger: connection.logger, security: try connection.security())
        var configuration = ConsumerConfiguration()
        configuration.clientId = "skein-consume"
        configuration.isolationLevel = isolationLevel
        let summary = try await reader.read(request, configuration: configuration) { records in
            var records = records
            if let since = request.since { records.removeAll { $0.timestamp < since } }
            if let until = request.until { records.removeAll { $0.timestamp > until } }
            return print(records).more
        }
        sink.flush()
        if stats { Self.report(summary, printed: printed) }
    }

    static func report(_ summary: ReadSummary, printed: Int) {
        let starts = summary.startOffsets.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(
            separator: " ")
        FileStream.standardError.write(
            "skein: scanned \(summary.recordsScanned) records, printed \(printed); start offsets \(starts)\n")
    }

    private func consumeInGroup(_ group: String, print: ([ConsumerRecord]) -> (printed: Int, more: Bool)) async throws {
        var configuration = GroupConsumerConfiguration()
        configuration.consumer.clientId = "skein-consume"
        configuration.consumer.isolationLevel = isolationLevel
        configuration.startWithoutCommit =
            offset.map { ["end", "latest"].contains($0) ? .end : .beginning } ?? .beginning
        let consumer = try GroupConsumer(
            bootstrapServers: connection.servers, groupId: group, topics: [topic], configuration: configuration,
            logger: connection.logger, security: connection.security())
        let admin = try AdminClient(
            bootstrapServers: connection.servers, logger: connection.logger, security: connection.security())
        do {
            _ = try await admin.topic(topic)
            await admin.close()
            var idlePolls = 0
            while !Task.isCancelled {
                let records = try await consumer.poll()
                if !records.isEmpty {
                    let (count, more) = print(records)
                    if !more {
                        // The consumer's positions are past the whole fetch; move them back to the first
                        // record not printed, so closing commits only what was shown (at-least-once).
                        var firstUnprinted: [TopicPartition: Int64] = [:]
                        for record in records[count...] where firstUnprinted[record.topicPartition] == nil {
                            firstUnprinted[record.topicPartition] = record.offset
                        }
                        for (partition, offset) in firstUnprinted { try await consumer.seek(partition, to: offset) }
                        break
                    }
                }
                guard !follow else { continue }
                // Without --follow: stop once every assigned partition has been read to its end.
                let assignment = await consumer.assignment
                var caughtUp = true
                for partition in assignment {
                    let position = await consumer.position(of: partition) ?? 0
                    guard let end = await consumer.endOffset(of: partition), position >= end else {
                        caughtUp = false
                        break
                    }
                }
                idlePolls = records.isEmpty ? idlePolls + 1 : 0
                if caughtUp && (idlePolls > 0 || assignment.isEmpty) { break }
            }
        } catch {
            await admin.close()
            await consumer.close()
            throw error
        }
        await consumer.close()
    }
}
