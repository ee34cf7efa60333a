import NIOCore

/// FindCoordinator (key 10), versions 0–4.
///
/// v0–3 ask about one key and get one answer; v4 batches keys (KIP-699). Both request and response
/// are modelled as lists so a handler answers every version the same way: v0–3 requests decode to
/// a one-element list, and encoding v0–3 requires exactly one element.
public struct FindCoordinatorRequest: KafkaRequestMessage {
    public typealias Response = FindCoordinatorResponse
    public static let apiKey = ApiKey.findCoordinator

    public static let groupKeyType: Int8 = 0
    public static let transactionKeyType: Int8 = 1

    /// v1+; 0 for a consumer group, 1 for a transactional ID.
    public var keyType: Int8
    public var coordinatorKeys: [String]
    public var unknownTaggedFields: [TaggedField]

    public init(
        keyType: Int8 = FindCoordinatorRequest.groupKeyType, coordinatorKeys: [String],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.keyType = keyType
        self.coordinatorKeys = coordinatorKeys
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = FindCoordinatorRequest(coordinatorKeys: [])
        if version <= 3 { request.coordinatorKeys = [try buffer.readKafkaString(flexible: flexible)] }
        if version >= 1 { request.keyType = try buffer.readKafkaInt8() }
        if version >= 4 { request.coordinatorKeys = try buffer.readKafkaStringArray(flexible: flexible) }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version <= 3 {
            guard coordinatorKeys.count == 1 else {
                throw ProtocolError.unrepresentable(field: "Key", reason: "v\(version) carries exactly one key")
            }
            try buffer.writeKafkaString(coordinatorKeys[0], flexible: flexible)
        }
        if version >= 1 { buffer.writeInteger(keyType) }
        if version >= 4 { try buffer.writeKafkaStringArray(coordinatorKeys, flexible: flexible) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct FindCoordinatorResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.findCoordinator

    public struct Coordinator: Equatable, Sendable, WireStructure {
        /// v4+ only; decoding v0–3 gives "".
        public var key: String
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        public var errorCode: ErrorCode
        /// v1+.
        public var errorMessage: String?

        public init(
            key: String, nodeId: Int32, host: String, port: Int32, errorCode: ErrorCode = .noError,
            errorMessage: String? = nil
        ) {
            self.key = key
            self.nodeId = nodeId
            self.host = host
            self.port = port
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        /// The v4 array element layout.
        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            key = try buffer.readKafkaString(flexible: flexible)
            nodeId = try buffer.readKafkaInt32()
            host = try buffer.readKafkaString(flexible: flexible)
            port = try buffer.readKafkaInt32()
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(key, flexible: flexible)
            buffer.writeInteger(nodeId)
            try buffer.writeKafkaString(host, flexible: flexible)
            buffer.writeInteger(port)
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var coordinators: [Coordinator]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, coordinators: [Coordinator] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.coordinators = coordinators
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = FindCoordinatorResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        if version <= 3 {
            let errorCode = try buffer.readErrorCode()
            let errorMessage = version >= 1 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            let nodeId = try buffer.readKafkaInt32()
            let host = try buffer.readKafkaString(flexible: flexible)
            let port = try buffer.readKafkaInt32()
            response.coordinators = [
                Coordinator(
                    key: "", nodeId: nodeId, host: host, port: port, errorCode: errorCode, errorMessage: errorMessage)
            ]
        } else {
            response.coordinators = try buffer.readStructures(
                version: version, flexible: flexible, field: "Coordinators")
        }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        if version <= 3 {
            guard coordinators.count == 1, let coordinator = coordinators.first else {
                throw ProtocolError.unrepresentable(
                    field: "Coordinators", reason: "v\(version) carries exactly one coordinator")
            }
            buffer.writeErrorCode(coordinator.errorCode)
            if version >= 1 { try buffer.writeKafkaNullableString(coordinator.errorMessage, flexible: flexible) }
            buffer.writeInteger(coordinator.nodeId)
            try buffer.writeKafkaString(coordinator.host, flexible: flexible)
            buffer.writeInteger(coordinator.port)
        } else {
            try buffer.writeStructures(coordinators, version: version, flexible: flexible)
        }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
