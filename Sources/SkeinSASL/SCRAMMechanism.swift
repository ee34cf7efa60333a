import Crypto

/// The two SCRAM mechanisms Kafka speaks (RFC 5802 with RFC 7677's SHA-256, and SHA-512 as Kafka adds
/// it), with the hash-specific primitives the exchange and the credential store need.
public enum SCRAMMechanism: String, Sendable, CaseIterable, Codable {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    /// Kafka's fewest iterations for a stored credential; AlterUserScramCredentials refuses fewer.
    public static let minimumIterations = 4096
    /// Kafka's most: a client has to do this many HMACs on every login.
    public static let maximumIterations = 16384
    public static let defaultIterations = 8192

    /// The numbers Kafka's SCRAM credential APIs use on the wire (0 is "unknown").
    public var kafkaType: Int8 {
        switch self {
        case .sha256: 1
        case .sha512: 2
        }
    }

    public init?(kafkaType: Int8) {
        guard let found = Self.allCases.first(where: { $0.kafkaType == kafkaType }) else { return nil }
        self = found
    }

    public func hash(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: data))
        case .sha512: Array(SHA512.hash(data: data))
        }
    }

    public func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        switch self {
        case .sha256: return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
        case .sha512: return Array(HMAC<SHA512>.authenticationCode(for: data, using: key))
        }
    }

    /// RFC 5802's Hi(): PBKDF2 with this hash's HMAC and one output block. The keyed HMAC state is made
    /// once and copied per round, so the thousands of rounds do not each re-derive the key pads.
    public func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        switch self {
        case .sha256: Self.hi(HMAC<SHA256>.self, password, salt, iterations)
        case .sha512: Self.hi(HMAC<SHA512>.self, password, salt, iterations)
        }
    }

    private static func hi<H: HashFunction>(_: HMAC<H>.Type, _ password: [UInt8], _ salt: [UInt8], _ iterations: Int)
        -> [UInt8]
    {
        let keyed = HMAC<H>(key: SymmetricKey(data: password))
        var round = keyed
        round.update(data: salt + [0, 0, 0, 1])
        var previous = Array(round.finalize())
        var result = previous
        for _ in 1..<max(1, iterations) {
            var next = keyed
            next.update(data: previous)
            previous = Array(next.finalize())
            for index in result.indices { result[index] ^= previous[index] }
        }
        return result
    }

    /// What the server keeps for a password: never the password, nor anything a client could log in with.
    public func credential(saltedPassword: [UInt8], salt: [UInt8], iterations: Int) -> SCRAMCredential {
        let clientKey = hmac(key: saltedPassword, Array("Client Key".utf8))
        return SCRAMCredential(
            salt: salt, iterations: iterations, storedKey: hash(clientKey),
            serverKey: hmac(key: saltedPassword, Array("Server Key".utf8)))
    }

    public func credential(password: String, salt: [UInt8], iterations: Int) -> SCRAMCredential {
        credential(
            saltedPassword: saltedPassword(Array(password.utf8), salt: salt, iterations: iterations), salt: salt,
            iterations: iterations)
    }
}

/// One user's SCRAM credential for one mechanism (RFC 5802 §3).
public struct SCRAMCredential: Equatable, Sendable {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }
}

/// Byte helpers shared by the mechanisms.
public enum SASLBytes {
    /// Compares in time that depends on the lengths only, so a proof is not guessed byte by byte.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    public static func random(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        zip(a, b).map { $0 ^ $1 }
    }
}
