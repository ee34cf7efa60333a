import NIOCore

/// A decoded request body of any implemented API, for dispatch in the broker's router.
public enum KafkaRequest: Equatable, Sendable {
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case listOffsets(ListOffsetsRequest)
    case metadata(MetadataRequest)
    case offsetCommit(OffsetCommitRequest)
    case offsetFetch(OffsetFetchRequest)
    case findCoordinator(FindCoordinatorRequest)
    case joinGroup(JoinGroupRequest)
    case heartbeat(HeartbeatRequest)
    case leaveGroup(LeaveGroupRequest)
    case syncGroup(SyncGroupRequest)
    case describeGroups(DescribeGroupsRequest)
    case listGroups(ListGroupsRequest)
    case apiVersions(ApiVersionsRequest)
    case createTopics(CreateTopicsRequest)
    case deleteTopics(DeleteTopicsRequest)
    case initProducerId(InitProducerIdRequest)
    case offsetForLeaderEpoch(OffsetForLeaderEpochRequest)
    case describeConfigs(DescribeConfigsRequest)
    case alterConfigs(AlterConfigsRequest)
    case deleteGroups(DeleteGroupsRequest)
    case incrementalAlterConfigs(IncrementalAlterConfigsRequest)
    case offsetDelete(OffsetDeleteRequest)
    case addPartitionsToTxn(AddPartitionsToTxnRequest)
    case addOffsetsToTxn(AddOffsetsToTxnRequest)
    case endTxn(EndTxnRequest)
    case txnOffsetCommit(TxnOffsetCommitRequest)
    case describeTransactions(DescribeTransactionsRequest)
    case listTransactions(ListTransactionsRequest)
    case deleteRecords(DeleteRecordsRequest)
    case describeLogDirs(DescribeLogDirsRequest)
    case createPartitions(CreatePartitionsRequest)
    case describeCluster(DescribeClusterRequest)
    case describeProducers(DescribeProducersRequest)
    case describeAcls(DescribeAclsRequest)
    case createAcls(CreateAclsRequest)
    case deleteAcls(DeleteAclsRequest)
    case saslHandshake(SaslHandshakeRequest)
    case saslAuthenticate(SaslAuthenticateRequest)
    case describeUserScramCredentials(DescribeUserScramCredentialsRequest)
    case alterUserScramCredentials(AlterUserScramCredentialsRequest)
    case describeClientQuotas(DescribeClientQuotasRequest)
    case alterClientQuotas(AlterClientQuotasRequest)

    public var apiKey: ApiKey { message.apiKeyOfType }

    /// The wrapped message, type-erased.
    public var message: any KafkaRequestMessage {
        switch self {
        case .produce(let m): m
        case .fetch(let m): m
        case .listOffsets(let m): m
        case .metadata(let m): m
        case .offsetCommit(let m): m
        case .offsetFetch(let m): m
        case .findCoordinator(let m): m
        case .joinGroup(let m): m
        case .heartbeat(let m): m
        case .leaveGroup(let m): m
        case .syncGroup(let m): m
        case .describeGroups(let m): m
        case .listGroups(let m): m
        case .apiVersions(let m): m
        case .createTopics(let m): m
        case .deleteTopics(let m): m
        case .initProducerId(let m): m
        case .offsetForLeaderEpoch(let m): m
        case .describeConfigs(let m): m
        case .alterConfigs(let m): m
        case .deleteGroups(let m): m
        case .incrementalAlterConfigs(let m): m
        case .offsetDelete(let m): m
        case .addPartitionsToTxn(let m): m
        case .addOffsetsToTxn(let m): m
        case .endTxn(let m): m
        case .txnOffsetCommit(let m): m
        case .describeTransactions(let m): m
        case .listTransactions(let m): m
        case .deleteRecords(let m): m
        case .describeLogDirs(let m): m
        case .createPartitions(let m): m
        case .describeCluster(let m): m
        case .describeProducers(let m): m
        case .describeAcls(let m): m
        case .createAcls(let m): m
        case .deleteAcls(let m): m
        case .saslHandshake(let m): m
        case .saslAuthenticate(let m): m
        case .describeUserScramCredentials(let m): m
        case .alterUserScramCredentials(let m): m
        case .describeClientQuotas(let m): m
        case .alterClientQuotas(let m): m
        }
    }

