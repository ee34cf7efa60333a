import NIOCore

/// DescribeGroups (key 15), versions 0–5.
public struct DescribeGroupsRequest: KafkaRequestMessage {
    public typealias Response = DescribeGroupsResponse
    public static let apiKey = ApiKey.describeGroups

    public var groups: [String]
    /// v3+.
    public var includeAuthorizedOperations: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(groups: [String], includeAuthorizedOperations: Bool = false, unknownTaggedFields: [TaggedField] = []) {
        self.groups = groups
        self.includeAuthorizedOperations = includeAuthorizedOperations
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = DescribeGroupsRequest(groups: try buffer.readKafkaStringArray(flexible: flexible))
        if version >= 3 { request.includeAuthorizedOperations = try buffer.readKafkaBool() }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeKafkaStringArray(groups, flexible: flexible)
        if version >= 3 { buffer.writeKafkaBool(includeAuthorizedOperations) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DescribeGroupsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeGroups

    public struct Member: Equatable, Sendable, WireStructure {
        public var memberId: String
        /// v4+.
        public var groupInstanceId: String?
        public var clientId: String
        public var clientHost: String
        public var memberMetadata: ByteBuffer
        public var memberAssignment: ByteBuffer

        public init(
            memberId: String, groupInstanceId: String? = nil, clientId: String, clientHost: String,
            memberMetadata: ByteBuffer = ByteBuffer(), memberAssignment: ByteBuffer = ByteBuffer()
        ) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.memberMetadata = memberMetadata
            self.memberAssignment = memberAssignment
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            memberId = try buffer.readKafkaString(flexible: flexible)
            groupInstanceId = version >= 4 ? try buffer.readKafkaNullableString(flexible: flexible) : nil
            clientId = try buffer.readKafkaString(flexible: flexible)
            clientHost = try buffer.readKafkaString(flexible: flexible)
            memberMetadata = try buffer.readKafkaBytes(flexible: flexible)
            memberAssignment = try buffer.readKafkaBytes(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(memberId, flexible: flexible)
            if version >= 4 { try buffer.writeKafkaNullableString(groupInstanceId, flexible: flexible) }
            try buffer.writeKafkaString(clientId, flexible: flexible)
            try buffer.writeKafkaString(clientHost, flexible: flexible)
            try buffer.writeKafkaBytes(memberMetadata, flexible: flexible)
            try buffer.writeKafkaBytes(memberAssignment, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Group: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var groupId: String
        /// "Stable", "PreparingRebalance", "CompletingRebalance", "Empty", "Dead", or "".
        public var groupState: String
        public var protocolType: String
        /// The chosen assignor while the group is Stable, else "".
        public var protocolData: String
        public var members: [Member]
        /// v3+.
        public var authorizedOperations: Int32

        public init(
            errorCode: ErrorCode = .noError, groupId: String, groupState: String = "", protocolType: String = "",
            protocolData: String = "", members: [Member] = [], authorizedOperations: Int32 = Int32.min
        ) {
            self.errorCode = errorCode
            self.groupId = groupId
            self.groupState = groupState
            self.protocolType = protocolType
            self.protocolData = protocolData
            self.members = members
            self.authorizedOperations = authorizedOperations
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            groupId = try buffer.readKafkaString(flexible: flexible)
            groupState = try buffer.readKafkaString(flexible: flexible)
            protocolType = try buffer.readKafkaString(flexible: flexible)
            protocolData = try buffer.readKafkaString(flexible: flexible)
            members = try buffer.readStructures(version: version, flexible: flexible, field: "Members")
            authorizedOperations = version >= 3 ? try buffer.readKafkaInt32() : Int32.min
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaString(groupId, flexible: flexible)
            try buffer.writeKafkaString(groupState, flexible: flexible)
            try buffer.writeKafkaString(protocolType, flexible: flexible)
            try buffer.writeKafkaString(protocolData, flexible: flexible)
            try buffer.writeStructures(members, version: version, flexible: flexible)
            if version >= 3 { buffer.writeInteger(authorizedOperations) }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v1+.
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
        var response = DescribeGroupsResponse()
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        response.groups = try buffer.readStructures(version: version, flexible: flexible, field: "Groups")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        try buffer.writeStructures(groups, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
