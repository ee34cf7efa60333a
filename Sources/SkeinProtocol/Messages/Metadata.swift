import NIOCore

/// Metadata (key 3): brokers, topics and partition leaders.
public struct MetadataRequest: KafkaRequestMessage {
    public typealias Response = MetadataResponse
    public static let apiKey = ApiKey.metadata

    public struct Topic: Equatable, Sendable, WireStructure {
        /// v10+. Zero when asking by name.
        public var topicId: KafkaUUID
        /// Nullable from v10 (when asking by ID).
        public var name: String?

        public init(topicId: KafkaUUID = .zero, name: String?) {
            self.topicId = topicId
            self.name = name
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            topicId = version >= 10 ? try buffer.readKafkaUUID() : .zero
            if version >= 10 {
                name = try buffer.readKafkaNullableString(flexible: flexible)
            } else {
                name = try buffer.readKafkaString(flexible: flexible)
            }
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            if version >= 10 {
                buffer.writeKafkaUUID(topicId)
                try buffer.writeKafkaNullableString(name, flexible: flexible)
            } else {
                try buffer.writeKafkaString(try name.required("Topics.Name"), flexible: flexible)
            }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// nil asks for every topic. On the wire v0 says "all" with an empty array and cannot ask for
    /// none; v1+ uses null for "all". This property always means the v1+ semantics: decoding v0's
    /// empty array gives nil, and encoding an empty (non-nil) list in v0 throws.
    public var topics: [Topic]?
    /// v4+.
    public var allowAutoTopicCreation: Bool
    /// v8–10.
    public var includeClusterAuthorizedOperations: Bool
    /// v8+.
    public var includeTopicAuthorizedOperations: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        topics: [Topic]? = nil, allowAutoTopicCreation: Bool = true,
        includeClusterAuthorizedOperations: Bool = false, includeTopicAuthorizedOperations: Bool = false,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.includeTopicAuthorizedOperations = includeTopicAuthorizedOperations
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = MetadataRequest()
        if version == 0 {
            let topics: [Topic] = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
            request.topics = topics.isEmpty ? nil : topics
        } else {
            request.topics = try buffer.readNullableStructures(version: version, flexible: flexible)
        }
        if version >= 4 { request.allowAutoTopicCreation = try buffer.readKafkaBool() }
        if (8...10).contains(version) { request.includeClusterAuthorizedOperations = try buffer.readKafkaBool() }
        if version >= 8 { request.includeTopicAuthorizedOperations = try buffer.readKafkaBool() }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version == 0 {
            if let topics, topics.isEmpty {
                throw ProtocolError.unrepresentable(field: "Topics", reason: "v0 cannot ask for no topics")
            }
            try buffer.writeStructures(topics ?? [], version: version, flexible: flexible)
        } else {
            try buffer.writeNullableStructures(topics, version: version, flexible: flexible)
        }
        if version >= 4 { buffer.writeKafkaBool(allowAutoTopicCreation) }
        if (8...10).contains(version) { buffer.writeKafkaBool(includeClusterAuthorizedOperations) }
        if version >= 8 { buffer.writeKafkaBool(includeTopicAuthorizedOperations) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct MetadataResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.metadata
    /// Kafka's "authorized operations not requested" marker (Integer.MIN_VALUE).
    public static let authorizedOperationsOmitted = Int32.min

    public struct Broker: Equatable, Sendable, WireStructure {
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        /// v1+.
        public var rack: String?

        public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
            self.nodeId = nodeId
            self.host = host
            self.port = port
            self.rack = rack
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            nodeId = try buffer.readKafkaInt32()
            host = try buffer.readKafkaString(flexible: flexible)
            port = try buffer.readKafkaInt32()
            rack = version >= 1 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(nodeId)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(port)
            if version >= 1 { try buffer.writeKafkaNullableString(rack, flexible: flexible) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Partition: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var partitionIndex: Int32
        public var leaderId: Int32
        /// v7+.
        public var leaderEpoch: Int32
        public var replicaNodes: [Int32]
        public var isrNodes: [Int32]
        /// v5+.
        public var offlineReplicas: [Int32]

        public init(
            errorCode: ErrorCode = .noError, partitionIndex: Int32, leaderId: Int32, leaderEpoch: Int32 = -1,
            replicaNodes: [Int32], isrNodes: [Int32], offlineReplicas: [Int32] = []
        ) {
            self.errorCode = errorCode
            self.partitionIndex = partitionIndex
            self.leaderId = leaderId
            self.leaderEpoch = leaderEpoch
            self.replicaNodes = replicaNodes
            self.isrNodes = isrNodes
            self.offlineReplicas = offlineReplicas
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            partitionIndex = try buffer.readKafkaInt32()
            leaderId = try buffer.readKafkaInt32()
            leaderEpoch = version >= 7 ? try buffer.readKafkaInt32() : -1
            replicaNodes = try buffer.readKafkaInt32Array(flexible: flexible)
            isrNodes = try buffer.readKafkaInt32Array(flexible: flexible)
            offlineReplicas = version >= 5 ? try buffer.readKafkaInt32Array(flexible: flexible) : []
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(leaderId)
            if version >= 7 { buffer.writeInteger(leaderEpoch) }
            try buffer.writeKafkaInt32Array(replicaNodes, flexible: flexible)
            try buffer.writeKafkaInt32Array(isrNodes, flexible: flexible)
            if version >= 5 { try buffer.writeKafkaInt32Array(offlineReplicas, flexible: flexible) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        /// Nullable from v12 (a topic asked for by an unknown ID).
        public var name: String?
        /// v10+.
        public var topicId: KafkaUUID
        /// v1+.
        public var isInternal: Bool
        public var partitions: [Partition]
        /// v8+.
        public var topicAuthorizedOperations: Int32

        public init(
            errorCode: ErrorCode = .noError, name: String?, topicId: KafkaUUID = .zero, isInternal: Bool = false,
            partitions: [Partition], topicAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
        ) {
            self.errorCode = errorCode
            self.name = name
            self.topicId = topicId
            self.isInternal = isInternal
            self.partitions = partitions
            self.topicAuthorizedOperations = topicAuthorizedOperations
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            if version >= 12 {
                name = try buffer.readKafkaNullableString(flexible: flexible)
            } else {
                name = try buffer.readKafkaString(flexible: flexible)
            }
            topicId = version >= 10 ? try buffer.readKafkaUUID() : .zero
            isInternal = version >= 1 ? try buffer.readKafkaBool() : false
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "Partitions")
            topicAuthorizedOperations =
                version >= 8 ? try buffer.readKafkaInt32() : MetadataResponse.authorizedOperationsOmitted
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            if version >= 12 {
                try buffer.writeKafkaNullableString(name, flexible: flexible)
            } else {
                try buffer.writeKafkaString(try name.required("Topics.Name"), flexible: flexible)
            }
            if version >= 10 { buffer.writeKafkaUUID(topicId) }
            if version >= 1 { buffer.writeKafkaBool(isInternal) }
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            if version >= 8 { buffer.writeInteger(topicAuthorizedOperations) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32
    public var brokers: [Broker]
    /// v2+.
    public var clusterId: String?
    /// v1+; -1 when unknown.
    public var controllerId: Int32
    public var topics: [Topic]
    /// v8–10.
    public var clusterAuthorizedOperations: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, brokers: [Broker] = [], clusterId: String? = nil, controllerId: Int32 = -1,
        topics: [Topic] = [], clusterAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.brokers = brokers
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.topics = topics
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = MetadataResponse()
        if version >= 3 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.brokers = try buffer.readStructures(version: version, flexible: flexible, field: "Brokers")
        if version >= 2 { response.clusterId = try buffer.readKafkaNullableString(flexible: flexible) }
        if version >= 1 { response.controllerId = try buffer.readKafkaInt32() }
        response.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if (8...10).contains(version) { response.clusterAuthorizedOperations = try buffer.readKafkaInt32() }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 3 { buffer.writeInteger(throttleTimeMs) }
        try buffer.writeStructures(brokers, version: version, flexible: flexible)
        if version >= 2 { try buffer.writeKafkaNullableString(clusterId, flexible: flexible) }
        if version >= 1 { buffer.writeInteger(controllerId) }
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if (8...10).contains(version) { buffer.writeInteger(clusterAuthorizedOperations) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
