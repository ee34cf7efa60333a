import ArgumentParser
import Dispatch
import Foundation
import Logging
import SkeinClient

/// `--bootstrap`, shared by every command that talks to a broker.
public struct ConnectionOptions: ParsableArguments, Sendable {
    @Option(
        name: [.short, .long],
        help: ArgumentHelp(
            "Broker address HOST:PORT, or several separated by commas.",
            discussion: "Defaults to $SKEIN_BOOTSTRAP, else 127.0.0.1:9092."
        ))
    public var bootstrap: String = ProcessInfo.processInfo.environment["SKEIN_BOOTSTRAP"] ?? "127.0.0.1:9092"

    @Flag(name: .long, help: "Log client internals (connections, retries) to stderr.")
    public var verbose = false

    @Option(
        name: .customShort("X"),
        help: ArgumentHelp(
            "A client setting NAME=VALUE, as kcat's -X (security.protocol, ssl.ca.location, ...); repeatable.",
            valueName: "name=value"))
    public var clientSettings: [String] = []

    @Option(
        name: .customLong("command-config"),
        help: ArgumentHelp(
            "A properties file of client settings, as Kafka's tools take; -X wins over it.", valueName: "file"))
    public var commandConfig: String?

    public init() {}

    public var servers: [String] {
        bootstrap.split(separator: ",").map { String($0) }
    }

    /// `security.protocol` and `ssl.*` from `--command-config`, then `-X`; `$SKEIN_COMMAND_CONFIG` names a
    /// file when `--command-config` is not given, so a shell can point every command at one.
    public func security() throws(ToolError) -> ClientSecurity {
        var security = ClientSecurity()
        var pairs: [(String, String)] = []
        if let path = commandConfig ?? ProcessInfo.processInfo.environment["SKEIN_COMMAND_CONFIG"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ToolError.usage("cannot read --command-config \(path)")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("!") { continue }
                pairs.append(try Self.split(trimmed, what: "--command-config"))
            }
        }
        for setting in clientSettings { pairs.append(try Self.split(setting, what: "-X")) }
        for (name, value) in pairs {
            // Settings of other clients (kafka-python's, the Java client's) in a shared file are skipped,
            // as Kafka's tools skip settings they do not know.
            guard ClientSecurity.handles(name) else { continue }
            do { try security.apply(name, value) } catch { throw ToolError.usage("\(error)") }
        }
        return security
    }

    private static func split(_ text: String, what: String) throws(ToolError) -> (String, String) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ToolError.usage("\(what) expects name=value, got \(text)")
        }
        return (
            String(text[..<equals]).trimmingCharacters(in: .whitespaces),
            String(text[text.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        )
    }

    public var logger: Logger {
        var logger = Logger(label: "skein")
        logger.logLevel = verbose ? .debug : .critical
        return logger
    }

    /// `run` with an admin client that is closed (awaited) whether `body` succeeds or throws.
    public func withAdmin(_ body: @escaping @Sendable (AdminClient) async throws -> Void) async throws {
        let servers = self.servers
        let logger = self.logger
        let security = try security()
        try await run {
            let admin = try AdminClient(bootstrapServers: servers, logger: logger, security: security)
            do {
                try await body(admin)
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
        }
    }

    /// Runs `body` with SIGINT/SIGTERM cancelling it (a second signal exits at once), and turns its
    /// errors into one-line ToolErrors.
    public func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let bootstrap = self.bootstrap
        let work = Task {
            do {
                try await body()
            } catch is CancellationError {
                return
            } catch {
                throw ToolError.from(error, bootstrap: bootstrap)
            }
        }
        let trap = SignalTrap { work.cancel() }
        defer { trap.disarm() }
        try await work.value
    }
}

/// Cancels the running command on SIGINT or SIGTERM so it can commit, leave its group and flush
/// output; a second signal ends the process at once (status 130, as shells expect).
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private var signalled = false
    private let queue = DispatchQueue(label: "skein.signals")

    init(onSignal: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.signalled { exit(130) }
                self.signalled = true
                onSignal()
            }
            source.resume()
            sources.append(source)
        }
    }

    func disarm() {
        queue.sync {
            for source in sources { source.cancel() }
            sources.removeAll()
        }
    }
}

/// `key=value` arguments (headers, configs, field filters).
func keyValue(_ text: String, what: String) throws(ToolError) -> (key: String, value: String) {
    guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
        throw .usage("\(what) '\(text)' must look like key=value")
    }
    return (String(text[..<equals]), String(text[text.index(after: equals)...]))
}

/// Delimiters given on the command line with C escapes: "\n", "\t", "\0", "\r", "\\".
func unescape(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var iterator = Array(text.utf8).makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "\\"), let next = iterator.next() else {
            out.append(byte)
            continue
        }
        switch next {
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "0"): out.append(0x00)
        default: out.append(next)
        }
    }
    return out
}

/// Left-aligned columns for tables on stdout.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    return rows.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}

extension ExpressibleByArgument where Self: RawRepresentable, RawValue == String, Self: CaseIterable {
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension RecordFormat: ExpressibleByArgument {}

/// Kafka's spellings, as `kafka-console-consumer.sh --isolation-level` takes them.
extension IsolationLevel: ExpressibleByArgument {
    public init?(argument: String) { self.init(kafkaName: argument) }
    public var defaultValueDescription: String { description }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}
extension LogRenderer.Style: ExpressibleByArgument {}

/// Runs a parser in `validate()`, where ArgumentParser reports only ValidationError as a usage error.
func validating<T>(_ body: () throws(ToolError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError(error.message)
    }
}
