import NIOCore

/// DeleteGroups (key 42), versions 0–2: removes empty groups together with their committed offsets.
public struct DeleteGroupsRequest: KafkaRequestMessage {
    public typealias Response = DeleteGroupsResponse
    public static let apiKey = ApiKey.deleteGroups

    /// Kafka's spelling of the field, kept so code reads like the spec.
    public var groupsNames: [String]
    public var unknownTaggedFields: [TaggedField]

    public init(groupsNames: [String], unknownTaggedFields: [TaggedField] = []) {
        self.groupsNames = groupsNames
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let names = try buffer.readKafkaStringArray(flexible: flexible)
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return DeleteGroupsRequest(groupsNames: names, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaStringArray(groupsNames, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DeleteGroupsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.deleteGroups

    public struct Result: Equatable, Sendable, WireStructure {
        public var groupId: String
        public var errorCode: ErrorCode

        public init(groupId: String, errorCode: ErrorCode = .noError) {
            self.groupId = groupId
            self.errorCode = errorCode
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            groupId = try buffer.readKafkaString(flexible: flexible)
            errorCode = try buffer.readErrorCode()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(groupId, flexible: flexible)
            buffer.writeErrorCode(errorCode)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var results: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, results: [Result] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = DeleteGroupsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.results = try buffer.readStructures(version: version, flexible: flexible, field: "Results")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(results, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
