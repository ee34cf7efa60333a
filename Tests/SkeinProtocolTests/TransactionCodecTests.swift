import NIOCore
import SkeinProtocol
import Testing

/// The transaction APIs' wire layouts checked byte by byte where a field's presence or width
/// depends on the version, plus the fenced-producer error table. Round trips of every version are
/// in `RoundTripTests` (through `Samples`).
@Suite("Transaction API codecs")
struct TransactionCodecTests {
    @Test func endTxnV0IsClassicAndV3IsCompact() throws {
        let request = EndTxnRequest(transactionalId: "tx", producerId: 5, producerEpoch: 2, committed: true)
        let v0 = bytesOf(try request.encoded(version: 0))
        #expect(v0 == [0, 2, 0x74, 0x78] + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 2] + [1])
        let v3 = bytesOf(try request.encoded(version: 3))
        #expect(v3 == [3, 0x74, 0x78] + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 2] + [1] + [0])
        let aborted = EndTxnRequest(transactionalId: "tx", producerId: 5, producerEpoch: 2, committed: false)
        #expect(try roundTrip(aborted, version: 1).decoded.committed == false)
    }

    @Test func addPartitionsToTxnV3Layout() throws {
        let request = AddPartitionsToTxnRequest(
            transactionalId: "t", producerId: 1, producerEpoch: 0, topics: [.init(name: "a", partitions: [7])])
        let bytes = bytesOf(try request.encoded(version: 3))
        let expected: [UInt8] =
            [2, 0x74] + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0]
            + [2] + [2, 0x61] + [2, 0, 0, 0, 7] + [0]  // one topic: name, one partition, topic tags
            + [0]  // request tags
        #expect(bytes == expected)
        // v4 is the broker-to-broker batched layout, which this codec does not speak.
        #expect(throws: ProtocolError.unsupportedVersion(apiKey: 24, version: 4)) {
            _ = try request.encoded(version: 4)
        }
    }

    @Test func txnOffsetCommitMemberFieldsOnlyFromV3() throws {
        let request = TxnOffsetCommitRequest(
            transactionalId: "tx", groupId: "g", producerId: 9, producerEpoch: 1, generationId: 4, memberId: "m",
            groupInstanceId: "i",
            topics: [
                .init(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 10, committedLeaderEpoch: 3)])
            ]
        )
        let (v1, _, _) = try roundTrip(request, version: 1)
        #expect(v1.generationId == -1)
        #expect(v1.memberId == "")
        #expect(v1.groupInstanceId == nil)
        #expect(v1.topics.first?.partitions.first?.committedLeaderEpoch == -1)
        let (v2, _, _) = try roundTrip(request, version: 2)
        #expect(v2.topics.first?.partitions.first?.committedLeaderEpoch == 3)
        #expect(v2.generationId == -1)
        let (v3, leftover, _) = try roundTrip(request, version: 3)
        #expect(v3 == request)
        #expect(leftover == 0)
    }

    /// The epoch is an int16 as everywhere else (kafka-python's copy of the spec decodes it so too; the
    /// interop test checks skeind's answer with that codec).
    @Test func describeTransactionsEpochIsInt16() throws {
        let response = DescribeTransactionsResponse(transactionStates: [
            .init(transactionalId: "x", transactionState: "Empty", producerId: 1, producerEpoch: 30_000)
        ])
        let (decoded, _, bytes) = try roundTrip(response, version: 0)
        #expect(decoded.transactionStates.first?.producerEpoch == 30_000)
        // throttle, array length, error, id, state, timeout, start, producer id, epoch (2 bytes),
        // topics, element tags, body tags.
        #expect(bytes.readableBytes == 4 + 1 + 2 + 2 + 6 + 4 + 8 + 8 + 2 + 1 + 1 + 1)
    }

    @Test func listTransactionsDurationFilterFromV1() throws {
        let request = ListTransactionsRequest(stateFilters: [], producerIdFilters: [3], durationFilter: 1000)
        #expect(try roundTrip(request, version: 0).decoded.durationFilter == -1)
        #expect(try roundTrip(request, version: 1).decoded.durationFilter == 1000)
        #expect(try roundTrip(request, version: 1).decoded.producerIdFilters == [3])
    }

    /// Kafka answers PRODUCER_FENCED only from the version whose spec adds it; older clients get
    /// INVALID_PRODUCER_EPOCH, the only fencing code they know.
    @Test func fencedProducerErrorPerVersion() {
        for version: Int16 in 0...4 {
            #expect(
                InitProducerIdResponse.producerFencedError(version: version)
                    == (version >= 4 ? .producerFenced : .invalidProducerEpoch), "InitProducerId v\(version)")
        }
        for version: Int16 in 0...3 {
            let expected: ErrorCode = version >= 2 ? .producerFenced : .invalidProducerEpoch
            #expect(AddPartitionsToTxnResponse.producerFencedError(version: version) == expected)
            #expect(AddOffsetsToTxnResponse.producerFencedError(version: version) == expected)
            #expect(EndTxnResponse.producerFencedError(version: version) == expected)
            #expect(TxnOffsetCommitResponse.producerFencedError(version: version) == .invalidProducerEpoch)
        }
    }

    @Test func transactionErrorCodesHaveKafkasNumbers() {
        #expect(ErrorCode.invalidProducerEpoch.rawValue == 47)
        #expect(ErrorCode.invalidTxnState.rawValue == 48)
        #expect(ErrorCode.invalidProducerIdMapping.rawValue == 49)
        #expect(ErrorCode.invalidTransactionTimeout.rawValue == 50)
        #expect(ErrorCode.concurrentTransactions.rawValue == 51)
        #expect(ErrorCode.transactionCoordinatorFenced.rawValue == 52)
        #expect(ErrorCode.producerFenced.rawValue == 90)
        #expect(ErrorCode.transactionalIdNotFound.rawValue == 105)
        #expect(ErrorCode.transactionAbortable.rawValue == 120)
    }
}
