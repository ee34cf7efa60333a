import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinClient

@Suite struct ConsumerProtocolTests {
    /// Bytes written out by hand from Kafka's ConsumerProtocolSubscription schema, version 0.
    @Test func subscriptionMatchesTheSchemaByteForByte() throws {
        let encoded = try ConsumerSubscription(topics: ["ab", "c"]).encoded()
        let expected: [UInt8] = [
            0x00, 0x00,  // version 0
            0x00, 0x00, 0x00, 0x02,  // two topics
            0x00, 0x02, 0x61, 0x62,  // "ab"
            0x00, 0x01, 0x63,  // "c"
            0x00, 0x00, 0x00, 0x00,  // user data: empty bytes
        ]
        #expect(Array(encoded.readableBytesView) == expected)
        #expect(try ConsumerSubscription.decode(encoded) == ConsumerSubscription(topics: ["ab", "c"]))
    }

    @Test func assignmentMatchesTheSchemaByteForByte() throws {
        let assignment = ConsumerAssignment(assigned: [.init(topic: "t", partitions: [0, 3])])
        let encoded = try assignment.encoded()
        let expected: [UInt8] = [
            0x00, 0x00,  // version 0
            0x00, 0x00, 0x00, 0x01,  // one topic
            0x00, 0x01, 0x74,  // "t"
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // [0, 3]
            0x00, 0x00, 0x00, 0x00,  // user data: empty bytes
        ]
        #expect(Array(encoded.readableBytesView) == expected)
        let decoded = try ConsumerAssignment.decode(encoded)
        #expect(decoded == assignment)
        #expect(decoded.partitions(of: "t") == [0, 3])
        #expect(decoded.partitions(of: "other").isEmpty)
    }

    /// Later versions append fields (owned partitions, generation, rack); a v0 reader must skip them.
    @Test func newerSubscriptionVersionsDecodeByTheirPrefix() throws {
        var bytes = ByteBuffer()
        bytes.writeInteger(Int16(3))
        try bytes.writeKafkaStringArray(["logs"], flexible: false)
        try bytes.writeKafkaNullableBytes(nil, flexible: false)
        bytes.writeInteger(Int32(0))  // owned partitions (v1)
        bytes.writeInteger(Int32(7))  // generation (v2)
        try bytes.writeKafkaNullableString("rack-a", flexible: false)  // rack (v3)
        let decoded = try ConsumerSubscription.decode(bytes)
        #expect(decoded.version == 3)
        #expect(decoded.topics == ["logs"])
        #expect(decoded.userData == nil)
    }

    @Test func emptyAssignmentBytesMeanNothingAssigned() throws {
        #expect(try ConsumerAssignment.decode(ByteBuffer()).assigned.isEmpty)
        #expect(throws: ProtocolError.self) { try ConsumerAssignment.decode(ByteBuffer(bytes: [0, 0, 0])) }
        #expect(throws: ProtocolError.self) { try ConsumerSubscription.decode(ByteBuffer(bytes: [0xFF, 0xFF])) }
    }

    @Test func rangeAssignmentGivesTheFirstMembersTheRemainder() {
        let subscriptions = Dictionary(uniqueKeysWithValues: ["m-c", "m-a", "m-b"].map { ($0, ["t"]) })
        let result = RangeAssignor.assign(
            partitionsByTopic: ["t": [6, 0, 1, 2, 3, 4, 5]], subscriptions: subscriptions)
        // Sorted by member ID: m-a, m-b, m-c; 7 partitions = 3 + 2 + 2.
        #expect(result["m-a"]?.partitions(of: "t") == [0, 1, 2])
        #expect(result["m-b"]?.partitions(of: "t") == [3, 4])
        #expect(result["m-c"]?.partitions(of: "t") == [5, 6])
    }

