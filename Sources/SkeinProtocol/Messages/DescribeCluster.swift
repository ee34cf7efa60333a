import NIOCore

/// DescribeCluster (key 60), versions 0–2, all flexible: the admin clients' view of the brokers and the
/// controller, without Metadata's topic list.
public struct DescribeClusterRequest: KafkaRequestMessage {
    public typealias Response = DescribeClusterResponse
    public static let apiKey = ApiKey.describeCluster

    public static let brokersEndpointType: Int8 = 1
    public static let controllersEndpointType: Int8 = 2

    public var includeClusterAuthorizedOperations: Bool
    /// v1+: 1 for brokers, 2 for controllers.
    public var endpointType: Int8
    /// v2+.
    public var includeFencedBrokers: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        includeClusterAuthorizedOperations: Bool = false, endpointType: Int8 = brokersEndpointType,
        includeFencedBrokers: Bool = false, unknownTaggedFields: [TaggedField] = []
    ) {
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.endpointType = endpointType
        self.includeFencedBrokers = includeFencedBrokers
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var request = DescribeClusterRequest()
        request.includeClusterAuthorizedOperations = try buffer.readKafkaBool()
        if version >= 1 { request.endpointType = try buffer.readKafkaInt8() }
        if version >= 2 { request.includeFencedBrokers = try buffer.readKafkaBool() }
        request.unknownTaggedFields = try buffer.readTaggedFields()
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeKafkaBool(includeClusterAuthorizedOperations)
        if version >= 1 { buffer.writeInteger(endpointType) }
        if version >= 2 { buffer.writeKafkaBool(includeFencedBrokers) }
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}

public struct DescribeClusterResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeCluster

    /// Kafka's "not requested" value for the authorized-operations bit field.
    public static let operationsNotRequested = Int32.min

    public struct Broker: Equatable, Sendable, WireStructure {
        public var brokerId: Int32
        public var host: String
        public var port: Int32
        public var rack: String?
        /// v2+.
        public var isFenced: Bool

        public init(brokerId: Int32, host: String, port: Int32, rack: String? = nil, isFenced: Bool = false) {
            self.brokerId = brokerId
            self.host = host
            self.port = port
            self.rack = rack
            self.isFenced = isFenced
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            brokerId = try buffer.readKafkaInt32()
            host = try buffer.readKafkaString(flexible: flexible)
            port = try buffer.readKafkaInt32()
            rack = try buffer.readKafkaNullableString(flexible: flexible)
            isFenced = version >= 2 ? try buffer.readKafkaBool() : false
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(brokerId)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(port)
            try buffer.writeKafkaNullableString(rack, flexible: flexible)
            if version >= 2 { buffer.writeKafkaBool(isFenced) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// v1+.
    public var endpointType: Int8
    public var clusterId: String
    public var controllerId: Int32
    public var brokers: [Broker]
    public var clusterAuthorizedOperations: Int32
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, errorMessage: String? = nil,
        endpointType: Int8 = DescribeClusterRequest.brokersEndpointType, clusterId: String = "",
        controllerId: Int32 = -1, brokers: [Broker] = [], clusterAuthorizedOperations: Int32 = operationsNotRequested,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.endpointType = endpointType
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.brokers = brokers
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var response = DescribeClusterResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.errorCode = try buffer.readErrorCode()
        response.errorMessage = try buffer.readKafkaNullableString(flexible: true)
        if version >= 1 { response.endpointType = try buffer.readKafkaInt8() }
        response.clusterId = try buffer.readKafkaString(flexible: true)
        response.controllerId = try buffer.readKafkaInt32()
        response.brokers = try buffer.readStructures(version: version, flexible: true, field: "Brokers")
        response.clusterAuthorizedOperations = try buffer.readKafkaInt32()
        response.unknownTaggedFields = try buffer.readTaggedFields()
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        buffer.writeInteger(throttleTimeMs)
        buffer.writeErrorCode(errorCode)
        try buffer.writeKafkaNullableString(errorMessage, flexible: true)
        if version >= 1 { buffer.writeInteger(endpointType) }
        try buffer.writeKafkaString(clusterId, flexible: true)
        buffer.writeInteger(controllerId)
        try buffer.writeStructures(brokers, version: version, flexible: true)
        buffer.writeInteger(clusterAuthorizedOperations)
        buffer.writeTaggedFields(unknownTaggedFields)
    }
}
