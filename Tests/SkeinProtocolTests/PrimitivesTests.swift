import NIOCore
import SkeinProtocol
import Testing

@Suite("Primitive encodings")
struct PrimitivesTests {
    static let unsignedCases: [(UInt32, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt32.max, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: unsignedCases)
    func unsignedVarInt(value: UInt32, expected: [UInt8]) throws {
        var written = ByteBuffer()
        written.writeUnsignedVarInt(value)
        #expect(bytesOf(written) == expected)
        #expect(ByteBuffer.unsignedVarIntSize(UInt64(value)) == expected.count)
        var reader = buffer(expected)
        #expect(try reader.readUnsignedVarInt() == value)
        #expect(reader.readableBytes == 0)
    }

    static let zigzagCases: [(Int32, [UInt8])] = [
        (0, [0x00]),
        (-1, [0x01]),
        (1, [0x02]),
        (-2, [0x03]),
        (63, [0x7E]),
        (-64, [0x7F]),
        (64, [0x80, 0x01]),
        (Int32.max, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int32.min, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    @Test(arguments: zigzagCases)
    func zigzagVarInt(value: Int32, expected: [UInt8]) throws {
        var written = ByteBuffer()
        written.writeVarInt(value)
        #expect(bytesOf(written) == expected)
        #expect(ByteBuffer.varIntSize(Int64(value)) == expected.count)
        var reader = buffer(expected)
        #expect(try reader.readVarInt() == value)
    }

    @Test func zigzagVarLongExtremes() throws {
        let cases: [(Int64, [UInt8])] = [
            (0, [0]),
            (-1, [1]),
            (Int64.max, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            (1_700_000_000_000, [0x80, 0xA0, 0xAB, 0xFE, 0xF9, 0x62]),
        ]
        for (value, expected) in cases {
            var written = ByteBuffer()
            written.writeVarLong(value)
            #expect(bytesOf(written) == expected, "\(value)")
            var reader = buffer(expected)
            #expect(try reader.readVarLong() == value)
        }
    }

    @Test func malformedVarints() {
        // Six bytes is past the five an int32 varint may take.
        var tooLong = buffer([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect(throws: ProtocolError.malformedVarint) { _ = try tooLong.readUnsignedVarInt() }
        // Five bytes whose bits overflow 32.
        var overflow = buffer([0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
        #expect(throws: ProtocolError.malformedVarint) { _ = try overflow.readUnsignedVarInt() }
        var overflowLong = buffer([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02])
        #expect(throws: ProtocolError.malformedVarint) { _ = try overflowLong.readUnsignedVarLong() }
        var eleven = buffer(Array(repeating: 0x80, count: 10) + [0x01])
        #expect(throws: ProtocolError.malformedVarint) { _ = try eleven.readVarLong() }
        var truncated = buffer([0x80, 0x80])
        #expect(throws: ProtocolError.self) { _ = try truncated.readUnsignedVarInt() }
        #expect(truncated.readableBytes == 2, "a failed read consumes nothing")
    }

    @Test func strings() throws {
        var out = ByteBuffer()
        try out.writeKafkaString("hi", flexible: false)
        try out.writeKafkaNullableString(nil, flexible: false)
        try out.writeKafkaString("hi", flexible: true)
        try out.writeKafkaNullableString(nil, flexible: true)
        try out.writeKafkaString("", flexible: true)
        #expect(bytesOf(out) == [0, 2, 0x68, 0x69, 0xFF, 0xFF, 3, 0x68, 0x69, 0, 1])
        #expect(try out.readKafkaString() == "hi")
        #expect(try out.readKafkaNullableString() == nil)
        #expect(try out.readCompactString() == "hi")
        #expect(try out.readCompactNullableString() == nil)
        #expect(try out.readCompactString() == "")
    }

    @Test func nullWhereNotAllowed() {
        var classic = buffer([0xFF, 0xFF])
        #expect(throws: ProtocolError.unexpectedNull(field: "string")) { _ = try classic.readKafkaString() }
        var compact = buffer([0])
        #expect(throws: ProtocolError.unexpectedNull(field: "string")) { _ = try compact.readCompactString() }
        var bytes = buffer([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: ProtocolError.unexpectedNull(field: "bytes")) { _ = try bytes.readKafkaBytes() }
    }

    @Test func negativeLengths() {
        var string = buffer([0xFF, 0xFE])
        #expect(throws: ProtocolError.invalidLength(-2)) { _ = try string.readKafkaNullableString() }
        var bytes = buffer([0xFF, 0xFF, 0xFF, 0xFE])
        #expect(throws: ProtocolError.invalidLength(-2)) { _ = try bytes.readKafkaNullableBytes() }
    }

    @Test func hugeDeclaredLengthsAreRejectedBeforeAllocating() {
        var string = buffer([0x7F, 0xFF, 0x41])
        #expect(throws: ProtocolError.lengthExceedsInput(declared: 32767, available: 1)) {
            _ = try string.readKafkaString()
        }
        var bytes = buffer([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: ProtocolError.lengthExceedsInput(declared: Int(Int32.max), available: 0)) {
            _ = try bytes.readKafkaBytes()
        }
        var array = buffer([0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1])
        #expect(throws: ProtocolError.lengthExceedsInput(declared: Int(Int32.max), available: 4)) {
            _ = try array.readKafkaInt32Array(flexible: false)
        }
        // Compact lengths above Int32.max are not lengths at all.
        var compact = buffer([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        #expect(throws: ProtocolError.self) { _ = try compact.readCompactBytes() }
    }

    @Test func arrays() throws {
        var out = ByteBuffer()
        try out.writeKafkaInt32Array([1, 2], flexible: false)
        try out.writeKafkaInt32Array([1, 2], flexible: true)
        try out.writeKafkaNullableStringArray(nil, flexible: false)
        try out.writeKafkaNullableStringArray(nil, flexible: true)
        #expect(
            bytesOf(out) == [0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0])
        #expect(try out.readKafkaInt32Array(flexible: false) == [1, 2])
        #expect(try out.readKafkaInt32Array(flexible: true) == [1, 2])
        #expect(try out.readKafkaNullableStringArray(flexible: false) == nil)
        #expect(try out.readKafkaNullableStringArray(flexible: true) == nil)
    }

    @Test func bytesAreSlicesAndRoundTrip() throws {
        var out = ByteBuffer()
        try out.writeKafkaNullableBytes(ByteBuffer(string: "abc"), flexible: false)
        try out.writeKafkaNullableBytes(nil, flexible: false)
        try out.writeKafkaBytes(ByteBuffer(string: "abc"), flexible: true)
        try out.writeKafkaNullableBytes(nil, flexible: true)
        #expect(bytesOf(out) == [0, 0, 0, 3, 0x61, 0x62, 0x63, 0xFF, 0xFF, 0xFF, 0xFF, 4, 0x61, 0x62, 0x63, 0])
        #expect(try out.readKafkaNullableBytes() == ByteBuffer(string: "abc"))
        #expect(try out.readKafkaNullableBytes() == nil)
        #expect(try out.readCompactBytes() == ByteBuffer(string: "abc"))
        #expect(try out.readCompactNullableBytes() == nil)
    }

    @Test func uuid() throws {
        var out = ByteBuffer()
        out.writeKafkaUUID(
            KafkaUUID(mostSignificantBits: 0x0102_0304_0506_0708, leastSignificantBits: 0x090A_0B0C_0D0E_0F10))
        #expect(bytesOf(out) == Array(1...16))
        #expect(
            try out.readKafkaUUID()
                == KafkaUUID(
                    mostSignificantBits: 0x0102_0304_0506_0708,
                    leastSignificantBits: 0x090A_0B0C_0D0E_0F10))
    }

    @Test func taggedFields() throws {
        var out = ByteBuffer()
        out.writeTaggedFields([
            TaggedField(tag: 1, data: ByteBuffer(string: "a")), TaggedField(tag: 300, data: ByteBuffer()),
        ])
        #expect(bytesOf(out) == [2, 1, 1, 0x61, 0xAC, 0x02, 0])
        let fields = try out.readTaggedFields()
        #expect(fields.map(\.tag) == [1, 300])
        #expect(fields[0].data == ByteBuffer(string: "a"))

        // Tags must be strictly ascending.
        var unordered = buffer([2, 5, 0, 3, 0])
        #expect(throws: ProtocolError.self) { _ = try unordered.readTaggedFields() }
        var duplicate = buffer([2, 5, 0, 5, 0])
        #expect(throws: ProtocolError.self) { _ = try duplicate.readTaggedFields() }
        // A field claiming more bytes than remain.
        var oversized = buffer([1, 0, 10, 1])
        #expect(throws: ProtocolError.self) { _ = try oversized.readTaggedFields() }
    }

    @Test func unknownTaggedFieldsSurviveARoundTrip() throws {
        // A newer client may send tags we do not know; they are kept at the message level.
        let request = HeartbeatRequest(
            groupId: "g", generationId: 1, memberId: "m",
            unknownTaggedFields: [
                TaggedField(tag: 0, data: ByteBuffer(string: "x")),
                TaggedField(tag: 7, data: ByteBuffer(string: "yz")),
            ])
        let (decoded, leftover, _) = try roundTrip(request, version: 4)
        #expect(decoded == request)
        #expect(leftover == 0)
    }

    @Test func unknownTagsInNestedStructuresAreSkipped() throws {
        // A Metadata v9 request whose topic entry carries a tagged field we do not know.
        let bytes = buffer([
            2,  // one topic (compact array)
            2, 0x61,  // name "a"
            1, 42, 2, 0xAA, 0xBB,  // tagged fields: tag 42, two bytes
            1,  // allowAutoTopicCreation
            0,  // includeClusterAuthorizedOperations (v8–10)
            0,  // includeTopicAuthorizedOperations
            0,  // top-level tagged fields
        ])
        let request = try decodeFully(MetadataRequest.self, bytes, version: 9)
        #expect(request.topics == [MetadataRequest.Topic(name: "a")])
    }

    @Test func errorCodesMatchKafka() {
        let expected: [(ErrorCode, Int16)] = [
            (.unknownServerError, -1), (.noError, 0), (.offsetOutOfRange, 1), (.corruptMessage, 2),
            (.unknownTopicOrPartition, 3), (.invalidFetchSize, 4), (.leaderNotAvailable, 5),
            (.notLeaderOrFollower, 6), (.requestTimedOut, 7), (.messageTooLarge, 10),
            (.coordinatorNotAvailable, 15), (.notCoordinator, 16), (.invalidTopicException, 17),
            (.recordListTooLarge, 18), (.notEnoughReplicas, 19), (.invalidRequiredAcks, 21),
            (.illegalGeneration, 22), (.inconsistentGroupProtocol, 23), (.invalidGroupId, 24),
            (.unknownMemberId, 25), (.invalidSessionTimeout, 26), (.rebalanceInProgress, 27),
            (.invalidCommitOffsetSize, 28), (.topicAuthorizationFailed, 29), (.unsupportedVersion, 35),
            (.topicAlreadyExists, 36), (.invalidPartitions, 37), (.invalidReplicationFactor, 38),
            (.invalidConfig, 40), (.invalidRequest, 42), (.unsupportedForMessageFormat, 43),
            (.outOfOrderSequenceNumber, 45), (.duplicateSequenceNumber, 46), (.invalidProducerEpoch, 47),
            (.unknownProducerId, 59), (.nonEmptyGroup, 68), (.groupIdNotFound, 69),
            (.unsupportedCompressionType, 76), (.memberIdRequired, 79), (.fencedInstanceId, 82),
            (.invalidRecord, 87), (.unstableOffsetCommit, 88), (.unknownTopicId, 100),
        ]
        for (code, value) in expected {
            #expect(code.rawValue == value, "\(code)")
        }
    }
}
