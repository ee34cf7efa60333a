import NIOCore

/// DescribeLogDirs (key 35), versions 0–4: where each partition is stored and how large it is.
public struct DescribeLogDirsRequest: KafkaRequestMessage {
    public typealias Response = DescribeLogDirsResponse
    public static let apiKey = ApiKey.describeLogDirs

    public struct Topic: Equatable, Sendable, WireStructure {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            topic = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(topic, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitions, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// Null asks for every partition.
    public var topics: [Topic]?
    public var unknownTaggedFields: [TaggedField]

    public init(topics: [Topic]?, unknownTaggedFields: [TaggedField] = []) {
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let topics: [Topic]? = try buffer.readNullableStructures(version: version, flexible: flexible)
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DescribeLogDirsRequest(topics: topics, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeNullableStructures(topics, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DescribeLogDirsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeLogDirs

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partitionIndex: Int32
        public var partitionSize: Int64
        public var offsetLag: Int64
        public var isFutureKey: Bool

        public init(partitionIndex: Int32, partitionSize: Int64, offsetLag: Int64 = 0, isFutureKey: Bool = false) {
            self.partitionIndex = partitionIndex
            self.partitionSize = partitionSize
            self.offsetLag = offsetLag
            self.isFutureKey = isFutureKey
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partitionIndex = try buffer.readKafkaInt32()
            partitionSize = try buffer.readKafkaInt64()
            offsetLag = try buffer.readKafkaInt64()
            isFutureKey = try buffer.readKafkaBool()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partitionIndex)
            buffer.writeInteger(partitionSize)
            buffer.writeInteger(offsetLag)
            buffer.writeKafkaBool(isFutureKey)
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

    public struct Result: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var logDir: String
        public var topics: [Topic]
        /// v4+: the volume's size and free space, -1 when unknown.
        public var totalBytes: Int64
        public var usableBytes: Int64

        public init(
            errorCode: ErrorCode = .noError, logDir: String, topics: [Topic], totalBytes: Int64 = -1,
            usableBytes: Int64 = -1
        ) {
            self.errorCode = errorCode
            self.logDir = logDir
            self.topics = topics
            self.totalBytes = totalBytes
            self.usableBytes = usableBytes
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            logDir = try buffer.readKafkaString(flexible: flexible)
            topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
            if version >= 4 {
                totalBytes = try buffer.readKafkaInt64()
                usableBytes = try buffer.readKafkaInt64()
            } else {
                totalBytes = -1
                usableBytes = -1
            }
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaString(logDir, flexible: flexible)
            try buffer.writeStructures(topics, version: version, flexible: flexible)
            if version >= 4 {
                buffer.writeInteger(totalBytes)
                buffer.writeInteger(usableBytes)
            }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    /// v3+.
    public var errorCode: ErrorCode
    public var results: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, results: [Result] = [],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.results = results
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DescribeLogDirsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        if version >= 3 { response.errorCode = try buffer.readErrorCode() }
        response.results = try buffer.readStructures(version: version, flexible: flexible, field: "Results")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        if version >= 3 { buffer.writeErrorCode(errorCode) }
        try buffer.writeStructures(results, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
