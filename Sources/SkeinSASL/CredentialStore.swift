import Foundation
import Synchronization

/// The SCRAM credentials of every user, kept in one file in the data directory: salt, iterations,
/// StoredKey and ServerKey per user and mechanism, never a password. Written whole to a temporary file,
/// fsynced, then renamed over the old one, so a crash leaves either the old or the new file; mode 0600.
public final class CredentialStore: Sendable {
    public static let fileName = "scram-credentials.json"

    public let path: String
    private let users: Mutex<[String: [SCRAMMechanism: SCRAMCredential]]>
    /// Makes the decoy salts of unknown users stable per store, so asking twice shows nothing.
    private let decoySecret: [UInt8]

    public struct StoreError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens the file in `directory`, or starts empty when there is none.
    public init(directory: String) throws {
        path = directory + "/" + Self.fileName
        decoySecret = SASLBytes.random(count: 32)
        guard let data = FileManager.default.contents(atPath: path) else {
            users = Mutex([:])
            return
        }
        do {
            let file = try JSONDecoder().decode(StoredFile.self, from: data)
            var loaded: [String: [SCRAMMechanism: SCRAMCredential]] = [:]
            for (user, mechanisms) in file.users {
                for (name, entry) in mechanisms {
                    guard let mechanism = SCRAMMechanism(rawValue: name) else { continue }
                    loaded[user, default: [:]][mechanism] = SCRAMCredential(
                        salt: Array(entry.salt), iterations: entry.iterations, storedKey: Array(entry.storedKey),
                        serverKey: Array(entry.serverKey))
                }
            }
            users = Mutex(loaded)
        } catch {
            throw StoreError(description: "\(path) is not a valid credential file: \(error)")
        }
    }

    public func credential(user: String, mechanism: SCRAMMechanism) -> SCRAMCredential? {
        users.withLock { $0[user]?[mechanism] }
    }

    public func credentials(user: String) -> [SCRAMMechanism: SCRAMCredential] {
        users.withLock { $0[user] ?? [:] }
    }

    /// Every user and the mechanisms each has, sorted by name.
    public func list() -> [(user: String, mechanisms: [SCRAMMechanism: Int])] {
        users.withLock { users in
            users.keys.sorted().map { user in (user, users[user]!.mapValues(\.iterations)) }
        }
    }

    /// A credential for a user who has none, derived from the user name so it is the same every time.
    public func decoy(user: String, mechanism: SCRAMMechanism) -> SCRAMCredential {
        let salt = Array(mechanism.hmac(key: decoySecret, Array(("salt:" + user).utf8)).prefix(16))
        let key = mechanism.hmac(key: decoySecret, Array(("key:" + user).utf8))
        return SCRAMCredential(
            salt: salt, iterations: SCRAMMechanism.defaultIterations, storedKey: key, serverKey: key)
    }

    /// Applies deletions and upsertions together and writes the file once. On a write failure nothing
    /// changes in memory either.
    public func update(
        set: [(user: String, mechanism: SCRAMMechanism, credential: SCRAMCredential)] = [],
        delete: [(user: String, mechanism: SCRAMMechanism)] = []
    ) throws {
        try users.withLock { users in
            var updated = users
            for (user, mechanism) in delete {
                updated[user]?[mechanism] = nil
                if updated[user]?.isEmpty == true { updated[user] = nil }
            }
            for (user, mechanism, credential) in set { updated[user, default: [:]][mechanism] = credential }
            try Self.write(updated, to: path)
            users = updated
        }
    }

    /// Checks a password against the stored credential (for PLAIN): the strongest mechanism the user has.
    public func verify(user: String, password: String) -> Bool {
        let stored = credentials(user: user)
        guard let mechanism = [SCRAMMechanism.sha512, .sha256].first(where: { stored[$0] != nil }),
            let credential = stored[mechanism]
        else {
            // The same work as a real check, so the answer's timing does not tell which users exist.
            let decoy = decoy(user: user, mechanism: .sha512)
            _ = SCRAMMechanism.sha512.credential(password: password, salt: decoy.salt, iterations: decoy.iterations)
            return false
        }
        let derived = mechanism.credential(password: password, salt: credential.salt, iterations: credential.iterations)
        return SASLBytes.constantTimeEqual(derived.storedKey, credential.storedKey)
    }

    struct StoredEntry: Codable {
        var salt: Data
        var iterations: Int
        var storedKey: Data
        var serverKey: Data
    }

    struct StoredFile: Codable {
        var version = 1
        var users: [String: [String: StoredEntry]]
    }

    private static func write(_ users: [String: [SCRAMMechanism: SCRAMCredential]], to path: String) throws {
        var file = StoredFile(users: [:])
        for (user, mechanisms) in users {
            for (mechanism, credential) in mechanisms {
                file.users[user, default: [:]][mechanism.rawValue] = StoredEntry(
                    salt: Data(credential.salt), iterations: credential.iterations,
                    storedKey: Data(credential.storedKey), serverKey: Data(credential.serverKey))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(file)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(description: "cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write \(temporary): \(String(cString: strerror(errno)))"
                    return
                }
                offset += written
            }
        }
        if failure == nil, fchmod(fd, 0o600) != 0 || fsync(fd) != 0 {
            failure = "cannot sync \(temporary): \(String(cString: strerror(errno)))"
        }
        close(fd)
        if let failure {
            unlink(temporary)
            throw StoreError(description: failure)
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw StoreError(description: "cannot rename \(temporary) to \(path): \(reason)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFd >= 0 {
            fsync(directoryFd)
            close(directoryFd)
        }
    }
}