    public static func decode(apiKey: ApiKey, version: Int16, from buffer: inout ByteBuffer) throws(ProtocolError)
        -> KafkaRequest
    {
        switch apiKey {
        case .produce: .produce(try .decode(from: &buffer, version: version))
        case .fetch: .fetch(try .decode(from: &buffer, version: version))
        case .listOffsets: .listOffsets(try .decode(from: &buffer, version: version))
        case .metadata: .metadata(try .decode(from: &buffer, version: version))
        case .offsetCommit: .offsetCommit(try .decode(from: &buffer, version: version))
        case .offsetFetch: .offsetFetch(try .decode(from: &buffer, version: version))
        case .findCoordinator: .findCoordinator(try .decode(from: &buffer, version: version))
        case .joinGroup: .joinGroup(try .decode(from: &buffer, version: version))
        case .heartbeat: .heartbeat(try .decode(from: &buffer, version: version))
        case .leaveGroup: .leaveGroup(try .decode(from: &buffer, version: version))
        case .syncGroup: .syncGroup(try .decode(from: &buffer, version: version))
        case .describeGroups: .describeGroups(try .decode(from: &buffer, version: version))
        case .listGroups: .listGroups(try .decode(from: &buffer, version: version))
        case .apiVersions: .apiVersions(try .decode(from: &buffer, version: version))
        case .createTopics: .createTopics(try .decode(from: &buffer, version: version))
        case .deleteTopics: .deleteTopics(try .decode(from: &buffer, version: version))
        case .initProducerId: .initProducerId(try .decode(from: &buffer, version: version))
        case .offsetForLeaderEpoch: .offsetForLeaderEpoch(try .decode(from: &buffer, version: version))
        case .describeConfigs: .describeConfigs(try .decode(from: &buffer, version: version))
        case .alterConfigs: .alterConfigs(try .decode(from: &buffer, version: version))
        case .deleteGroups: .deleteGroups(try .decode(from: &buffer, version: version))
        case .incrementalAlterConfigs: .incrementalAlterConfigs(try .decode(from: &buffer, version: version))
        case .offsetDelete: .offsetDelete(try .decode(from: &buffer, version: version))
        case .addPartitionsToTxn: .addPartitionsToTxn(try .decode(from: &buffer, version: version))
        case .addOffsetsToTxn: .addOffsetsToTxn(try .decode(from: &buffer, version: version))
        case .endTxn: .endTxn(try .decode(from: &buffer, version: version))
        case .txnOffsetCommit: .txnOffsetCommit(try .decode(from: &buffer, version: version))
        case .describeTransactions: .describeTransactions(try .decode(from: &buffer, version: version))
        case .listTransactions: .listTransactions(try .decode(from: &buffer, version: version))
        case .deleteRecords: .deleteRecords(try .decode(from: &buffer, version: version))
        case .describeLogDirs: .describeLogDirs(try .decode(from: &buffer, version: version))
        case .createPartitions: .createPartitions(try .decode(from: &buffer, version: version))
        case .describeCluster: .describeCluster(try .decode(from: &buffer, version: version))
        case .describeProducers: .describeProducers(try .decode(from: &buffer, version: version))
        case .describeAcls: .describeAcls(try .decode(from: &buffer, version: version))
        case .createAcls: .createAcls(try .decode(from: &buffer, version: version))
        case .deleteAcls: .deleteAcls(try .decode(from: &buffer, version: version))
        case .saslHandshake: .saslHandshake(try .decode(from: &buffer, version: version))
        case .saslAuthenticate: .saslAuthenticate(try .decode(from: &buffer, version: version))
        case .describeUserScramCredentials: .describeUserScramCredentials(try .decode(from: &buffer, version: version))
        case .alterUserScramCredentials: .alterUserScramCredentials(try .decode(from: &buffer, version: version))
        case .describeClientQuotas: .describeClientQuotas(try .decode(from: &buffer, version: version))
        case .alterClientQuotas: .alterClientQuotas(try .decode(from: &buffer, version: version))
        }
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try message.encode(into: &buffer, version: version)
    }
}

