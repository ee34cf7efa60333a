import NIOCore

/// IncrementalAlterConfigs (key 44), versions 0–1: per-key SET/DELETE/APPEND/SUBTRACT on a resource's
/// configs, leaving keys the request does not name alone (unlike AlterConfigs).
public struct IncrementalAlterConfigsRequest: KafkaRequestMessage {
    public typealias Response = IncrementalAlterConfigsResponse
    public static let apiKey = ApiKey.incrementalAlterConfigs

    /// Kafka's AlterConfigOp.OpType codes for `Config.configOperation`.
    public static let setOperation: Int8 = 0
    public static let deleteOperation: Int8 = 1
    public static let appendOperation: Int8 = 2
    public static let subtractOperation: Int8 = 3

    public struct Config: Equatable, Sendable, WireStructure {
        public var name: String
        public var configOperation: Int8
        /// Ignored by DELETE; clients send null there.
        public var value: String?

        public init(name: String, configOperation: Int8, value: String?) {
            self.name = name
            self.configOperation = configOperation
            self.value = value
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            configOperation = try buffer.readKafkaInt8()
            value = try buffer.readKafkaNullableString(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(configOperation)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Resource: Equatable, Sendable, WireStructure {
        /// `DescribeConfigsRequest.topicResourceType` or `.brokerResourceType`.
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
        return IncrementalAlterConfigsRequest(
            resources: resources, validateOnly: validateOnly, unknownTaggedFields: tagged)
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(resources, version: version, flexible: flexible)
        buffer.writeKafkaBool(validateOnly)
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct IncrementalAlterConfigsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.incrementalAlterConfigs

    /// The same per-resource result as AlterConfigs: the two specs share the layout.
    public typealias Result = AlterConfigsResponse.Result

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
        var response = IncrementalAlterConfigsResponse()
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
