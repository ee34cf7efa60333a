import ArgumentParser
import Foundation
import SkeinClient
import SkeinSASL

/// `skein users`: SCRAM users of a broker, through AlterUserScramCredentials and
/// DescribeUserScramCredentials (so it works remotely), or straight in a stopped broker's data directory
/// with `--data-dir` (the first user of a SASL-only broker, who has nobody to log in as yet).
public struct UsersCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Add, delete and list SASL/SCRAM users.",
        discussion: """
            Examples:
              skein users add alice --password-file pw.txt
              printf '%s\\n' "$PW" | skein users add alice --mechanism SCRAM-SHA-256
              skein users add admin --data-dir /var/lib/skein      (broker stopped: the first user)
              skein users list
              skein users delete alice
            """,
        subcommands: [Add.self, Delete.self, List.self])

    public init() {}

    /// Where the change goes: a running broker (the connection options) or a data directory.
    public struct Target: ParsableArguments, Sendable {
        @OptionGroup public var connection: ConnectionOptions

        @Option(
            name: .customLong("data-dir"),
            help: "Change the credential file in this data directory instead of a running broker (stop it first).")
        public var dataDirectory: String?

        public init() {}
    }

    static func mechanisms(_ names: [String]) throws -> [SCRAMMechanism] {
        guard !names.isEmpty else { return SCRAMMechanism.allCases }
        return try names.map { name in
            guard let mechanism = SCRAMMechanism(rawValue: name.uppercased()) else {
                throw ToolError.usage("unknown mechanism \(name) (SCRAM-SHA-256 or SCRAM-SHA-512)")
            }
            return mechanism
        }
    }

    public struct Add: AsyncParsableCommand, Sendable {
        public static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a user or change its password (PLAIN logins use it too).")

        @Argument(help: "User name.") var user: String
        @Option(name: .long, help: "SCRAM-SHA-256 or SCRAM-SHA-512; repeat for both. Default: both.")
        var mechanism: [String] = []
        @Option(name: .long, help: "PBKDF2 iterations, 4096 to 16384.") var iterations = SCRAMMechanism
            .defaultIterations
        @Option(name: .long, help: "The password (visible to ps; prefer --password-file or stdin).") var password:
            String?
        @Option(name: .customLong("password-file"), help: "File whose first line is the password.")
        var passwordFile: String?
        @OptionGroup var target: Target

        public init() {}

        public func run() async throws {
            let mechanisms = try UsersCommand.mechanisms(mechanism)
            guard (SCRAMMechanism.minimumIterations...SCRAMMechanism.maximumIterations).contains(iterations) else {
                throw ToolError.usage("--iterations must be 4096 to 16384")
            }
            let password = try readPassword()
            guard !password.isEmpty else { throw ToolError.usage("the password is empty") }
            let user = self.user
            let iterations = self.iterations
            if let directory = target.dataDirectory {
                let store = try openStore(directory, create: true)
                try store.update(
                    set: mechanisms.map { mechanism in
                        let salt = SASLBytes.random(count: 32)
                        return (
                            user, mechanism,
                            mechanism.credential(password: password, salt: salt, iterations: iterations)
                        )
                    })
                giveToDirectoryOwner(store.path, directory: directory)
                print("user \(user) set in \(store.path) (\(mechanisms.map(\.rawValue).joined(separator: ", ")))")
                return
            }
            try await target.connection.withAdmin { admin in
                try await admin.setScramPassword(
                    user: user, password: password, mechanisms: mechanisms, iterations: iterations)
                print("user \(user) set (\(mechanisms.map(\.rawValue).joined(separator: ", ")))")
            }
        }

        /// `--password`, `--password-file`, else a line of stdin (with a prompt and no echo on a terminal).
        private func readPassword() throws -> String {
            if let password { return password }
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                    throw ToolError.notFound("cannot read \(passwordFile)")
                }
                return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            }
            if isatty(0) != 0, let entered = getpass("Password for \(user): ") {
                return String(cString: entered)
            }
            return readLine(strippingNewline: true) ?? ""
        }
    }

    public struct Delete: AsyncParsableCommand, Sendable {
        public static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete a user's SCRAM credentials.")

        @Argument(help: "User name.") var user: String
        @Option(name: .long, help: "Only this mechanism's credential; repeatable. Default: all the user has.")
        var mechanism: [String] = []
        @OptionGroup var target: Target

        public init() {}

        public func run() async throws {
            let user = self.user
            let named = mechanism.isEmpty ? nil : try UsersCommand.mechanisms(mechanism)
            if let directory = target.dataDirectory {
                let store = try openStore(directory)
                let existing = store.credentials(user: user).keys
                let doomed = named ?? Array(existing)
                guard !doomed.isEmpty, doomed.allSatisfy(existing.contains) else {
                    throw ToolError.notFound("user \(user) has no such credential")
                }
                try store.update(delete: doomed.map { (user, $0) })
                giveToDirectoryOwner(store.path, directory: directory)
                print("user \(user) deleted from \(store.path)")
                return
            }
            try await target.connection.withAdmin { admin in
                let doomed: [SCRAMMechanism]
                if let named {
                    doomed = named
                } else {
                    do {
                        doomed = Array(try await admin.scramUsers([user]).first?.iterations.keys ?? [:].keys)
                    } catch KafkaClientError.broker(.resourceNotFound, _) {
                        throw ToolError.notFound("user \(user) does not exist")
                    }
                }
                do {
                    try await admin.deleteScramCredentials(user: user, mechanisms: doomed)
                } catch KafkaClientError.broker(.resourceNotFound, _) {
                    throw ToolError.notFound("user \(user) has no such credential")
                }
                print("user \(user) deleted")
            }
        }
    }

    public struct List: AsyncParsableCommand, Sendable {
        public static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List users, their SCRAM mechanisms and iterations.")

        @OptionGroup var target: Target

        public init() {}

        public func run() async throws {
            if let directory = target.dataDirectory {
                let users = try openStore(directory).list().map {
                    AdminClient.ScramUser(name: $0.user, iterations: $0.mechanisms)
                }
                print(render(users), terminator: "")
                return
            }
            try await target.connection.withAdmin { admin in
                print(render(try await admin.scramUsers()), terminator: "")
            }
        }
    }
}

