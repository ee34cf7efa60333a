import ArgumentParser
import Foundation
import SkeinClient
import SkeinCompression

public struct ProduceCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce one record per line of stdin or a file.",
        discussion: """
            Empty lines are skipped. Records without a key are spread over partitions a batch at a time
            (sticky partitioning); records with a key go to the partition Kafka's default partitioner
            (murmur2) picks, so the same key lands where a Java or librdkafka producer would put it.

            Examples:
              echo 'hello' | skein produce -t events
              skein produce -t events -f app.log -z zstd
              printf 'user-1:clicked\\nuser-2:viewed\\n' | skein produce -t events -K :
              skein produce -t events -H source=import -H batch=7 --acks 1 < lines.txt
            """)

    @OptionGroup public var connection: ConnectionOptions
    @Option(name: [.short, .long], help: "Topic to produce to (created if the broker auto-creates topics).")
    public var topic: String
    @Option(name: [.short, .long], help: "Read lines from this file instead of stdin.")
    public var file: String?
    @Option(
        name: [.customShort("K"), .customLong("key-separator")],
        help: "Split each line at the first SEP into key and value.")
    public var keySeparator: String?
    @Option(
        name: .customShort("H"), parsing: .unconditionalSingleValue,
        help: "Header key=value added to every record (repeatable).")
    public var header: [String] = []
    @Option(name: [.short, .long], help: "Partition to write to (default: by key, else sticky).")
    public var partition: Int32?
    @Option(name: [.customShort("z"), .long], help: "Compression: none, gzip, snappy, lz4 or zstd.")
    public var compression: String = "none"
    @Option(help: "Acknowledgement: 0 (none), 1 (leader) or all.")
    public var acks: String = "all"
    @Option(help: "Record delimiter in the input (C escapes allowed).")
    public var delimiter: String = "\\n"
    @Option(name: .customLong("linger-ms"), help: "How long a partial batch waits for more records.")
    public var lingerMs: Int = 5
    @Option(name: .customLong("batch-size"), help: "Bytes at which a batch is sent without waiting.")
    public var batchSize: Int = 1_048_576

    /// Records handed to the producer per call: large enough that the hop to the producer's actor
    /// is noise, small enough to keep memory flat.
    static let recordsPerEnqueue = 2048

    public init() {}

    public func validate() throws {
        guard CompressionCodec(configName: compression) != nil else {
            throw ValidationError("unknown compression '\(compression)': use none, gzip, snappy, lz4 or zstd")
        }
        guard ["0", "1", "all", "-1"].contains(acks) else { throw ValidationError("--acks must be 0, 1 or all") }
        guard unescape(delimiter).count == 1 else { throw ValidationError("--delimiter must be one byte") }
        if let keySeparator, keySeparator.isEmpty { throw ValidationError("--key-separator must not be empty") }
        guard lingerMs >= 0, batchSize > 0 else {
            throw ValidationError("--linger-ms and --batch-size must be positive")
        }
    }

    public func run() async throws {
        let options = self
        try await connection.run { try await options.produce() }
    }

    private func produce() async throws {
        let headers = try header.map { text in
            let pair = try keyValue(text, what: "header")
            return RecordHeader(key: pair.key, value: Array(pair.value.utf8))
        }
        var configuration = ProducerConfiguration()
        configuration.compression = CompressionCodec(configName: compression)!
        configuration.acks = acks == "0" ? .none : acks == "1" ? .leader : .all
        configuration.enableIdempotence = configuration.acks == .all
        configuration.linger = .milliseconds(lingerMs)
        configuration.batchSize = batchSize
        configuration.clientId = "skein-produce"
        let descriptor: Int32
        if let file {
            descriptor = open(file, O_RDONLY)
            guard descriptor >= 0 else {
                throw ToolError.notFound("cannot open \(file): \(String(cString: strerror(errno)))")
            }
        } else {
            descriptor = 0
        }
        defer { if descriptor != 0 { close(descriptor) } }

        let producer = try Producer(
            bootstrapServers: connection.servers, configuration: configuration, logger: connection.logger,
            security: connection.security())
        // Fail fast and clearly on an unreachable broker or a missing topic, before reading input.
        do {
            try await producer.checkTopic(topic)
        } catch {
            await producer.close()
            throw error
        }
        let progress = ProgressLine(label: "produced")
        var reader = LineReader(descriptor: descriptor, delimiter: unescape(delimiter)[0])
        let separator = keySeparator.map { Array($0.utf8) }
        // Property-wrapper reads are not free; the loop below runs once per record.
        let topic = self.topic
        let partition = self.partition
        var pending: [ProducerRecord] = []
        pending.reserveCapacity(Self.recordsPerEnqueue)
        var total = 0
        var bytes = 0
        var inFlight: Task<Void, any Error>?
        do {
            while let line = try reader.next() {
                if line.isEmpty { continue }
                var key: [UInt8]? = nil
                var value = line
                if let separator, let split = Self.firstRange(of: separator, in: line) {
                    key = Array(line[..<split.lowerBound])
                    value = Array(line[split.upperBound...])
                }
                pending.append(
                    ProducerRecord(topic: topic, partition: partition, key: key, value: value, headers: headers))
                bytes += line.count
                if pending.count == Self.recordsPerEnqueue {
                    try Task.checkCancellation()
                    // Reading and splitting the next chunk overlaps with the producer taking this one.
                    try await inFlight?.value
                    let chunk = pending
                    inFlight = Task { try await producer.enqueue(chunk) }
                    total += pending.count
                    pending = []
                    pending.reserveCapacity(Self.recordsPerEnqueue)
                    progress.update(records: total, bytes: bytes)
                }
            }
            try await inFlight?.value
            if !pending.isEmpty {
                try await producer.enqueue(pending)
                total += pending.count
            }
        } catch {
            inFlight?.cancel()
            await producer.close()
            progress.finish()
            throw error
        }
        await producer.close()
        progress.finish()
        let statistics = await producer.statistics
        if statistics.recordsFailed > 0 {
            let reason = await producer.firstEnqueueError?.description ?? "unknown error"
            throw ToolError.failed("\(statistics.recordsFailed) of \(total) records were not delivered: \(reason)")
        }
        if isatty(2) == 1 {
            FileStream.standardError.write("produced \(ProgressLine.grouped(total)) records to \(topic)\n")
        }
    }

    static func firstRange(of separator: [UInt8], in line: [UInt8]) -> Range<Int>? {
        guard separator.count <= line.count else { return nil }
        if separator.count == 1 {
            guard let index = line.firstIndex(of: separator[0]) else { return nil }
            return index..<(index + 1)
        }
        for start in 0...(line.count - separator.count) where line[start] == separator[0] {
            if Array(line[start..<(start + separator.count)]) == separator { return start..<(start + separator.count) }
        }
        return nil
    }
}

