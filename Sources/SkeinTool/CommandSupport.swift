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
        name: .customLong("security-protocol"),
        help: "Kafka's security.protocol: PLAINTEXT (default) or SASL_PLAINTEXT. Default: $SKEIN_SECURITY_PROTOCOL.")
    public var securityProtocol: String = ProcessInfo.processInfo.environment["SKEIN_SECURITY_PROTOCOL"] ?? "PLAINTEXT"

    @Option(
        name: .customLong("sasl-mechanism"),
        help: "sasl.mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Default: $SKEIN_SASL_MECHANISM, else SCRAM-SHA-512.")
    public var saslMechanism: String = ProcessInfo.processInfo.environment["SKEIN_SASL_MECHANISM"] ?? "SCRAM-SHA-512"

    @Option(name: .customLong("sasl-username"), help: "sasl.username. Default: $SKEIN_SASL_USERNAME.")
    public var saslUsername: String? = ProcessInfo.processInfo.environment["SKEIN_SASL_USERNAME"]

    @Option(
        name: .customLong("sasl-password-file"),
        help: ArgumentHelp(
            "File whose first line is sasl.password.",
            discussion: "Else $SKEIN_SASL_PASSWORD. Never on the command line, where ps shows it."))
    public var saslPasswordFile: String?

    public init() {}

    public var servers: [String] {
        bootstrap.split(separator: ",").map { String($0) }
    }

    /// The SASL login of `--security-protocol SASL_PLAINTEXT`; nil for PLAINTEXT.
    public func sasl() throws -> SASLClientSettings? {
        switch securityProtocol.uppercased() {
        case "PLAINTEXT": return nil
        case "SASL_PLAINTEXT": break
        default:
            throw ToolError.usage("--security-protocol \(securityProtocol): expected PLAINTEXT or SASL_PLAINTEXT")
        }
        guard let username = saslUsername else {
            throw ToolError.usage("SASL_PLAINTEXT needs --sasl-username (or $SKEIN_SASL_USERNAME)")
        }
        let password: String
        if let file = saslPasswordFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ToolError.notFound("cannot read --sasl-password-file \(file)")
            }
            password = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        } else if let fromEnvironment = ProcessInfo.processInfo.environment["SKEIN_SASL_PASSWORD"] {
            password = fromEnvironment
        } else {
            throw ToolError.usage("SASL_PLAINTEXT needs --sasl-password-file or $SKEIN_SASL_PASSWORD")
        }
        do {
            return try SASLClientSettings(mechanism: saslMechanism, username: username, password: password)
        } catch {
            throw ToolError.usage("\(error)")
        }
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
        let sasl = try self.sasl()
        try await run {
            let admin = try AdminClient(bootstrapServers: servers, logger: logger, sasl: sasl)
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