/// `create`: the first user of a broker that has never run has no data directory yet; it is made (mode
/// 0750), as the broker would make it. systemd moves a plain /var/lib/skein to /var/lib/private for
/// `DynamicUser=` and gives it to the service's user on its first start.
private func openStore(_ directory: String, create: Bool = false) throws -> CredentialStore {
    var isDirectory: ObjCBool = false
    if create && !FileManager.default.fileExists(atPath: directory) {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw ToolError.failed("cannot create the data directory \(directory): \(error)")
        }
    }
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ToolError.notFound("no data directory \(directory)")
    }
    do {
        return try CredentialStore(directory: directory)
    } catch {
        throw ToolError.failed("\(error)")
    }
}

/// Run as root on a broker's data directory (systemd's `DynamicUser=` or `User=` own it), the new file
/// would be root's and, at mode 0600, unreadable by the broker: it goes to the directory's owner instead.
private func giveToDirectoryOwner(_ path: String, directory: String) {
    guard geteuid() == 0 else { return }
    var status = stat()
    guard stat(directory, &status) == 0, status.st_uid != 0 else { return }
    if chown(path, status.st_uid, status.st_gid) != 0 {
        FileHandle.standardError.write(
            Data(
                "skein: could not give \(path) to the data directory's owner: \(String(cString: strerror(errno)))\n"
                    .utf8))
    }
}

private func render(_ users: [AdminClient.ScramUser]) -> String {
    var rows = [["USER", "MECHANISM", "ITERATIONS"]]
    for user in users.sorted(by: { $0.name < $1.name }) {
        for (mechanism, iterations) in user.iterations.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            rows.append([user.name, mechanism.rawValue, "\(iterations)"])
        }
    }
    return table(rows)
}
