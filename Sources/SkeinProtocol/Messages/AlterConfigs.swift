import NIOCore

/// AlterConfigs (key 33), versions 0–2: the legacy form that replaces a resource's whole set of
/// dynamic configs; keys the request does not name go back to their defaults. kafka-python's admin
/// client still uses it.
public struct AlterConfigsRequest: KafkaRequestMessage {
    public typealias Response = AlterConfigsResponse
    public static let apiKey = ApiKey.alterConfigs

    public struct Config: Equatable, Sendable, WireStructure {
        public var name: String
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Resource: Equatable, Sendable, WireStructure {
        public var resourceType: Int8
        public var resourceName: String
        public var configs: [Config]

        public init(resourceType: Int8, resourceName: String, configs: [Config]) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            configs = try buffer.readStructures(version: version, flexible: flexible, field: "Configs")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            try buffer.writeStructures(configs, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var resources: [Resource]
    public var validateOnly: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(resources: [Resource], validateOnly: Bool = false, unknownTaggedFields: [TaggedField] = []) {
        self.resources = resources
        self.validateOnly = validateOnly
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        let resources: [Resource] = try buffer.readStructures(version: version, flexible: flexible, field: "Resources")
        let validateOnly = try buffer.readKafkaBool()
        let tagged = flexible ? try buffer.readTaggedFields() : []
        return AlterConfigsRequest(resources: resources, validateOnly: validateOnly, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(resources, version: version, flexible: flexible)
        buffer.writeKafkaBool(validateOnly)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct AlterConfigsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.alterConfigs

    /// One resource's outcome; IncrementalAlterConfigs answers with the same layout.
    public struct Result: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var resourceType: Int8
        public var resourceName: String

        public init(
            errorCode: ErrorCode = .noError, errorMessage: String? = nil, resourceType: Int8, resourceName: String
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var throttleTimeMs: Int32
    public var responses: [Result]
    public var unknownTaggedFields: [TaggedField]

    public init(throttleTimeMs: Int32 = 0, responses: [Result] = [], unknownTaggedFields: [TaggedField] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = AlterConfigsResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        response.responses = try buffer.readStructures(version: version, flexible: flexible, field: "Responses")
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(throttleTimeMs)
        try buffer.writeStructures(responses, version: version, flexible: flexible)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}
