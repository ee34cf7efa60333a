import Foundation
import SkeinLog
import Synchronization

/// One side of a quota entity: a named user or client id, or the type's default (`<default>`).
public enum QuotaName: Hashable, Sendable, CustomStringConvertible {
    case named(String)
    case defaultEntity

    public var name: String? {
        if case .named(let name) = self { return name }
        return nil
    }

    public var description: String { name ?? "<default>" }
}

/// A quota entity as Kafka names them: `/users/<user>`, `/clients/<client-id>`, or both
/// (`/users/<user>/clients/<client-id>`), either side possibly the default.
public struct QuotaEntity: Hashable, Sendable, CustomStringConvertible {
    public var user: QuotaName?
    public var clientId: QuotaName?

    public init(user: QuotaName? = nil, clientId: QuotaName? = nil) {
        self.user = user
        self.clientId = clientId
    }

    public static let userType = "user"
    public static let clientIdType = "client-id"

    public var description: String {
        var path = ""
        if let user { path += "/users/\(user)" }
        if let clientId { path += "/clients/\(clientId)" }
        return path.isEmpty ? "/" : path
    }

    /// In the wire form, user first as Kafka lists it.
    public var parts: [(type: String, name: String?)] {
        var parts: [(type: String, name: String?)] = []
        if let user { parts.append((Self.userType, user.name)) }
        if let clientId { parts.append((Self.clientIdType, clientId.name)) }
        return parts
    }

    /// The eight entities that may hold a quota for a connection, most specific first: Kafka's precedence
    /// for user and client-id quotas. The first one that sets a key gives that key's quota.
    public static func candidates(user: String, clientId: String) -> [QuotaEntity] {
        let user = QuotaName.named(user)
        let client = QuotaName.named(clientId)
        return [
            QuotaEntity(user: user, clientId: client),
            QuotaEntity(user: user, clientId: .defaultEntity),
            QuotaEntity(user: user),
            QuotaEntity(user: .defaultEntity, clientId: client),
            QuotaEntity(user: .defaultEntity, clientId: .defaultEntity),
            QuotaEntity(user: .defaultEntity),
            QuotaEntity(clientId: client),
            QuotaEntity(clientId: .defaultEntity),
        ]
    }

    /// The same entity with its defaults replaced by the connection's names: the clients that share one
    /// rate. A quota on `/users/<default>` gives each user its own rate of that size, shared by the user's
    /// client ids; one on `/clients/c` is shared by every user's client `c`.
    public func bucket(user: String, clientId: String) -> QuotaEntity {
        QuotaEntity(
            user: self.user.map { _ in .named(user) }, clientId: self.clientId.map { _ in .named(clientId) })
    }
}

/// The quota keys Skein enforces. Kafka's `request_percentage` (a share of request-handler time) has no
/// meaning without Kafka's thread pools, and `connection_creation_rate` belongs to `ip` entities, which
/// Skein does not have: AlterClientQuotas refuses both rather than store a limit that does nothing.
public enum QuotaKey: String, CaseIterable, Sendable, Codable, CodingKeyRepresentable {
    case producerByteRate = "producer_byte_rate"
    case consumerByteRate = "consumer_byte_rate"
}

/// The quota table (entity → key → bytes/s), persisted as `client-quotas.json` in the data directory and
/// replaced atomically (write, fsync, rename) on every change, like `topics.json`.
public final class ClientQuotaStore: Sendable {
    public static let fileName = "client-quotas.json"
    private let path: String
    private let table: Mutex<[QuotaEntity: [QuotaKey: Double]]>
    /// Read on every Produce and Fetch without the lock, so that no quota costs one atomic load.
    private let configured = Atomic<Bool>(false)

    public init(dataDirectory: String) throws {
        path = dataDirectory + "/" + Self.fileName
        var loaded: [QuotaEntity: [QuotaKey: Double]] = [:]
        if let bytes = try DurableFile.read(path) {
            for entry in try JSONDecoder().decode([Stored].self, from: Data(bytes)) {
                loaded[entry.entity, default: [:]].merge(entry.quotas) { _, new in new }
            }
        }
        table = Mutex(loaded)
        configured.store(!loaded.isEmpty, ordering: .relaxed)
    }

    public var isEmpty: Bool { !configured.load(ordering: .relaxed) }

    public var all: [QuotaEntity: [QuotaKey: Double]] { table.withLock { $0 } }

    /// The quota for `key` of a connection and the entity whose rate it is measured against, or nil.
    public func resolve(_ key: QuotaKey, user: String, clientId: String) -> (quota: Double, bucket: QuotaEntity)? {
        table.withLock { table in
            for entity in QuotaEntity.candidates(user: user, clientId: clientId) {
                if let quota = table[entity]?[key] { return (quota, entity.bucket(user: user, clientId: clientId)) }
            }
            return nil
        }
    }

    /// Sets (a value) or removes (nil) keys of entities, and saves the table before it returns. An entity left
    /// with no keys is gone.
    public func apply(_ changes: [(entity: QuotaEntity, key: QuotaKey, value: Double?)]) throws {
        try table.withLock { table in
            var next = table
            for change in changes {
                var quotas = next[change.entity] ?? [:]
                quotas[change.key] = change.value
                next[change.entity] = quotas.isEmpty ? nil : quotas
            }
            try save(next)
            table = next
            configured.store(!next.isEmpty, ordering: .relaxed)
        }
    }

    private struct Stored: Codable {
        var user: String?
        var userDefault: Bool?
        var clientId: String?
        var clientIdDefault: Bool?
        var quotas: [QuotaKey: Double]

        enum CodingKeys: String, CodingKey {
            case user, clientId = "client-id", userDefault = "user-default", clientIdDefault = "client-id-default",
                quotas
        }

        var entity: QuotaEntity {
            QuotaEntity(
                user: userDefault == true ? .defaultEntity : user.map(QuotaName.named),
                clientId: clientIdDefault == true ? .defaultEntity : clientId.map(QuotaName.named))
        }

        init(_ entity: QuotaEntity, _ quotas: [QuotaKey: Double]) {
            user = entity.user?.name
            userDefault = entity.user == .defaultEntity ? true : nil
            clientId = entity.clientId?.name
            clientIdDefault = entity.clientId == .defaultEntity ? true : nil
            self.quotas = quotas
        }
    }

    private func save(_ table: [QuotaEntity: [QuotaKey: Double]]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stored = table.map { Stored($0.key, $0.value) }.sorted { "\($0.entity)" < "\($1.entity)" }
        try DurableFile.write(path, Array(try encoder.encode(stored)))
    }
}