/// A decoded response body of any implemented API, for the client side.
public enum KafkaResponse: Equatable, Sendable {
    case produce(ProduceResponse)
    case fetch(FetchResponse)
    case listOffsets(ListOffsetsResponse)
    case metadata(MetadataResponse)
    case offsetCommit(OffsetCommitResponse)
    case offsetFetch(OffsetFetchResponse)
    case findCoordinator(FindCoordinatorResponse)
    case joinGroup(JoinGroupResponse)
    case heartbeat(HeartbeatResponse)
    case leaveGroup(LeaveGroupResponse)
    case syncGroup(SyncGroupResponse)
    case describeGroups(DescribeGroupsResponse)
    case listGroups(ListGroupsResponse)
    case apiVersions(ApiVersionsResponse)
    case createTopics(CreateTopicsResponse)
    case deleteTopics(DeleteTopicsResponse)
    case initProducerId(InitProducerIdResponse)
    case offsetForLeaderEpoch(OffsetForLeaderEpochResponse)
    case describeConfigs(DescribeConfigsResponse)
    case alterConfigs(AlterConfigsResponse)
    case deleteGroups(DeleteGroupsResponse)
    case incrementalAlterConfigs(IncrementalAlterConfigsResponse)
    case offsetDelete(OffsetDeleteResponse)
    case addPartitionsToTxn(AddPartitionsToTxnResponse)
    case addOffsetsToTxn(AddOffsetsToTxnResponse)
    case endTxn(EndTxnResponse)
    case txnOffsetCommit(TxnOffsetCommitResponse)
    case describeTransactions(DescribeTransactionsResponse)
    case listTransactions(ListTransactionsResponse)
    case deleteRecords(DeleteRecordsResponse)
    case describeLogDirs(DescribeLogDirsResponse)
    case createPartitions(CreatePartitionsResponse)
    case describeCluster(DescribeClusterResponse)
    case describeProducers(DescribeProducersResponse)
    case describeAcls(DescribeAclsResponse)
    case createAcls(CreateAclsResponse)
    case deleteAcls(DeleteAclsResponse)
    case saslHandshake(SaslHandshakeResponse)
    case saslAuthenticate(SaslAuthenticateResponse)
    case describeUserScramCredentials(DescribeUserScramCredentialsResponse)
    case alterUserScramCredentials(AlterUserScramCredentialsResponse)
    case describeClientQuotas(DescribeClientQuotasResponse)
    case alterClientQuotas(AlterClientQuotasResponse)

    public var apiKey: ApiKey { message.apiKeyOfType }

    public var message: any KafkaResponseMessage {
        switch self {
        case .produce(let m): m
        case .fetch(let m): m
        case .listOffsets(let m): m
        case .metadata(let m): m
        case .offsetCommit(let m): m
        case .offsetFetch(let m): m
        case .findCoordinator(let m): m
        case .joinGroup(let m): m
        case .heartbeat(let m): m
        case .leaveGroup(let m): m
        case .syncGroup(let m): m
        case .describeGroups(let m): m
        case .listGroups(let m): m
        case .apiVersions(let m): m
        case .createTopics(let m): m
        case .deleteTopics(let m): m
        case .initProducerId(let m): m
        case .offsetForLeaderEpoch(let m): m
        case .describeConfigs(let m): m
        case .alterConfigs(let m): m
        case .deleteGroups(let m): m
        case .incrementalAlterConfigs(let m): m
        case .offsetDelete(let m): m
        case .addPartitionsToTxn(let m): m
        case .addOffsetsToTxn(let m): m
        case .endTxn(let m): m
        case .txnOffsetCommit(let m): m
        case .describeTransactions(let m): m
        case .listTransactions(let m): m
        case .deleteRecords(let m): m
        case .describeLogDirs(let m): m
        case .createPartitions(let m): m
        case .describeCluster(let m): m
        case .describeProducers(let m): m
        case .describeAcls(let m): m
        case .createAcls(let m): m
        case .deleteAcls(let m): m
        case .saslHandshake(let m): m
        case .saslAuthenticate(let m): m
        case .describeUserScramCredentials(let m): m
        case .alterUserScramCredentials(let m): m
        case .describeClientQuotas(let m): m
        case .alterClientQuotas(let m): m
        }
    }

