import ArgumentParser

/// `skein`: the command-line tool. Each area of work is a subcommand; the logic lives in
/// libraries so it can be tested without a process.
@main
struct Skein: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein", abstract: "Skein command-line tool.", subcommands: [Bench.self])
}
