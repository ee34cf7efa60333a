import Crypto
import Foundation
import Synchronization

/// HTTP basic auth for `/metrics` and `/health`, as Prometheus's web config offers: a file of `user:hash`
/// lines (`http.basic.auth.users.file`, `#` comments). The hashes are PBKDF2-HMAC-SHA256 in passlib's
/// `$pbkdf2-sha256$ROUNDS$SALT$HASH` form (salt and hash in passlib's base64 with `.` for `+`, no padding),
/// not bcrypt: swift-crypto has no bcrypt, and PBKDF2 is as salted and iterated. The file is read again
/// when it changes. Passwords never reach a log line; a verified header is remembered (as its SHA-256),
/// so a scrape every few seconds costs one PBKDF2 per password change, not per scrape.
public final class BasicAuthUsers: Sendable {
    public let path: String
    private let state: Mutex<State>

    struct State {
        var users: [String: Hash] = [:]
        var fingerprint: [Int64] = []
        var verified: Set<Data> = []
    }

    struct Hash: Equatable {
        var rounds: Int
        var salt: [UInt8]
        var digest: [UInt8]
    }

    public struct InvalidFile: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads the file now; a bad file is a startup error.
    public init(path: String) throws {
        self.path = path
        state = Mutex(State())
        try reloadIfChanged(force: true)
    }

    /// Whether an `Authorization` header names a user of the file with the right password.
    public func allows(authorization: String?) -> Bool {
        try? reloadIfChanged(force: false)
        guard let authorization, authorization.lowercased().hasPrefix("basic ") else { return false }
        let token = authorization.dropFirst("basic ".count).trimmingCharacters(in: .whitespaces)
        let remembered = Data(SHA256.hash(data: Data(token.utf8)))
        if state.withLock({ $0.verified.contains(remembered) }) { return true }
        guard let decoded = Data(base64Encoded: token), let text = String(data: decoded, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return false }
        let user = String(text[..<colon])
        let password = Array(text[text.index(after: colon)...].utf8)
        guard let hash = state.withLock({ $0.users[user] }) else { return false }
        let derived = Self.pbkdf2(password: password, salt: hash.salt, rounds: hash.rounds, length: hash.digest.count)
        guard Self.constantTimeEqual(derived, hash.digest) else { return false }
        state.withLock {
            if $0.verified.count > 1000 { $0.verified.removeAll() }
            $0.verified.insert(remembered)
        }
        return true
    }

    private func reloadIfChanged(force: Bool) throws {
        var info = stat()
        let fingerprint: [Int64] =
            stat(path, &info) == 0
            ? [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)] : []
        guard force || fingerprint != state.withLock({ $0.fingerprint }) else { return }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw InvalidFile(description: "cannot read \(path)")
        }
        let users = try Self.parse(text, path: path)
        state.withLock {
            $0.users = users
            $0.fingerprint = fingerprint
            $0.verified.removeAll()
        }
    }

    static func parse(_ text: String, path: String) throws -> [String: Hash] {
        var users: [String: Hash] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), let hash = parseHash(String(line[line.index(after: colon)...]))
            else {
                throw InvalidFile(
                    description: "\(path) line \(index + 1): expected user:$pbkdf2-sha256$ROUNDS$SALT$HASH")
            }
            users[String(line[..<colon])] = hash
        }
        return users
    }

    static func parseHash(_ text: String) -> Hash? {
        let fields = text.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "pbkdf2-sha256", let rounds = Int(fields[2]),
            rounds > 0, let salt = adaptedBase64(fields[3]), let digest = adaptedBase64(fields[4]), !digest.isEmpty,
            digest.count <= 32
        else { return nil }
        return Hash(rounds: rounds, salt: salt, digest: digest)
    }

    /// passlib's base64: `.` for `+`, no `=` padding.
    static func adaptedBase64(_ text: Substring) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: ".", with: "+")
        while standard.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard).map { Array($0) }
    }

    /// PBKDF2-HMAC-SHA256 (RFC 8018) for one block, which is all a digest of up to 32 bytes needs.
    static func pbkdf2(password: [UInt8], salt: [UInt8], rounds: Int, length: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        for _ in 1..<max(rounds, 1) {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for index in 0..<result.count { result[index] ^= block[index] }
        }
        return Array(result.prefix(length))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
