import Foundation
import SkeinLog

/// What the broker knows about a topic beyond its partition logs.
public struct TopicMetadata: Codable, Equatable, Sendable {
    public var name: String
    public var partitionCount: Int32
    /// Topic-level overrides only; see `TopicConfig`.
    public var configs: [String: String]
    /// Metadata v10+ and Fetch v13+ name topics by id.
    public var topicId: UUID
    public var createdAtMs: Int64
}

/// Topic metadata, persisted as one JSON file in the data directory and rewritten atomically on every
/// change. Topics change rarely, so one small file beats a log of changes.
public final class TopicRegistry: @unchecked Sendable {
    public static let fileName = "topics.json"
    private let path: String
    private let lock = NSLock()
    private var topics: [String: TopicMetadata]

    public init(dataDirectory: String) throws {
        path = dataDirectory + "/" + Self.fileName
        if let bytes = try DurableFile.read(path) {
            let stored = try JSONDecoder().decode([TopicMetadata].self, from: Data(bytes))
            topics = Dictionary(stored.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        } else {
            topics = [:]
        }
    }

    public func topic(_ name: String) -> TopicMetadata? {
        lock.withLock { topics[name] }
    }

    public var allTopics: [TopicMetadata] {
        lock.withLock { topics.values.sorted { $0.name < $1.name } }
    }

    /// Adds a topic; returns false if it already exists.
    public func add(_ metadata: TopicMetadata) throws -> Bool {
        try lock.withLock {
            guard topics[metadata.name] == nil else { return false }
            topics[metadata.name] = metadata
            try save()
            return true
        }
    }

    @discardableResult
    public func remove(_ name: String) throws -> TopicMetadata? {
        try lock.withLock {
            guard let removed = topics.removeValue(forKey: name) else { return nil }
            try save()
            return removed
        }
    }

    /// Replaces a topic's config overrides; returns the updated topic, or nil if it does not exist.
    @discardableResult
    public func replaceConfigs(of name: String, with configs: [String: String]) throws -> TopicMetadata? {
        try update(name) { $0.configs = configs }
    }

    /// Changes a topic's partition count (startup repair only: partitions are never removed otherwise);
    /// returns the updated topic, or nil if it does not exist.
    @discardableResult
    public func replacePartitionCount(of name: String, with count: Int32) throws -> TopicMetadata? {
        try update(name) { $0.partitionCount = count }
    }

    /// Applies `change` and saves; a failed save leaves the topic as it was.
    private func update(_ name: String, _ change: (inout TopicMetadata) -> Void) throws -> TopicMetadata? {
        try lock.withLock {
            guard var topic = topics[name] else { return nil }
            let previous = topic
            change(&topic)
            topics[name] = topic
            do {
                try save()
            } catch {
                topics[name] = previous
                throw error
            }
            return topic
        }
    }

    /// Lock held.
    private func save() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(topics.values.sorted { $0.name < $1.name })
        try DurableFile.write(path, Array(data))
    }
}
