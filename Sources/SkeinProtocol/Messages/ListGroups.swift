import NIOCore

/// ListGroups (key 16), versions 0–4.
public struct ListGroupsRequest: KafkaRequestMessage {
    public typealias Response = ListGroupsResponse
    public static let apiKey = ApiKey.listGroups

    /// v4+; empty lists every group.
    public var statesFilter: [String]
    public var unknownTaggedFields: [TaggedField]

    public init(statesFilter: [String] = [], unknownTaggedFields: [TaggedField] = []) {
        self.statesFilter = statesFilter
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = ListGroupsRequest()
        if version >= 4 { request.statesFilter = try buffer.readKafkaStringArray(flexible: flexible) }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 4 { try buffer.writeKafkaStringArray(statesFilter, flexible: flexible) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct ListGroupsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.listGroups

    public struct Group: Equatable, Sendable, WireStructure {
        public var groupId: String
        public var protocolType: String
        /// v4+.
        public var groupState: String

        public init(groupId: String, protocolType: String, groupState: String = "") {
            self.groupId = groupId
            self.protocolType = protocolType
            self.groupState = groupState
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            groupId = try buffer.readKafkaString(flexible: flexible)
            protocolType = try buffer.readKafkaString(flexible: flexible)
            groupState = version >= 4 ? try buffer.readKafkaString(flexible: flexible) : ""
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(groupId, flexible: flexible)
            try buffer.writeKafkaString(protocolType, flexible: flexible)
            if version >= 4 { try buffer.writeKafkaString(groupState, flexible: flexible) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    public var errorCode: ErrorCode
    public var groups: [Group]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, groups: [Group] = [],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.groups = groups
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = ListGroupsResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.errorCode = try buffer.readErrorCode()
        response.groups = try buffer.readStructures(version: version, flexible: flexible, field: "Groups")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        buffer.writeErrorCode(errorCode)
        try buffer.writeStructures(groups, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
