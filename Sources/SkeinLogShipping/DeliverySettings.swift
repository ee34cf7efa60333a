import SkeinClient
import SkeinCompression

/// How the agent delivers log records (`[delivery]` and parts of `[agent]` in its configuration).
public struct DeliverySettings: Sendable, Equatable {
    public var bootstrapServers: [String]
    public var clientId = "skein-agent"
    /// `security.protocol`, `ssl.*` (and, with SASL, `sasl.*`) for the connections to the brokers.
    public var security = ClientSecurity()
    /// The record key, and part of the transactional id.
    public var hostName: String
    /// Tells apart several agents on one host; part of the transactional id.
    public var agentName = "default"
    public var defaultTopic = "logs"
    public var compression: CompressionCodec = .lz4
    public var exactlyOnce: ExactlyOnceMode = .auto
    /// A transaction takes at most this many bytes of records (at least one record).
    public var batchMaxBytes = 16 * 1024 * 1024
    /// A record's value is cut to this (and flagged `truncated`), under Kafka's default
    /// `message.max.bytes` of 1,048,588 with room for headers and the batch header.
    public var maxRecordBytes = 1_000_000
    /// How long the first record of a batch waits for others before its transaction starts.
    public var batchLinger: Duration = .milliseconds(200)
    public var transactionTimeoutMilliseconds: Int32 = 60_000
    public var checkpointInterval: Duration = .seconds(30)
    /// A checkpoint is written this often even when nothing changed, so the recovery scan stays
    /// bounded however long the agent is idle while other hosts fill the partition.
    public var checkpointMaxAge: Duration = .seconds(3600)
    /// Holds the checkpoint cache (`checkpoints.json`); nil keeps none.
    public var stateDirectory: String?
    /// One delivery attempt (transaction or re-connection) that takes longer is abandoned and retried,
    /// so a hung broker cannot stall the agent for good.
    public var attemptTimeout: Duration = .seconds(30)
    public var initialBackoff: Duration = .milliseconds(200)
    public var maximumBackoff: Duration = .seconds(5)

    public init(bootstrapServers: [String], hostName: String) {
        self.bootstrapServers = bootstrapServers
        self.hostName = hostName
    }

    /// Derived from the host and the agent, so a restarted agent takes over – and fences – exactly its
    /// previous incarnation and no other agent.
    public var transactionalId: String { "skein-agent/\(hostName)/\(agentName)" }
}

public enum ExactlyOnceMode: String, Sendable, Equatable, CaseIterable {
    /// Transactions when the broker has them, else at-least-once with a warning and a metric.
    case auto
    /// Transactions or nothing: the agent keeps retrying and logs an error against a broker without them.
    case required
    /// At-least-once with an idempotent producer.
    case off
}
