import NIOCore

/// OffsetDelete (key 47), version 0 (never flexible): removes a group's committed offsets for some
/// partitions while the group itself stays.
public struct OffsetDeleteRequest: KafkaRequestMessage {
    public typealias Response = OffsetDeleteResponse
    public static let apiKey = ApiKey.offsetDelete

    public struct Topic: Equatable, Sendable, WireStructure {
        public var name: String
        public var partitionIndexes: [Int32]

        public init(name: String, partitionIndexes: [Int32]) {
            self.name = name
            self.partitionIndexes = partitionIndexes
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            // Each partition is a one-field structure on the wire, which reads as an int32 array.
            partitionIndexes = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitionIndexes, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var groupId: String
    public var topics: [Topic]

    public init(groupId: String, topics: [Topic]) {
        self.groupId = groupId
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let groupId = try buffer.readKafkaString(flexible: false)
        let topics: [Topic] = try buffer.readStructures(version: version, flexible: false, field: "Topics")
        return OffsetDeleteRequest(groupId: groupId, topics: topics)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        try buffer.writeKafkaString(groupId, flexible: false)
        try buffer.writeStructures(topics, version: version, flexible: false)
    }
}

public struct OffsetDeleteResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.offsetDelete

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var errorCode: ErrorCode

        public init(partitionIndex: Int32, errorCode: ErrorCode = .noError) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
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

    /// Group-level failures (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP ...) come here with no topics.
    public var errorCode: ErrorCode
    public var throttleTimeMs: Int32
    public var topics: [Topic]

    public init(errorCode: ErrorCode = .noError, throttleTimeMs: Int32 = 0, topics: [Topic] = []) {
        self.errorCode = errorCode
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = OffsetDeleteResponse()
        response.errorCode = try buffer.readErrorCode()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.topics = try buffer.readStructures(version: version, flexible: false, field: "Topics")
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeErrorCode(errorCode)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(topics, version: version, flexible: false)
    }
}