/// Splits a file descriptor's bytes into delimited records, reading up to 1 MiB at a time into one
/// buffer allocated up front (a record longer than the buffer grows it).
struct LineReader {
    let descriptor: Int32
    let delimiter: UInt8
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    /// Unconsumed bytes are buffer[start..<end].
    private var start = 0
    private var end = 0
    private var atEnd = false

    init(descriptor: Int32, delimiter: UInt8) {
        self.descriptor = descriptor
        self.delimiter = delimiter
    }

    mutating func next() throws -> [UInt8]? {
        var searchFrom = start
        while true {
            let found = buffer.withUnsafeBytes { raw -> Int? in
                guard searchFrom < end,
                    let hit = memchr(raw.baseAddress! + searchFrom, Int32(delimiter), end - searchFrom)
                else { return nil }
                return raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
            }
            if let found {
                let line = Array(buffer[start..<found])
                start = found + 1
                return line
            }
            if atEnd {
                guard start < end else { return nil }
                let line = Array(buffer[start..<end])
                start = end
                return line
            }
            // Move the partial record to the front, grow if it fills the buffer, then read more.
            let pending = end - start
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    _ = memmove(raw.baseAddress!, raw.baseAddress! + start, pending)
                }
                start = 0
                end = pending
            }
            if end == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            searchFrom = end
            let count = buffer.withUnsafeMutableBytes { raw in
                read(descriptor, raw.baseAddress! + end, raw.count - end)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ToolError.failed("reading input: \(String(cString: strerror(errno)))")
            }
            if count == 0 { atEnd = true }
            end += count
        }
    }
}
