import NIOCore

/// Fetch (key 1), versions 4–12. v13+ name topics by ID only, which Skein does not track yet.
public struct FetchRequest: KafkaRequestMessage {
    public typealias Response = FetchResponse
    public static let apiKey = ApiKey.fetch

    public struct Partition: Equatable, Sendable, WireStructure {
        public var partition: Int32
        /// v9+.
        public var currentLeaderEpoch: Int32
        public var fetchOffset: Int64
        /// v12+.
        public var lastFetchedEpoch: Int32
        /// v5+; only followers set it.
        public var logStartOffset: Int64
        public var partitionMaxBytes: Int32

        public init(
            partition: Int32, currentLeaderEpoch: Int32 = -1, fetchOffset: Int64, lastFetchedEpoch: Int32 = -1,
            logStartOffset: Int64 = -1, partitionMaxBytes: Int32
        ) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.fetchOffset = fetchOffset
            self.lastFetchedEpoch = lastFetchedEpoch
            self.logStartOffset = logStartOffset
            self.partitionMaxBytes = partitionMaxBytes
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            partition = try buffer.readKafkaInt32()
            currentLeaderEpoch = version >= 9 ? try buffer.readKafkaInt32() : -1
            fetchOffset = try buffer.readKafkaInt64()
            lastFetchedEpoch = version >= 12 ? try buffer.readKafkaInt32() : -1
            logStartOffset = version >= 5 ? try buffer.readKafkaInt64() : -1
            partitionMaxBytes = try buffer.readKafkaInt32()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(partition)
            if version >= 9 { buffer.writeInteger(currentLeaderEpoch) }
            buffer.writeInteger(fetchOffset)
            if version >= 12 { buffer.writeInteger(lastFetchedEpoch) }
            if version >= 5 { buffer.writeInteger(logStartOffset) }
            buffer.writeInteger(partitionMaxBytes)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    public struct Topic: Equatable, Sendable, WireStructure {
        public var topic: String
        public var partitions: [Partition]

        public init(topic: String, partitions: [Partition]) {
            self.topic = topic
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            topic = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readStructures(version: version, flexible: flexible, field: "Partitions")
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(topic, flexible: flexible)
            try buffer.writeStructures(partitions, version: version, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// v7+: partitions an incremental fetch session should stop tracking.
    public struct ForgottenTopic: Equatable, Sendable, WireStructure {
        public var topic: String
        public var partitions: [Int32]

        public init(topic: String, partitions: [Int32]) {
            self.topic = topic
            self.partitions = partitions
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            topic = try buffer.readKafkaString(flexible: flexible)
            partitions = try buffer.readKafkaInt32Array(flexible: flexible)
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            try buffer.writeKafkaString(topic, flexible: flexible)
            try buffer.writeKafkaInt32Array(partitions, flexible: flexible)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// Tagged (v12+, tag 0).
    public var clusterId: String?
    /// -1 for consumers.
    public var replicaId: Int32
    public var maxWaitMs: Int32
    public var minBytes: Int32
    public var maxBytes: Int32
    /// 0 read_uncommitted, 1 read_committed.
    public var isolationLevel: Int8
    /// v7+. librdkafka sends 0 and -1 (no session), which the broker answers with session 0.
    public var sessionId: Int32
    public var sessionEpoch: Int32
    public var topics: [Topic]
    /// v7+.
    public var forgottenTopicsData: [ForgottenTopic]
    /// v11+.
    public var rackId: String
    public var unknownTaggedFields: [TaggedField]

    public init(
        clusterId: String? = nil, replicaId: Int32 = -1, maxWaitMs: Int32, minBytes: Int32,
        maxBytes: Int32 = Int32.max, isolationLevel: Int8 = 0, sessionId: Int32 = 0, sessionEpoch: Int32 = -1,
        topics: [Topic], forgottenTopicsData: [ForgottenTopic] = [], rackId: String = "",
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.clusterId = clusterId
        self.replicaId = replicaId
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.sessionId = sessionId
        self.sessionEpoch = sessionEpoch
        self.topics = topics
        self.forgottenTopicsData = forgottenTopicsData
        self.rackId = rackId
        self.unknownTaggedFields = unknownTaggedFields
    }

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var request = FetchRequest(maxWaitMs: 0, minBytes: 0, topics: [])
        request.replicaId = try buffer.readKafkaInt32()
        request.maxWaitMs = try buffer.readKafkaInt32()
        request.minBytes = try buffer.readKafkaInt32()
        request.maxBytes = try buffer.readKafkaInt32()  // v3+, and our range starts at 4
        request.isolationLevel = try buffer.readKafkaInt8()
        if version >= 7 {
            request.sessionId = try buffer.readKafkaInt32()
            request.sessionEpoch = try buffer.readKafkaInt32()
        }
        request.topics = try buffer.readStructures(version: version, flexible: flexible, field: "Topics")
        if version >= 7 {
            request.forgottenTopicsData = try buffer.readStructures(
                version: version, flexible: flexible, field: "ForgottenTopicsData")
        }
        if version >= 11 { request.rackId = try buffer.readKafkaString(flexible: flexible) }
        if flexible {
            request.unknownTaggedFields = try buffer.readTaggedFields {
                (tag: UInt32, field: inout ByteBuffer) throws(ProtocolError) -> Bool in
                guard tag == 0 else { return false }
                request.clusterId = try field.readCompactNullableString()
                return true
            }
        }
        return request
    }

    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        buffer.writeInteger(replicaId)
        buffer.writeInteger(maxWaitMs)
        buffer.writeInteger(minBytes)
        buffer.writeInteger(maxBytes)
        buffer.writeInteger(isolationLevel)
        if version >= 7 {
            buffer.writeInteger(sessionId)
            buffer.writeInteger(sessionEpoch)
        }
        try buffer.writeStructures(topics, version: version, flexible: flexible)
        if version >= 7 { try buffer.writeStructures(forgottenTopicsData, version: version, flexible: flexible) }
        if version >= 11 { try buffer.writeKafkaString(rackId, flexible: flexible) }
        if flexible {
            var tagged = TaggedFieldWriter(preserving: unknownTaggedFields)
            if let clusterId {
                try tagged.add(tag: 0) { (field: inout ByteBuffer) throws(ProtocolError) in
                    try field.writeKafkaNullableString(clusterId, flexible: true)
                }
            }
            tagged.write(into: &buffer)
        }
    }
}

/// The Fetch response, designed so record bytes never have to pass through user space.
///
/// A partition's records are the last regular field of its structure: everything before them,
/// including their length prefix, is small metadata, and the records themselves are stored log
/// bytes the broker wants to `sendfile` from segment files. So a partition's `records` can be
/// `.external(byteCount:)`: the codec writes the length prefix for that many bytes and leaves a
/// gap. `encodeSegments(version:)` (or `ResponseFrame.encodeFetch`, which adds the size prefix
/// and header) returns the response as alternating `.bytes` chunks and `.records` gaps, in wire
/// order; the broker writes each `.bytes` as a buffer and fills each `.records` gap with exactly
/// `byteCount` bytes of file regions (one partition may span several segment files). Sizes must
/// be final before encoding, because they are in the frame's size prefix. In flexible versions a
/// partition's tagged fields come after its records, so a gap can be followed by more bytes of the
/// same partition; the segment list handles that with no special case.
public struct FetchResponse: KafkaResponseMessage {
    public static let apiKey = ApiKey.fetch

    public enum Records: Equatable, Sendable {
        case null
        /// Bytes to write inline, and what decoding gives (a slice of the response buffer).
        case bytes(ByteBuffer)
        /// `byteCount` bytes the caller will send itself, right after the length prefix.
        case external(byteCount: Int)

        public var byteCount: Int {
            switch self {
            case .null: 0
            case .bytes(let buffer): buffer.readableBytes
            case .external(let byteCount): byteCount
            }
        }
    }

    /// One piece of an encoded response; see the type's documentation.
    public enum Segment: Equatable, Sendable {
        case bytes(ByteBuffer)
        /// Send `byteCount` record bytes of `topics[topicIndex].partitions[partitionIndex]` here.
        case records(topicIndex: Int, partitionIndex: Int, byteCount: Int)
    }

    public struct AbortedTransaction: Equatable, Sendable, WireStructure {
        public var producerId: Int64
        public var firstOffset: Int64

        public init(producerId: Int64, firstOffset: Int64) {
            self.producerId = producerId
            self.firstOffset = firstOffset
        }

        init(from buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            producerId = try buffer.readKafkaInt64()
            firstOffset = try buffer.readKafkaInt64()
            try buffer.finishStructure(flexible: flexible)
        }

        func encode(into buffer: inout ByteBuffer, version: Int16, flexible: Bool) throws(ProtocolError) {
            buffer.writeInteger(producerId)
            buffer.writeInteger(firstOffset)
            buffer.finishWritingStructure(flexible: flexible)
        }
    }

    /// Tagged (v12+, tag 0): where a follower's log diverges from the leader's.
    public struct EpochEndOffset: Equatable, Sendable {
        public var epoch: Int32
        public var endOffset: Int64
        public init(epoch: Int32, endOffset: Int64) {
            self.epoch = epoch
            self.endOffset = endOffset
        }
    }

    /// Tagged (v12+, tag 1).
    public struct LeaderIdAndEpoch: Equatable, Sendable {
        public var leaderId: Int32
        public var leaderEpoch: Int32
        public init(leaderId: Int32, leaderEpoch: Int32) {
            self.leaderId = leaderId
            self.leaderEpoch = leaderEpoch
        }
    }

    /// Tagged (v12+, tag 2).
    public struct SnapshotId: Equatable, Sendable {
        public var endOffset: Int64
        public var epoch: Int32
        public init(endOffset: Int64, epoch: Int32) {
            self.endOffset = endOffset
            self.epoch = epoch
        }
    }

    public struct Partition: Equatable, Sendable {
        public var partitionIndex: Int32
        public var errorCode: ErrorCode
        public var highWatermark: Int64
        /// Equal to the high watermark while Skein has no transactions (read_committed consumers
        /// read up to it).
        public var lastStableOffset: Int64
        /// v5+.
        public var logStartOffset: Int64
        public var divergingEpoch: EpochEndOffset?
        public var currentLeader: LeaderIdAndEpoch?
        public var snapshotId: SnapshotId?
        /// Nullable; send an empty list (not null) so read_committed clients are content.
        public var abortedTransactions: [AbortedTransaction]?
        /// v11+.
        public var preferredReadReplica: Int32
        public var records: Records

        public init(
            partitionIndex: Int32, errorCode: ErrorCode = .noError, highWatermark: Int64,
            lastStableOffset: Int64 = -1, logStartOffset: Int64 = -1, divergingEpoch: EpochEndOffset? = nil,
            currentLeader: LeaderIdAndEpoch? = nil, snapshotId: SnapshotId? = nil,
            abortedTransactions: [AbortedTransaction]? = [], preferredReadReplica: Int32 = -1,
            records: Records = .null
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.highWatermark = highWatermark
            self.lastStableOffset = lastStableOffset
            self.logStartOffset = logStartOffset
            self.divergingEpoch = divergingEpoch
            self.currentLeader = currentLeader
            self.snapshotId = snapshotId
            self.abortedTransactions = abortedTransactions
            self.preferredReadReplica = preferredReadReplica
            self.records = records
        }
    }

    public struct Topic: Equatable, Sendable {
        public var topic: String
        public var partitions: [Partition]

        public init(topic: String, partitions: [Partition]) {
            self.topic = topic
            self.partitions = partitions
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32
    /// v7+: session-level errors (FETCH_SESSION_ID_NOT_FOUND and such).
    public var errorCode: ErrorCode
    /// v7+.
    public var sessionId: Int32
    public var topics: [Topic]
    public var unknownTaggedFields: [TaggedField]

    public init(
        throttleTimeMs: Int32 = 0, errorCode: ErrorCode = .noError, sessionId: Int32 = 0, topics: [Topic] = [],
        unknownTaggedFields: [TaggedField] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.sessionId = sessionId
        self.topics = topics
        self.unknownTaggedFields = unknownTaggedFields
    }

    // MARK: Decoding

    public static func decode(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> Self {
        try apiKey.checkSupported(version)
        let flexible = apiKey.isFlexible(version)
        var response = FetchResponse()
        response.throttleTimeMs = try buffer.readKafkaInt32()
        if version >= 7 {
            response.errorCode = try buffer.readErrorCode()
            response.sessionId = try buffer.readKafkaInt32()
        }
        response.topics = try buffer.readKafkaArray(flexible: flexible, field: "Responses") {
            (buffer: inout ByteBuffer) throws(ProtocolError) in
            let name = try buffer.readKafkaString(flexible: flexible)
            let partitions = try buffer.readKafkaArray(flexible: flexible, field: "Partitions") {
                (buffer: inout ByteBuffer) throws(ProtocolError) in
                try decodePartition(from: &buffer, version: version, flexible: flexible)
            }
            try buffer.finishStructure(flexible: flexible)
            return Topic(topic: name, partitions: partitions)
        }
        if flexible { response.unknownTaggedFields = try buffer.readTaggedFields() }
        return response
    }

    private static func decodePartition(from buffer: inout ByteBuffer, version: Int16, flexible: Bool)
        throws(ProtocolError) -> Partition
    {
        var partition = Partition(partitionIndex: try buffer.readKafkaInt32(), highWatermark: 0)
        partition.errorCode = try buffer.readErrorCode()
        partition.highWatermark = try buffer.readKafkaInt64()
        partition.lastStableOffset = try buffer.readKafkaInt64()
        if version >= 5 { partition.logStartOffset = try buffer.readKafkaInt64() }
        partition.abortedTransactions = try buffer.readNullableStructures(version: version, flexible: flexible)
        if version >= 11 { partition.preferredReadReplica = try buffer.readKafkaInt32() }
        if let records = try buffer.readKafkaNullableBytes(flexible: flexible) {
            partition.records = .bytes(records)
        }
        if flexible {
            _ = try buffer.readTaggedFields { (tag: UInt32, field: inout ByteBuffer) throws(ProtocolError) -> Bool in
                switch tag {
                case 0:
                    let epoch = try field.readKafkaInt32()
                    let endOffset = try field.readKafkaInt64()
                    try field.skipTaggedFields()
                    partition.divergingEpoch = EpochEndOffset(epoch: epoch, endOffset: endOffset)
                case 1:
                    let leaderId = try field.readKafkaInt32()
                    let leaderEpoch = try field.readKafkaInt32()
                    try field.skipTaggedFields()
                    partition.currentLeader = LeaderIdAndEpoch(leaderId: leaderId, leaderEpoch: leaderEpoch)
                case 2:
                    let endOffset = try field.readKafkaInt64()
                    let epoch = try field.readKafkaInt32()
                    try field.skipTaggedFields()
                    partition.snapshotId = SnapshotId(endOffset: endOffset, epoch: epoch)
                default:
                    return false
                }
                return true
            }
        }
        return partition
    }

    // MARK: Encoding

    /// Encodes into one buffer. Throws `externalRecordsNeedSegmentedEncoding` if any partition's
    /// records are `.external`: a single buffer cannot hold a gap.
    public func encode(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        let gaps = try writeBody(into: &buffer, version: version)
        guard gaps.isEmpty else { throw ProtocolError.externalRecordsNeedSegmentedEncoding }
    }

    /// Encodes the body as buffer chunks and record gaps, in wire order. The `.bytes` segments
    /// are slices of one buffer.
    public func encodeSegments(version: Int16) throws(ProtocolError) -> [Segment] {
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        let gaps = try writeBody(into: &buffer, version: version)
        return Self.segments(of: buffer, gaps: gaps)
    }

    /// The total number of record bytes the caller will send in gaps.
    public var externalRecordByteCount: Int {
        topics.reduce(0) { total, topic in
            topic.partitions.reduce(total) { sum, partition in
                if case .external(let count) = partition.records { return sum + count }
                return sum
            }
        }
    }

    /// Where an `.external` partition's bytes go: `writerOffset` is the buffer position right after
    /// its length prefix.
    struct RecordGap {
        var writerOffset: Int
        var topicIndex: Int
        var partitionIndex: Int
        var byteCount: Int
    }

    /// Splits `buffer`'s readable bytes at each gap.
    static func segments(of buffer: ByteBuffer, gaps: [RecordGap]) -> [Segment] {
        var segments: [Segment] = []
        var chunkStart = buffer.readerIndex
        for gap in gaps {
            if gap.writerOffset > chunkStart {
                segments.append(.bytes(buffer.getSlice(at: chunkStart, length: gap.writerOffset - chunkStart)!))
            }
            segments.append(
                .records(topicIndex: gap.topicIndex, partitionIndex: gap.partitionIndex, byteCount: gap.byteCount))
            chunkStart = gap.writerOffset
        }
        if buffer.writerIndex > chunkStart {
            segments.append(.bytes(buffer.getSlice(at: chunkStart, length: buffer.writerIndex - chunkStart)!))
        }
        return segments
    }

    func writeBody(into buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) -> [RecordGap] {
        try Self.apiKey.checkSupported(version)
        let flexible = Self.apiKey.isFlexible(version)
        var gaps: [RecordGap] = []
        buffer.writeInteger(throttleTimeMs)
        if version >= 7 {
            buffer.writeErrorCode(errorCode)
            buffer.writeInteger(sessionId)
        }
        try buffer.writeKafkaArray(topics.indices, flexible: flexible) {
            (buffer: inout ByteBuffer, topicIndex: Int) throws(ProtocolError) in
            let topic = topics[topicIndex]
            try buffer.writeKafkaString(topic.topic, flexible: flexible)
            try buffer.writeKafkaArray(topic.partitions.indices, flexible: flexible) {
                (buffer: inout ByteBuffer, partitionIndex: Int) throws(ProtocolError) in
                let partition = topic.partitions[partitionIndex]
                if let byteCount = try Self.writePartition(
                    partition, into: &buffer, version: version, flexible: flexible)
                {
                    gaps.append(
                        RecordGap(
                            writerOffset: buffer.writerIndex, topicIndex: topicIndex,
                            partitionIndex: partitionIndex, byteCount: byteCount))
                }
                try Self.writePartitionTaggedFields(partition, into: &buffer, flexible: flexible)
            }
            buffer.finishWritingStructure(flexible: flexible)
        }
        if flexible { buffer.writeTaggedFields(unknownTaggedFields) }
        return gaps
    }

    /// Writes a partition up to and including its records (or their length prefix alone, in
    /// which case it returns the number of bytes the caller owes right here).
    private static func writePartition(
        _ partition: Partition, into buffer: inout ByteBuffer, version: Int16, flexible: Bool
    ) throws(ProtocolError) -> Int? {
        buffer.writeInteger(partition.partitionIndex)
        buffer.writeErrorCode(partition.errorCode)
        buffer.writeInteger(partition.highWatermark)
        buffer.writeInteger(partition.lastStableOffset)
        if version >= 5 { buffer.writeInteger(partition.logStartOffset) }
        try buffer.writeNullableStructures(partition.abortedTransactions, version: version, flexible: flexible)
        if version >= 11 { buffer.writeInteger(partition.preferredReadReplica) }
        switch partition.records {
        case .null:
            buffer.writeNullLength(flexible: flexible)
            return nil
        case .bytes(let bytes):
            try buffer.writeKafkaBytes(bytes, flexible: flexible)
            return nil
        case .external(let byteCount):
            guard byteCount >= 0 else {
                throw ProtocolError.unrepresentable(field: "Records", reason: "negative byte count \(byteCount)")
            }
            try buffer.writeKafkaBytesLength(byteCount, flexible: flexible)
            return byteCount
        }
    }

    private static func writePartitionTaggedFields(
        _ partition: Partition, into buffer: inout ByteBuffer, flexible: Bool
    ) throws(ProtocolError) {
        guard flexible else { return }
        var tagged = TaggedFieldWriter()
        if let diverging = partition.divergingEpoch {
            try tagged.add(tag: 0) { (field: inout ByteBuffer) throws(ProtocolError) in
                field.writeInteger(diverging.epoch)
                field.writeInteger(diverging.endOffset)
                field.writeEmptyTaggedFields()
            }
        }
        if let leader = partition.currentLeader {
            try tagged.add(tag: 1) { (field: inout ByteBuffer) throws(ProtocolError) in
                field.writeInteger(leader.leaderId)
                field.writeInteger(leader.leaderEpoch)
                field.writeEmptyTaggedFields()
            }
        }
        if let snapshot = partition.snapshotId {
            try tagged.add(tag: 2) { (field: inout ByteBuffer) throws(ProtocolError) in
                field.writeInteger(snapshot.endOffset)
                field.writeInteger(snapshot.epoch)
                field.writeEmptyTaggedFields()
            }
        }
        tagged.write(into: &buffer)
    }
}