    @Test func rangeAssignmentWithMoreMembersThanPartitions() {
        let members = (0..<6).map { "member-\($0)" }
        let result = RangeAssignor.assign(
            partitionsByTopic: ["t": [0, 1, 2, 3]],
            subscriptions: Dictionary(uniqueKeysWithValues: members.map { ($0, ["t"]) }))
        #expect(result.count == 6)
        #expect(members.map { result[$0]!.partitions(of: "t") } == [[0], [1], [2], [3], [], []])
        // A member with nothing gets an assignment with no topics, not an entry with no partitions.
        #expect(result["member-5"]!.assigned.isEmpty)
    }

    @Test func rangeAssignmentIsPerTopicAndOnlyForSubscribers() {
        let result = RangeAssignor.assign(
            partitionsByTopic: ["a": [0, 1], "b": [0, 1, 2]],
            subscriptions: ["x": ["a", "b"], "y": ["b"], "z": ["a", "unknown"]])
        #expect(result["x"]?.partitions(of: "a") == [0])
        #expect(result["z"]?.partitions(of: "a") == [1])
        #expect(result["x"]?.partitions(of: "b") == [0, 1])
        #expect(result["y"]?.partitions(of: "b") == [2])
        #expect(result["y"]?.partitions(of: "a") == [])
        #expect(result["z"]?.partitions(of: "unknown") == [])
    }

    @Test func everyPartitionIsAssignedExactlyOnce() {
        for members in 1...12 {
            for partitions in 0...20 {
                let ids = (0..<members).map { String(format: "member-%02d", $0) }
                let result = RangeAssignor.assign(
                    partitionsByTopic: ["t": (0..<Int32(partitions)).map { $0 }],
                    subscriptions: Dictionary(uniqueKeysWithValues: ids.map { ($0, ["t"]) }))
                let all = ids.flatMap { result[$0]!.partitions(of: "t") }
                #expect(all == (0..<Int32(partitions)).map { $0 })
                let sizes = ids.map { result[$0]!.partitions(of: "t").count }
                #expect(sizes.max()! - sizes.min()! <= 1)
            }
        }
    }

    /// The subscription travels inside JoinGroup and the assignment inside SyncGroup: both must
    /// survive the codec's flexible and non-flexible encodings untouched.
    @Test func embeddedBytesSurviveTheGroupMessages() throws {
        let subscription = try ConsumerSubscription(topics: ["logs"]).encoded()
        let assignment = try ConsumerAssignment(assigned: [.init(topic: "logs", partitions: [1, 2])]).encoded()
        for version in ApiKey.joinGroup.supportedVersions where version >= 5 {
            let request = JoinGroupRequest(
                groupId: "g", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 30_000, protocolType: "consumer",
                protocols: [.init(name: "range", metadata: subscription)])
            var buffer = ByteBuffer()
            try request.encode(into: &buffer, version: version)
            let decoded = try JoinGroupRequest.decode(from: &buffer, version: version)
            #expect(try ConsumerSubscription.decode(decoded.protocols[0].metadata).topics == ["logs"])

            let response = JoinGroupResponse(
                generationId: 1, protocolType: "consumer", protocolName: "range", leader: "m", memberId: "m",
                members: [.init(memberId: "m", metadata: subscription)])
            buffer.clear()
            try response.encode(into: &buffer, version: version)
            let decodedResponse = try JoinGroupResponse.decode(from: &buffer, version: version)
            #expect(try ConsumerSubscription.decode(decodedResponse.members[0].metadata).topics == ["logs"])
        }
        for version in ApiKey.syncGroup.supportedVersions where version >= 3 {
            let request = SyncGroupRequest(
                groupId: "g", generationId: 1, memberId: "m",
                assignments: [.init(memberId: "m", assignment: assignment)])
            var buffer = ByteBuffer()
            try request.encode(into: &buffer, version: version)
            let decoded = try SyncGroupRequest.decode(from: &buffer, version: version)
            #expect(try ConsumerAssignment.decode(decoded.assignments[0].assignment).partitions(of: "logs") == [1, 2])

            buffer.clear()
            try SyncGroupResponse(assignment: assignment).encode(into: &buffer, version: version)
            let response = try SyncGroupResponse.decode(from: &buffer, version: version)
            #expect(try ConsumerAssignment.decode(response.assignment).partitions(of: "logs") == [1, 2])
        }
    }
}