    public static func decode(apiKey: ApiKey, version: Int16, from buffer: inout ByteBuffer) throws(ProtocolError)
        -> KafkaResponse
    {
        switch apiKey {
        case .produce: .produce(try .decode(from: &buffer, version: version))
        case .fetch: .fetch(try .decode(from: &buffer, version: version))
        case .listOffsets: .listOffsets(try .decode(from: &buffer, version: version))
        case .metadata: .metadata(try .decode(from: &buffer, version: version))
        case .offsetCommit: .offsetCommit(try .decode(from: &buffer, version: version))
        case .offsetFetch: .offsetFetch(try .decode(from: &buffer, version: version))
        case .findCoordinator: .findCoordinator(try .decode(from: &buffer, version: version))
        case .joinGroup: .joinGroup(try .decode(from: &buffer, version: version))
        case .heartbeat: .heartbeat(try .decode(from: &buffer, version: version))
        case .leaveGroup: .leaveGroup(try .decode(from: &buffer, version: version))
        case .syncGroup: .syncGroup(try .decode(from: &buffer, version: version))
        case .describeGroups: .describeGroups(try .decode(from: &buffer, version: version))
        case .listGroups: .listGroups(try .decode(from: &buffer, version: version))
        case .apiVersions: .apiVersions(try .decode(from: &buffer, version: version))
        case .createTopics: .createTopics(try .decode(from: &buffer, version: version))
        case .deleteTopics: .deleteTopics(try .decode(from: &buffer, version: version))
        case .initProducerId: .initProducerId(try .decode(from: &buffer, version: version))
        case .offsetForLeaderEpoch: .offsetForLeaderEpoch(try .decode(from: &buffer, version: version))
        case .describeConfigs: .describeConfigs(try .decode(from: &buffer, version: version))
        case .alterConfigs: .alterConfigs(try .decode(from: &buffer, version: version))
        case .deleteGroups: .deleteGroups(try .decode(from: &buffer, version: version))
        case .incrementalAlterConfigs: .incrementalAlterConfigs(try .decode(from: &buffer, version: version))
        case .offsetDelete: .offsetDelete(try .decode(from: &buffer, version: version))
        case .addPartitionsToTxn: .addPartitionsToTxn(try .decode(from: &buffer, version: version))
        case .addOffsetsToTxn: .addOffsetsToTxn(try .decode(from: &buffer, version: version))
        case .endTxn: .endTxn(try .decode(from: &buffer, version: version))
        case .txnOffsetCommit: .txnOffsetCommit(try .decode(from: &buffer, version: version))
        case .describeTransactions: .describeTransactions(try .decode(from: &buffer, version: version))
        case .listTransactions: .listTransactions(try .decode(from: &buffer, version: version))
        case .deleteRecords: .deleteRecords(try .decode(from: &buffer, version: version))
        case .describeLogDirs: .describeLogDirs(try .decode(from: &buffer, version: version))
        case .createPartitions: .createPartitions(try .decode(from: &buffer, version: version))
        case .describeCluster: .describeCluster(try .decode(from: &buffer, version: version))
        case .describeProducers: .describeProducers(try .decode(from: &buffer, version: version))
        case .describeAcls: .describeAcls(try .decode(from: &buffer, version: version))
        case .createAcls: .createAcls(try .decode(from: &buffer, version: version))
        case .deleteAcls: .deleteAcls(try .decode(from: &buffer, version: version))
        case .saslHandshake: .saslHandshake(try .decode(from: &buffer, version: version))
        case .saslAuthenticate: .saslAuthenticate(try .decode(from: &buffer, version: version))
        case .describeUserScramCredentials: .describeUserScramCredentials(try .decode(from: &buffer, version: version))
        case .alterUserScramCredentials: .alterUserScramCredentials(try .decode(from: &buffer, version: version))
        case .describeClientQuotas: .describeClientQuotas(try .decode(from: &buffer, version: version))
        case .alterClientQuotas: .alterClientQuotas(try .decode(from: &buffer, version: version))
        }
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try message.encode(into: &buffer, version: version)
    }
}

extension KafkaMessage {
    /// The static API key, reachable through an existential.
    var apiKeyOfType: ApiKey { Self.apiKey }
}

/// The int32 size prefix every frame starts with.
public enum FrameLength {
    /// Kafka's default `socket.request.max.bytes`.
    public static let defaultMaximum: Int32 = 100 * 1024 * 1024

    /// Takes one whole frame's payload (without its size prefix) off the front of `buffer`, or
    /// returns nil and consumes nothing if the frame is not complete yet. A negative or oversized
    /// length throws before anything is allocated for it.
    public static func readFrame(from buffer: inout ByteBuffer, maximum: Int32 = defaultMaximum)
        throws(ProtocolError) -> ByteBuffer?
    {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard size >= 0, size <= maximum else { throw ProtocolError.invalidFrameSize(size, maximum: maximum) }
        guard buffer.readableBytes >= 4 + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readSlice(length: Int(size))!
    }
}

/// A request as it arrives: header and decoded body.
public struct RequestFrame: Equatable, Sendable {
    public var header: RequestHeader
    public var request: KafkaRequest

    public init(header: RequestHeader, request: KafkaRequest) {
        self.header = header
        self.request = request
    }

