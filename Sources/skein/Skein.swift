import ArgumentParser
import SkeinTool

#if canImport(Glibc)
    import Glibc
#endif

/// `skein`: the command-line tool. Each area of work is a subcommand; the logic lives in
/// libraries so it can be tested without a process.
struct Skein: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein",
        abstract: "Skein command-line tool: produce, consume and query logs, manage topics and groups, benchmark.",
        discussion: """
            Every command takes --bootstrap HOST:PORT (default $SKEIN_BOOTSTRAP, else 127.0.0.1:9092) and --help.
            Exit status: 0 success, 1 the operation failed, 2 unknown topic/group/partition, 3 no broker reachable,
            64 bad arguments.

            Examples:
              skein produce -t events < lines.txt
              skein consume -t events -o -10
              skein logs --since 5m --severity warning
              skein topics describe events
              skein groups describe billing
            """,
        subcommands: [
            ProduceCommand.self, ConsumeCommand.self, LogsCommand.self, TopicsCommand.self, GroupsCommand.self,
            ClusterCommand.self, TransactionsCommand.self, AclsCommand.self, UsersCommand.self, QuotasCommand.self,
            Bench.self,
        ])
}

/// Parses and runs the command, printing failures as one line (`skein: …`) with the documented
/// exit statuses instead of ArgumentParser's usage block.
@main
enum SkeinMain {
    static func main() async {
        do {
            var command = try Skein.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ToolError {
            FileStream.standardError.write("skein: \(error.message)\n")
            exit(error.exitStatus)
        } catch {
            let code = Skein.exitCode(for: error)
            if code == .success {
                Skein.exit(withError: error)  // --help and --version print their text
            }
            let message = Skein.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            if !message.isEmpty {
                FileStream.standardError.write(
                    "skein: \(message.replacingOccurrences(of: "Error: ", with: "")) (see --help)\n")
            }
            exit(code == .validationFailure ? 64 : code.rawValue)
        }
    }
}
