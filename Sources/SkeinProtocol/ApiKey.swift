/// The Kafka APIs this codec implements, by their wire key.
///
/// Only APIs the codec implements are listed. The broker advertises `RequestRouter.implemented`
/// (a subset, the APIs with a handler) with `supportedVersions`: librdkafka starts using anything
/// it sees advertised (telemetry, key 71, is the known trap).
public enum ApiKey: Int16, CaseIterable, Sendable, CustomStringConvertible {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case describeGroups = 15
    case listGroups = 16
    case apiVersions = 18
    case createTopics = 19
    case deleteTopics = 20
    case initProducerId = 22
    case offsetForLeaderEpoch = 23
    case describeConfigs = 32
    case alterConfigs = 33
    case deleteGroups = 42
    case incrementalAlterConfigs = 44
    case offsetDelete = 47
    case addPartitionsToTxn = 24
    case addOffsetsToTxn = 25
    case endTxn = 26
    case txnOffsetCommit = 28
    case describeTransactions = 65
    case listTransactions = 66
    case deleteRecords = 21
    case describeLogDirs = 35
    case createPartitions = 37
    case describeCluster = 60
    case describeProducers = 61
    case describeAcls = 29
    case createAcls = 30
    case deleteAcls = 31
    case saslHandshake = 17
    case saslAuthenticate = 36
    case describeUserScramCredentials = 50
    case alterUserScramCredentials = 51
    case describeClientQuotas = 48
    case alterClientQuotas = 49

    /// The versions we advertise and can decode and encode.
    ///
    /// The ranges are chosen for client compatibility (see DESIGN.md §2), not to be as wide as
    /// possible. Two are wider than what the broker will serve on purpose: Produce starts at 0
    /// because old librdkafka disables compression unless the advertised range does (the broker
    /// answers v0–2 with UNSUPPORTED_VERSION, which still needs v0–2 decoding and encoding here),
    /// and FindCoordinator/InitProducerId start at 0 because librdkafka 2.0.2 uses v0 as a
    /// feature switch.
    ///
    /// The transaction APIs stop before KIP-890: AddPartitionsToTxn v4+ is the broker-to-broker
    /// batched form no client sends, and the next versions of AddPartitionsToTxn (v5),
    /// AddOffsetsToTxn (v4), EndTxn (v4, v5) and TxnOffsetCommit (v4, v5) add TRANSACTION_ABORTABLE
    /// and, with EndTxn v5, an epoch bump on every transaction that the coordinator would have to
    /// carry out. Every client we care about (librdkafka 2.0.2 and 2.16, kafka-python, the Java
    /// clients) also speaks the v0–3 forms, so the ranges are 0–3 (librdkafka sends v0 of
    /// AddPartitionsToTxn and AddOffsetsToTxn, so the ranges start there).
    public var supportedVersions: ClosedRange<Int16> {
        switch self {
        case .produce: 0...9
        case .fetch: 4...12
        case .listOffsets: 1...7
        case .metadata: 0...12
        case .offsetCommit: 2...9
        case .offsetFetch: 1...8
        case .findCoordinator: 0...4
        case .joinGroup: 0...7
        case .heartbeat: 0...4
        case .leaveGroup: 0...5
        case .syncGroup: 0...5
        case .describeGroups: 0...5
        case .listGroups: 0...4
        case .apiVersions: 0...4
        case .createTopics: 2...7
        case .deleteTopics: 1...6
        case .initProducerId: 0...4
        case .offsetForLeaderEpoch: 2...4
        case .describeConfigs: 1...4
        case .alterConfigs: 0...2
        case .deleteGroups: 0...2
        case .incrementalAlterConfigs: 0...1
        case .offsetDelete: 0...0
        case .addPartitionsToTxn: 0...3
        case .addOffsetsToTxn: 0...3
        case .endTxn: 0...3
        case .txnOffsetCommit: 0...3
        case .describeTransactions: 0...0
        case .listTransactions: 0...1
        case .deleteRecords: 0...2
        case .describeLogDirs: 0...4
        case .createPartitions: 0...3
        case .describeCluster: 0...2
        case .describeProducers: 0...0
        case .describeAcls, .createAcls, .deleteAcls: 0...3
        case .saslHandshake: 0...1
        case .saslAuthenticate: 0...2
        case .describeUserScramCredentials: 0...0
        case .alterUserScramCredentials: 0...0
        case .describeClientQuotas: 0...1
        case .alterClientQuotas: 0...1
        }
    }

