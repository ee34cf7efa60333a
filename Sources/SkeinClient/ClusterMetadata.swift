import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SkeinProtocol

/// A partition of a topic: the unit of ordering, leadership and offsets.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// What the cluster last said about one topic.
public struct TopicInfo: Sendable, Equatable {
    public struct PartitionInfo: Sendable, Equatable {
        public var leaderId: Int32
        public var leaderEpoch: Int32
        public var errorCode: ErrorCode
    }

    public var name: String
    public var errorCode: ErrorCode
    /// Indexed by partition number.
    public var partitions: [Int32: PartitionInfo]

    public var partitionCount: Int { partitions.count }
}

/// What `ClusterMetadata.snapshot()` reports.
public struct ClusterSnapshot: Sendable {
    public struct BrokerAddress: Sendable, Equatable {
        public var nodeId: Int32
        public var host: String
        public var port: Int
    }

    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [BrokerAddress]
    public var topics: [TopicInfo]
}

/// The client's view of the cluster: brokers, topics and partition leaders, plus one connection per
/// broker shared by everything that talks to it. Requests for a partition must go to its leader,
/// so producers and consumers ask here for the leader's connection and call `invalidate` when a
/// broker says leadership moved.
public actor ClusterMetadata {
    public let clientId: String
    private let bootstrapServers: [(host: String, port: Int)]
    private let group: EventLoopGroup
    private let logger: Logger
    private var brokers: [Int32: (host: String, port: Int)] = [:]
    private var topics: [String: TopicInfo] = [:]
    private var connections: [Int32: Task<KafkaConnection, any Error>] = [:]
    private var bootstrapConnection: KafkaConnection?
    private var refreshInProgress: Task<Void, any Error>?
    private var isClosed = false
    private var clusterId: String?
    private var controllerId: Int32 = -1
    /// Whether asking for an unknown topic creates it (`allow.auto.create.topics`). Producers want
    /// this; readers and admin tools must not create a topic by mistyping its name.
    public let allowAutoTopicCreation: Bool
    /// `security.protocol` and `ssl.*`, for every connection this client opens.
    public nonisolated let security: ClientSecurity
    /// Made once from `security`, so the PEM files are read when the client starts, not per connection.
    public nonisolated let tlsContext: NIOSSLContext?

    /// - Parameter bootstrapServers: "host:port" entries; any one reachable broker is enough.
    public init(
        bootstrapServers: [String], clientId: String = "skein-client",
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        allowAutoTopicCreation: Bool = true,
        logger: Logger = Logger(label: "skein-client"), security: ClientSecurity = .plaintext
    ) throws {
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.security = security
        _ = try security.saslSettings()
        self.tlsContext = security.securityProtocol.usesTLS ? try security.makeTLSContext() : nil
        guard !bootstrapServers.isEmpty else { throw KafkaClientError.invalidConfiguration("no bootstrap servers") }
        self.bootstrapServers = try bootstrapServers.map(Self.parseHostPort)
        self.clientId = clientId
        self.group = group
        self.logger = logger
    }

    /// Host and port from "host:port", "[v6]:port" or a bare host (port 9092).
    static func parseHostPort(_ text: String) throws -> (host: String, port: Int) {
        let trimmed = String(text.filter { !$0.isWhitespace })
        var host = Substring(trimmed)
        var portText: Substring?
        if trimmed.hasPrefix("["), let close = trimmed.firstIndex(of: "]") {
            host = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() }
        } else if let colon = trimmed.lastIndex(of: ":") {
            host = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
        }
        let port = portText.map { Int($0) } ?? 9092
        guard !host.isEmpty, let port, (1...65535).contains(port) else {
            throw KafkaClientError.invalidConfiguration("invalid broker address '\(text)'")
        }
        return (String(host), port)
    }

    /// Fetches metadata for `topicNames` (all topics when nil), creating missing topics when the
    /// broker allows it. Concurrent callers share one request.
    public func refresh(topics topicNames: [String]? = nil) async throws {
        if let refreshInProgress, topicNames == nil {
            return try await refreshInProgress.value
        }
        let task = Task { try await self.performRefresh(topicNames) }
        if topicNames == nil { refreshInProgress = task }
        defer { if topicNames == nil { refreshInProgress = nil } }
        try await task.value
    }

    private func performRefresh(_ topicNames: [String]?) async throws {
        let connection = try await anyConnection()
        let request = MetadataRequest(
            topics: topicNames.map { $0.map { MetadataRequest.Topic(name: $0) } },
            allowAutoTopicCreation: allowAutoTopicCreation)
        let response: MetadataResponse
        do {
            response = try await connection.send(request)
        } catch {
            if bootstrapConnection === connection { bootstrapConnection = nil }
            throw error
        }
        apply(response, listsEveryTopic: topicNames == nil)
    }

    /// - Parameter listsEveryTopic: the response answers "all topics", so topics it leaves out were deleted.
    private func apply(_ response: MetadataResponse, listsEveryTopic: Bool) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        if listsEveryTopic {
            let listed = Set(response.topics.compactMap(\.name))
            topics = topics.filter { listed.contains($0.key) }
        }
        for broker in response.brokers {
            let address = (broker.host, Int(broker.port))
            if let known = brokers[broker.nodeId], known != address {
                connections.removeValue(forKey: broker.nodeId)?.cancel()
            }
            brokers[broker.nodeId] = address
        }
        for topic in response.topics {
            guard let name = topic.name else { continue }
            var partitions: [Int32: TopicInfo.PartitionInfo] = [:]
            for partition in topic.partitions {
                partitions[partition.partitionIndex] = .init(
                    leaderId: partition.leaderId, leaderEpoch: partition.leaderEpoch, errorCode: partition.errorCode)
            }
            topics[name] = TopicInfo(name: name, errorCode: topic.errorCode, partitions: partitions)
        }
    }

    /// The topic's metadata, refreshing until it is known with a leader for every partition or
    /// `timeout` passes (Kafka's `max.block.ms`): right after auto-creation brokers briefly report
    /// LEADER_NOT_AVAILABLE, and during a broker restart nothing answers at all.
    public func topic(_ name: String, timeout: Duration = .seconds(10)) async throws -> TopicInfo {
        let deadline = ContinuousClock.now + timeout
        var backoff = Duration.milliseconds(20)
        var lastError: KafkaClientError = .unknownTopicOrPartition(topic: name, partition: nil)
        while true {
            if let info = topics[name], info.errorCode == .noError, !info.partitions.isEmpty,
                info.partitions.values.allSatisfy({ $0.leaderId >= 0 })
            {
                return info
            }
            if let info = topics[name], info.errorCode != .noError {
                lastError = .broker(info.errorCode, context: "metadata for \(name)")
                guard info.errorCode.isRetriable else { throw lastError }
            }
            guard ContinuousClock.now < deadline else { throw lastError }
            do {
                try await refresh(topics: [name])
                continue
            } catch let error as KafkaClientError where error.isRetriable {
                lastError = error
            }
            try await Task.sleep(for: min(backoff, deadline - ContinuousClock.now))
            backoff = min(backoff * 2, .seconds(1))
        }
    }

    public func partitionCount(of topic: String) async throws -> Int {
        try await self.topic(topic).partitionCount
    }

    /// The connection to the current leader of `partition`.
    public func leaderConnection(for partition: TopicPartition) async throws -> KafkaConnection {
        let info = try await topic(partition.topic)
        guard let leader = info.partitions[partition.partition]?.leaderId else {
            throw KafkaClientError.unknownTopicOrPartition(topic: partition.topic, partition: partition.partition)
        }
        return try await connection(toNode: leader)
    }

    /// The leader's node id, for grouping requests by broker.
    public func leaderId(for partition: TopicPartition) async throws -> Int32 {
        let info = try await topic(partition.topic)
        guard let leader = info.partitions[partition.partition]?.leaderId, leader >= 0 else {
            throw KafkaClientError.unknownTopicOrPartition(topic: partition.topic, partition: partition.partition)
        }
        return leader
    }

    /// The shared connection to broker `nodeId`, reconnecting if the previous one closed.
    public func connection(toNode nodeId: Int32) async throws -> KafkaConnection {
        guard !isClosed else { throw KafkaClientError.closed }
        if let existing = connections[nodeId] {
            if let connection = try? await existing.value, connection.isActive { return connection }
            if connections[nodeId] == existing { connections[nodeId] = nil }
            if let again = connections[nodeId] { return try await again.value }
        }
        guard let address = brokers[nodeId] else {
            throw KafkaClientError.unexpectedResponse("no address for broker \(nodeId)")
        }
        let group = self.group
        let clientId = self.clientId
        let task = Task {
            try await KafkaConnection.connect(
                host: address.host, port: address.port, clientId: clientId, group: group, security: security,
                tlsContext: tlsContext)
        }
        connections[nodeId] = task
        return try await task.value
    }

    /// Any live connection: a known broker's, or a bootstrap server's for the first request.
    public func anyConnection() async throws -> KafkaConnection {
        guard !isClosed else { throw KafkaClientError.closed }
        if let bootstrapConnection, bootstrapConnection.isActive { return bootstrapConnection }
        for nodeId in brokers.keys.sorted() {
            if let connection = try? await connection(toNode: nodeId) { return connection }
        }
        var failures: [String] = []
        for server in bootstrapServers {
            do {
                let connection = try await KafkaConnection.connect(
                    host: server.host, port: server.port, clientId: clientId, group: group, security: security,
                    tlsContext: tlsContext)
                bootstrapConnection = connection
                return connection
            } catch {
                failures.append("\(server.host):\(server.port): \(error)")
            }
        }
        throw KafkaClientError.bootstrapFailed(failures.joined(separator: "; "))
    }

    /// Everything the last full refresh said: brokers, topics, cluster id and controller, for tools
    /// that show the cluster rather than route requests.
    public func snapshot(refreshing: Bool = true) async throws -> ClusterSnapshot {
        if refreshing { try await refresh() }
        return ClusterSnapshot(
            clusterId: clusterId, controllerId: controllerId,
            brokers: brokers.map {
                ClusterSnapshot.BrokerAddress(nodeId: $0.key, host: $0.value.host, port: $0.value.port)
            }
            .sorted { $0.nodeId < $1.nodeId },
            topics: topics.values.sorted { $0.name < $1.name })
    }

    /// Forgets what is known about `topic` so the next lookup asks the cluster again.
    public func invalidate(topic: String) {
        topics[topic] = nil
    }

    public func close() async {
        isClosed = true
        for task in connections.values {
            if let connection = try? await task.value { await connection.close() }
        }
        connections.removeAll()
        await bootstrapConnection?.close()
        bootstrapConnection = nil
    }
}