    /// Decodes a frame payload (after the size prefix).
    ///
    /// Unknown keys throw `unknownApiKey`, unsupported versions `unsupportedVersion`. A broker that
    /// must still answer those (ApiVersions above our range gets a v0 UNSUPPORTED_VERSION reply)
    /// should call `RequestHeader.decode` first, look at the header, and then
    /// `KafkaRequest.decode`; this function is that sequence for the common path. Trailing bytes
    /// after the body are ignored, as Kafka does: newer clients may append fields we skip.
    public static func decode(payload: ByteBuffer) throws(ProtocolError) -> RequestFrame {
        var buffer = payload
        let header = try RequestHeader.decode(from: &buffer)
        guard let api = header.api else { throw ProtocolError.unknownApiKey(header.apiKey) }
        let request = try KafkaRequest.decode(apiKey: api, version: header.apiVersion, from: &buffer)
        return RequestFrame(header: header, request: request)
    }

    /// Writes a whole request frame (size prefix, header, body), for the client side.
    public static func encode<Request: KafkaRequestMessage>(
        _ request: Request, version: Int16, correlationId: Int32, clientId: String?, into buffer: inout ByteBuffer
    ) throws(ProtocolError) {
        let header = RequestHeader(
            api: Request.apiKey, apiVersion: version, correlationId: correlationId, clientId: clientId)
        try writeSizePrefixed(into: &buffer) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            try header.encode(into: &buffer)
            try request.encode(into: &buffer, version: version)
        }
    }
}

/// Response frames: size prefix, header of the right version, body.
public enum ResponseFrame {
    /// Writes a whole response frame.
    ///
    /// For a rejected ApiVersions request pass `version: 0`: the error reply uses the v0 body
    /// whatever version the client asked for, and ApiVersions headers are always v0 anyway.
    public static func encode<Response: KafkaResponseMessage>(
        _ response: Response, version: Int16, correlationId: Int32, into buffer: inout ByteBuffer
    ) throws(ProtocolError) {
        let headerVersion = Response.apiKey.responseHeaderVersion(version)
        try writeSizePrefixed(into: &buffer) { (buffer: inout ByteBuffer) throws(ProtocolError) in
            ResponseHeader(correlationId: correlationId).encode(into: &buffer, headerVersion: headerVersion)
            try response.encode(into: &buffer, version: version)
        }
    }

    /// Encodes a whole Fetch response frame as buffers and record gaps for zero-copy sending (see
    /// `FetchResponse`). The size prefix counts the gap bytes, so the caller must fill every gap
    /// with exactly its `byteCount` bytes or the connection's framing is lost.
    public static func encodeFetch(_ response: FetchResponse, version: Int16, correlationId: Int32)
        throws(ProtocolError) -> [FetchResponse.Segment]
    {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        buffer.writeInteger(Int32(0))  // patched below, before any slice is taken
        let headerVersion = FetchResponse.apiKey.responseHeaderVersion(version)
        ResponseHeader(correlationId: correlationId).encode(into: &buffer, headerVersion: headerVersion)
        let gaps = try response.writeBody(into: &buffer, version: version)
        let total = buffer.readableBytes - 4 + gaps.reduce(0) { $0 + $1.byteCount }
        guard total <= Int(Int32.max) else {
            throw ProtocolError.unrepresentable(field: "frame size", reason: "\(total) bytes")
        }
        buffer.setInteger(Int32(total), at: buffer.readerIndex)
        return FetchResponse.segments(of: buffer, gaps: gaps)
    }

    /// Reads a response frame payload's header; the caller knows the API and version from the
    /// request it sent under that correlation ID.
    public static func decode(payload: ByteBuffer, apiKey: ApiKey, version: Int16) throws(ProtocolError)
        -> (header: ResponseHeader, response: KafkaResponse)
    {
        var buffer = payload
        let header = try ResponseHeader.decode(from: &buffer, headerVersion: apiKey.responseHeaderVersion(version))
        return (header, try KafkaResponse.decode(apiKey: apiKey, version: version, from: &buffer))
    }
}

/// Writes an int32 size prefix followed by what `body` writes, patching the size afterwards.
func writeSizePrefixed(
    into buffer: inout ByteBuffer, _ body: (inout ByteBuffer) throws(ProtocolError) -> Void
) throws(ProtocolError) {
    let sizeIndex = buffer.writerIndex
    buffer.writeInteger(Int32(0))
    try body(&buffer)
    let size = buffer.writerIndex - sizeIndex - 4
    guard size <= Int(Int32.max) else {
        throw ProtocolError.unrepresentable(field: "frame size", reason: "\(size) bytes")
    }
    buffer.setInteger(Int32(size), at: sizeIndex)
}