    /// The first version that uses compact encodings and tagged fields (the message's
    /// "flexibleVersions" in Kafka's JSON specs).
    public var firstFlexibleVersion: Int16 {
        switch self {
        case .produce: 9
        case .fetch: 12
        case .listOffsets: 6
        case .metadata: 9
        case .offsetCommit: 8
        case .offsetFetch: 6
        case .findCoordinator: 3
        case .joinGroup: 6
        case .heartbeat: 4
        case .leaveGroup: 4
        case .syncGroup: 4
        case .describeGroups: 5
        case .listGroups: 3
        case .apiVersions: 3
        case .createTopics: 5
        case .deleteTopics: 4
        case .initProducerId: 2
        case .offsetForLeaderEpoch: 4
        case .describeConfigs: 4
        case .alterConfigs: 2
        case .deleteGroups: 2
        case .incrementalAlterConfigs: 1
        // v0 is the only version we speak and it is not flexible; Kafka's v1 is.
        case .offsetDelete: 1
        case .addPartitionsToTxn: 3
        case .addOffsetsToTxn: 3
        case .endTxn: 3
        case .txnOffsetCommit: 3
        case .describeTransactions: 0
        case .listTransactions: 0
        case .deleteRecords: 2
        case .describeLogDirs: 2
        case .createPartitions: 2
        case .describeCluster: 0
        case .describeProducers: 0
        case .describeAcls, .createAcls, .deleteAcls: 2
        // SaslHandshake has no flexible version.
        case .saslHandshake: 2
        case .saslAuthenticate: 2
        case .describeUserScramCredentials: 0
        case .alterUserScramCredentials: 0
        case .describeClientQuotas: 1
        case .alterClientQuotas: 1
        }
    }

    public func isSupported(_ version: Int16) -> Bool {
        supportedVersions.contains(version)
    }

    /// Whether the body of this API at `version` uses the flexible encoding. Also answers for
    /// versions above our range (a newer client's ApiVersions request), which are flexible too.
    public func isFlexible(_ version: Int16) -> Bool {
        version >= firstFlexibleVersion
    }

    /// Request header v2 (with tagged fields) for flexible versions, v1 otherwise.
    public func requestHeaderVersion(_ version: Int16) -> Int16 {
        isFlexible(version) ? 2 : 1
    }

    /// Response header v1 (with tagged fields) for flexible versions, v0 otherwise, except that
    /// ApiVersions always answers with v0: a client that does not yet know which versions we
    /// speak must be able to read the correlation ID before it can parse anything else.
    public func responseHeaderVersion(_ version: Int16) -> Int16 {
        if self == .apiVersions { return 0 }
        return isFlexible(version) ? 1 : 0
    }

    /// Throws `unsupportedVersion` unless `version` is in `supportedVersions`.
    public func checkSupported(_ version: Int16) throws(ProtocolError) {
        guard isSupported(version) else {
            throw ProtocolError.unsupportedVersion(apiKey: rawValue, version: version)
        }
    }

    public var description: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .offsetCommit: "OffsetCommit"
        case .offsetFetch: "OffsetFetch"
        case .findCoordinator: "FindCoordinator"
        case .joinGroup: "JoinGroup"
        case .heartbeat: "Heartbeat"
        case .leaveGroup: "LeaveGroup"
        case .syncGroup: "SyncGroup"
        case .describeGroups: "DescribeGroups"
        case .listGroups: "ListGroups"
        case .apiVersions: "ApiVersions"
        case .createTopics: "CreateTopics"
        case .deleteTopics: "DeleteTopics"
        case .initProducerId: "InitProducerId"
        case .offsetForLeaderEpoch: "OffsetForLeaderEpoch"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .deleteGroups: "DeleteGroups"
        case .incrementalAlterConfigs: "IncrementalAlterConfigs"
        case .offsetDelete: "OffsetDelete"
        case .addPartitionsToTxn: "AddPartitionsToTxn"
        case .addOffsetsToTxn: "AddOffsetsToTxn"
        case .endTxn: "EndTxn"
        case .txnOffsetCommit: "TxnOffsetCommit"
        case .describeTransactions: "DescribeTransactions"
        case .listTransactions: "ListTransactions"
        case .deleteRecords: "DeleteRecords"
        case .describeLogDirs: "DescribeLogDirs"
        case .createPartitions: "CreatePartitions"
        case .describeCluster: "DescribeCluster"
        case .describeProducers: "DescribeProducers"
        case .describeAcls: "DescribeAcls"
        case .createAcls: "CreateAcls"
        case .deleteAcls: "DeleteAcls"
        case .saslHandshake: "SaslHandshake"
        case .saslAuthenticate: "SaslAuthenticate"
        case .describeUserScramCredentials: "DescribeUserScramCredentials"
        case .alterUserScramCredentials: "AlterUserScramCredentials"
        case .describeClientQuotas: "DescribeClientQuotas"
        case .alterClientQuotas: "AlterClientQuotas"
        }
    }
}
