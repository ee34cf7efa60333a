import NIOCore

/// OffsetFetch (key 9), versions 1–8.
///
/// v1–7 ask about one group at the top level; v8 batches groups (KIP-709). Both request and
/// response are modelled as a list of groups so one handler serves all versions: v1–7 decode to a
/// single group, and encoding v1–7 requires exactly one. In v1–7 responses the group ID is not on
/// the wire (it decodes as ""), and the group's error code is the top-level one (absent in v1).
public struct OffsetFetchRequest: KafkaRequestMessage {
    public typealias Response = OffsetFetchResponse
    public static let apiKey = ApiKey.offsetFetch

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitionIndexes: [Int32]

        public init(name: String, partitionIndexes: [Int32]) {
            self.name = name
            self.partitionIndexes = partitionIndexes
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitionIndexes = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitionIndexes, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Group: Equatable, Sendable, WireStructure {
        public var groupId: String
        /// nil asks for every committed partition of the group (v2+).
        public var topics: [Topic]?

        public init(groupId: String, topics: [Topic]?) {
            self.groupId = groupId
            self.topics = topics
        }

        /// The v8 array element layout.
        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            groupId = try buffer.readKafkaString(flexible: flexible)
            topics = try buffer.readNullableStructures(version: version, flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(groupId, flexible: flexible)
            try buffer.writeNullableStructures(topics, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var groups: [Group]
    /// v7+: answer UNSTABLE_OFFSET_COMMIT rather than an offset with a pending transaction.
    public var requireStable: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(groups: [Group], requireStable: Bool = false, unknownTaggedFields: [TaggedField] = []) {
        self.groups = groups
        self.requireStable = requireStable
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = OffsetFetchRequest(groups: [])
        if version <= 7 {
            let groupId = try buffer.readKafkaString(flexible: flexible)
            let topics: [Topic]?
            if version >= 2 {
                topics = try buffer.readNullableStructures(version: version, flexible: flexible)
            } else {
                topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
            }
            request.groups = [Group(groupId: groupId, topics: topics)]
        } else {
            request.groups = try buffer.readStructures(version: version, flexible: flexible, field: "Groups")
        }
        if version >= 7 { request.requireStable = try buffer.readKafkaBool() }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version <= 7 {
            guard groups.count == 1 else {
                throw ProtocolError.unrepresentable(field: "GroupId", reason: "v\(version) carries exactly one group")
            }
            try buffer.writeKafkaString(groups[0].groupId, flexible: flexible)
            if version >= 2 {
                try buffer.writeNullableStructures(groups[0].topics, version: version, flexible: flexible)
            } else {
                try buffer.writeStructures(
                    try groups[0].topics.required("Topics"), version: version, flexible: flexible)
            }
        } else {
            try buffer.writeStructures(groups, version: version, flexible: flexible)
        }
        if version >= 7 { buffer.writeKafkaBool(requireStable) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct OffsetFetchResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.offsetFetch

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        /// -1 when the group has no committed offset for the partition.
        public var committedOffset: Int64
        /// v5+.
        public var committedLeaderEpoch: Int32
        public var metadata: String?
        public var errorCode: ErrorCode

        public init(
            partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1, metadata: String? = "",
            errorCode: ErrorCode = .noError
        ) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.metadata = metadata
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            committedOffset = try buffer.readKafkaInt64()
            committedLeaderEpoch = version >= 5 ? try buffer.readKafkaInt32() : -1
            metadata = try buffer.readKafkaNullableString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(committedOffset)
            if version >= 5 { buffer.writeInteger(committedLeaderEpoch) }
            try buffer.writeKafkaNullableString(metadata, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitions: [Partition]

        public init(name: String, partitions: [Partition]) {
            self.name = name
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "Partitions")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Group: Equatable, Sendable, WireStructure {
        /// v8+ only.
        public var groupId: String
        public var topics: [Topic]
        /// The top-level error in v2–7.
        public var errorCode: ErrorCode

        public init(groupId: String, topics: [Topic], errorCode: ErrorCode = .noError) {
            self.groupId = groupId
            self.topics = topics
            self.errorCode = errorCode
        }

        /// The v8 array element layout.
        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            groupId = try buffer.readKafkaString(flexible: flexible)
            topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(groupId, flexible: flexible)
            try buffer.writeStructures(topics, version: version, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32
    public var groups: [Group]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, groups: [Group] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.groups = groups
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = OffsetFetchResponse()
        if version >= 3 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        if version <= 7 {
            let topics: [Topic] = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
            let errorCode = version >= 2 ? try buffer.readErrorCode() : .noError
            response.groups = [Group(groupId: "", topics: topics, errorCode: errorCode)]
        } else {
            response.groups = try buffer.readStructures(version: version, flexible: flexible, field: "Groups")
        }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 3 { buffer.writeInteger(throttleTimeMs) }
        if version <= 7 {
            guard groups.count == 1 else {
                throw ProtocolError.unrepresentable(field: "Groups", reason: "v\(version) carries exactly one group")
            }
            try buffer.writeStructures(groups[0].topics, version: version, flexible: flexible)
            if version >= 2 { buffer.writeErrorCode(groups[0].errorCode) }
        } else {
            try buffer.writeStructures(groups, version: version, flexible: flexible)
        }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
