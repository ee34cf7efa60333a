import NIOCore

/// ApiVersions (key 18): the first request on a connection, asking which versions we speak.
public struct ApiVersionsRequest: KafkaRequestMessage {
    public typealias Response = ApiVersionsResponse
    public static let apiKey = ApiKey.apiVersions

    /// v3+: the client library's name and version, for the broker's metrics and logs.
    public var clientSoftwareName: String
    public var clientSoftwareVersion: String
    public var unknownTaggedFields: [TaggedField]

    public init(
        clientSoftwareName: String = "", clientSoftwareVersion: String = "",
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        var request = ApiVersionsRequest()
        if version >= 3 {
            request.clientSoftwareName = try buffer.readCompactString()
            request.clientSoftwareVersion = try buffer.readCompactString()
            request.unknownTaggedFields = try buffer.readTaggedFields()
        }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        if version >= 3 {
            try buffer.writeKafkaString(clientSoftwareName, flexible: true)
            try buffer.writeKafkaString(clientSoftwareVersion, flexible: true)
            buffer.writeTaggedFields(unknownTaggedFields)
        }
    }
}

/// The answer to ApiVersions. Always sent with response header v0 (see
/// `ApiKey.responseHeaderVersion`).
public struct ApiVersionsResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.apiVersions

    public struct ApiVersion: Equatable, Sendable, WireStructure {
        public var apiKey: Int16
        public var minVersion: Int16
        public var maxVersion: Int16

        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            apiKey = try buffer.readKafkaInt16()
            minVersion = try buffer.readKafkaInt16()
            maxVersion = try buffer.readKafkaInt16()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(apiKey)
            buffer.writeInteger(minVersion)
            buffer.writeInteger(maxVersion)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// A feature range, for both SupportedFeatures and FinalizedFeatures (KIP-584). Skein has no
    /// features to report; the type exists so a client can read a real Kafka broker's answer.
    public struct FeatureRange: Equatable, Sendable, WireStructure {
        public var name: String
        public var minVersion: Int16
        public var maxVersion: Int16

        public init(name: String, minVersion: Int16, maxVersion: Int16) {
            self.name = name
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            name = try buffer.readKafkaString(flexible: flexible)
            minVersion = try buffer.readKafkaInt16()
            maxVersion = try buffer.readKafkaInt16()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(name, flexible: flexible)
            buffer.writeInteger(minVersion)
            buffer.writeInteger(maxVersion)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public var errorCode: ErrorCode
    public var apiKeys: [ApiVersion]
    /// v1+.
    public var throttleTimeMs: Int32
    /// Tagged (v3+, tag 0).
    public var supportedFeatures: [FeatureRange]
    /// Tagged (v3+, tag 1); -1 means unknown.
    public var finalizedFeaturesEpoch: Int64
    /// Tagged (v3+, tag 2). FinalizedFeatures lists max before min on the wire; this type stores
    /// them by name, so `minVersion`/`maxVersion` mean what they say.
    public var finalizedFeatures: [FeatureRange]
    /// Tagged (v3+, tag 3).
    public var zkMigrationReady: Bool
    public var unknownTaggedFields: [TaggedField]

    public init(
        errorCode: ErrorCode = .noError, apiKeys: [ApiVersion] = [], throttleTimeMs: Int32 = 0,
        supportedFeatures: [FeatureRange] = [], finalizedFeaturesEpoch: Int64 = -1,
        finalizedFeatures: [FeatureRange] = [], zkMigrationReady: Bool = false,
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
        self.supportedFeatures = supportedFeatures
        self.finalizedFeaturesEpoch = finalizedFeaturesEpoch
        self.finalizedFeatures = finalizedFeatures
        self.zkMigrationReady = zkMigrationReady
        self.unknownTaggedFields = unknownTaggedFields
    }

    /// Every API this codec implements with its supported range: what the broker advertises.
    public static var advertisedApiKeys: [ApiVersion] {
        ApiKey.allCases.map {
            ApiVersion(
                apiKey: $0.rawValue, minVersion: $0.supportedVersions.lowerBound,
                maxVersion: $0.supportedVersions.upperBound)
        }
    }

    /// Decodes a response body. When `errorCode` is UNSUPPORTED_VERSION the broker wrote a v0 body
    /// whatever version we asked for (KIP-511), so a client should retry decoding as v0 if the
    /// requested version fails; `decodeAllowingFallback` does that.
    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = ApiVersionsResponse()
        response.errorCode = try buffer.readErrorCode()
        response.apiKeys = try buffer.readStructures(version: version, flexible: flexible, field: "ApiKeys")
        if version >= 1 { response.throttleTimeMs = try buffer.readKafkaInt32() }
        if flexible {
            response.unknownTaggedFields = try buffer.readTaggedFields {
                (tag: UInt32, field: inout ByteBuffer) throws(ProtocolError) -> Bool in
                switch tag {
                case 0:
                    response.supportedFeatures = try field.readStructures(
                        version: version, flexible: true, field: "SupportedFeatures")
                case 1:
                    response.finalizedFeaturesEpoch = try field.readKafkaInt64()
                case 2:
                    response.finalizedFeatures = try field.readKafkaArray(flexible: true) {
                        (element: inout ByteBuffer) throws(ProtocolError) in
                        let name = try element.readCompactString()
                        let maxVersionLevel = try element.readKafkaInt16()
                        let minVersionLevel = try element.readKafkaInt16()
                        try element.skipTaggedFields()
                        return FeatureRange(name: name, minVersion: minVersionLevel, maxVersion: maxVersionLevel)
                    }
                case 3:
                    response.zkMigrationReady = try field.readKafkaBool()
                default:
                    return false
                }
                return true
            }
        }
        return response
    }

    /// Tries `version`, then v0 if the bytes say UNSUPPORTED_VERSION: the shape a broker uses when
    /// it rejects our ApiVersions version.
    public static func decodeAllowingFallback(from buffer: ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        var attempt = buffer
        do {
            return try decode(from: &attempt, version: version)
        } catch {
            var fallback = buffer
            let errorCode = fallback.getInteger(at: fallback.readerIndex, as: Int16.self)
            guard errorCode == ErrorCode.unsupportedVersion.rawValue else { throw error }
            return try decode(from: &fallback, version: 0)
        }
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeErrorCode(errorCode)
        try buffer.writeStructures(apiKeys, version: version, flexible: flexible)
        if version >= 1 { buffer.writeInteger(throttleTimeMs) }
        if flexible {
            var tagged = TaggedFieldWriter(preserving: unknownTaggedFields)
            if !supportedFeatures.isEmpty {
                try tagged.add(tag: 0) { (field: inout ByteBuffer) throws(ProtocolError) in
                    try field.writeStructures(supportedFeatures, version: version, flexible: true)
                }
            }
            if finalizedFeaturesEpoch != -1 {
                try tagged.add(tag: 1) { (field: inout ByteBuffer) throws(ProtocolError) in
                    field.writeInteger(finalizedFeaturesEpoch)
                }
            }
            if !finalizedFeatures.isEmpty {
                try tagged.add(tag: 2) { (field: inout ByteBuffer) throws(ProtocolError) in
                    try field.writeKafkaArray(finalizedFeatures, flexible: true) {
                        (element: inout ByteBuffer, feature: FeatureRange) throws(ProtocolError) in
                        try element.writeKafkaString(feature.name, flexible: true)
                        element.writeInteger(feature.maxVersion)
                        element.writeInteger(feature.minVersion)
                        element.writeEmptyTaggedFields()
                    }
                }
            }
            if zkMigrationReady {
                try tagged.add(tag: 3) { (field: inout ByteBuffer) throws(ProtocolError) in
                    field.writeKafkaBool(true)
                }
            }
            tagged.write(into: &buffer)
        }
    }
}
