import NIOCore

/// DescribeConfigs (key 32), versions 1–4.
public struct DescribeConfigsRequest: KafkaRequestMessage {
    public typealias Response = DescribeConfigsResponse
    public static let apiKey = ApiKey.describeConfigs

    /// Kafka's ConfigResource.Type codes for `resourceType`.
    public static let topicResourceType: Int8 = 2
    public static let brokerResourceType: Int8 = 4

    public struct Resource: Equatable, Sendable, WireStructure {
        public var resourceType: Int8
        public var resourceName: String
        /// nil lists every key.
        public var configurationKeys: [String]?

        public init(resourceType: Int8, resourceName: String, configurationKeys: [String]? = nil) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configurationKeys = configurationKeys
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            configurationKeys = try buffer.readKafkaNullableStringArray(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            try buffer.writeKafkaNullableStringArray(configurationKeys, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var resources: [Resource]
    public var includeSynonyms: Bool
    /// v3+.
    public var includeDocumentation: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        resources: [Resource], includeSynonyms: Bool = false, includeDocumentation: Bool = false,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.resources = resources
        self.includeSynonyms = includeSynonyms
        self.includeDocumentation = includeDocumentation
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = DescribeConfigsRequest(resources: [])
        request.resources = try buffer.readStructures(version: version, flexible: flexible, field: "Resources")
        request.includeSynonyms = try buffer.readKafkaBool()  // v1+, our range's start
        if version >= 3 { request.includeDocumentation = try buffer.readKafkaBool() }
        if flexible { request.unknownTaggedFields = try buffer.readTaggedFields() }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        try buffer.writeStructures(resources, version: version, flexible: flexible)
        buffer.writeKafkaBool(includeSynonyms)
        if version >= 3 { buffer.writeKafkaBool(includeDocumentation) }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
    }
}

public struct DescribeConfigsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.describeConfigs

    public struct Synonym: Equatable, Sendable, WireStructure {
        public var name: String
        public var value: String?
        public var source: Int8

        public init(name: String, value: String?, source: Int8) {
            self.name = name
            self.value = value
            self.source = source
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaNullableString(flexible: flexible)
            source = try buffer.readKafkaInt8()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.writeInteger(source)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Config: Equatable, Sendable, WireStructure {
        public var name: String
        public var value: String?
        public var readOnly: Bool
        /// Kafka's ConfigSource code; -1 unknown, 5 DEFAULT_CONFIG, 1 DYNAMIC_TOPIC_CONFIG.
        public var configSource: Int8
        public var isSensitive: Bool
        public var synonyms: [Synonym]
        /// v3+: Kafka's ConfigType code (0 unknown, 2 STRING, 3 INT, 5 LONG ...).
        public var configType: Int8
        /// v3+.
        public var documentation: String?

        public init(
            name: String, value: String?, readOnly: Bool = false, configSource: Int8 = -1,
            isSensitive: Bool = false, synonyms: [Synonym] = [], configType: Int8 = 0, documentation: String? = nil
        ) {
            self.name = name
            self.value = value
            self.readOnly = readOnly
            self.configSource = configSource
            self.isSensitive = isSensitive
            self.synonyms = synonyms
            self.configType = configType
            self.documentation = documentation
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            value = try buffer.readKafkaNullableString(flexible: flexible)
            readOnly = try buffer.readKafkaBool()
            configSource = try buffer.readKafkaInt8()
            isSensitive = try buffer.readKafkaBool()
            synonyms = try buffer.readStructures(version: version, flexible: flexible, field: "Synonyms")
            if version >= 3 {
                configType = try buffer.readKafkaInt8()
                documentation = try buffer.readKafkaNullableString(flexible: flexible)
            } else {
                configType = 0
                documentation = nil
            }
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            try buffer.writeKafkaNullableString(value, flexible: flexible)
            buffer.writeKafkaBool(readOnly)
            buffer.writeInteger(configSource)
            buffer.writeKafkaBool(isSensitive)
            try buffer.writeStructures(synonyms, version: version, flexible: flexible)
            if version >= 3 {
                buffer.writeInteger(configType)
                try buffer.writeKafkaNullableString(documentation, flexible: flexible)
            }
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Result: Equatable, Sendable, WireStructure {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var resourceType: Int8
        public var resourceName: String
        public var configs: [Config]

        public init(
            errorCode: ErrorCode = .noError, errorMessage: String? = nil, resourceType: Int8, resourceName: String,
            configs: [Config]
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            errorCode = try buffer.readErrorCode()
            errorMessage = try buffer.readKafkaNullableString(flexible: flexible)
            resourceType = try buffer.readKafkaInt8()
            resourceName = try buffer.readKafkaString(flexible: flexible)
            configs = try buffer.readStructures(version: version, flexible: flexible, field: "Configs")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeErrorCode(errorCode)
            try buffer.writeKafkaNullableString(errorMessage, flexible: flexible)
            buffer.writeInteger(resourceType)
            try buffer.writeKafkaString(resourceName, flexible: flexible)
            try buffer.writeStructures(configs, version: version, flexible: flexible)
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
        var response = DescribeConfigsResponse()
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
