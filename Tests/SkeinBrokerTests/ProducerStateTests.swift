import SkeinProtocol
import Testing

@testable import SkeinBroker

/// The idempotent-producer rules, batch by batch, as Kafka applies them.
@Suite struct ProducerStateTests {
    func appended(
        _ state: PartitionProducerState, id: Int64 = 7, epoch: Int16 = 0, _ first: Int32, _ last: Int32,
        at offset: Int64
    ) {
        state.record(
            producerId: id, epoch: epoch, firstSequence: first, lastSequence: last, firstOffset: offset,
            lastOffset: offset + Int64(last - first))
    }

    @Test func aNewProducerMustStartAtSequenceZero() {
        let state = PartitionProducerState()
        #expect(state.check(producerId: 7, epoch: 0, firstSequence: 0, lastSequence: 4) == .append)
        #expect(state.check(producerId: 7, epoch: 0, firstSequence: 5, lastSequence: 9) == .reject(.unknownProducerId))
    }

    @Test func retriesOfTheLastFiveBatchesAreDuplicatesWithTheirOriginalOffsets() {
        let state = PartitionProducerState()
        for batch in 0..<6 { appended(state, Int32(batch * 10), Int32(batch * 10 + 9), at: Int64(100 + batch * 10)) }
        #expect(
            state.check(producerId: 7, epoch: 0, firstSequence: 50, lastSequence: 59)
                == .duplicate(firstOffset: 150, lastOffset: 159))
        #expect(
            state.check(producerId: 7, epoch: 0, firstSequence: 10, lastSequence: 19)
                == .duplicate(firstOffset: 110, lastOffset: 119))
        // The sixth batch back is forgotten: it can only be out of order now.
        #expect(
            state.check(producerId: 7, epoch: 0, firstSequence: 0, lastSequence: 9)
                == .reject(.outOfOrderSequenceNumber))
    }

    @Test func gapsAreOutOfOrderAndTheNextSequenceIsAccepted() {
        let state = PartitionProducerState()
        appended(state, 0, 9, at: 0)
        #expect(
            state.check(producerId: 7, epoch: 0, firstSequence: 11, lastSequence: 12)
                == .reject(.outOfOrderSequenceNumber))
        #expect(state.check(producerId: 7, epoch: 0, firstSequence: 10, lastSequence: 12) == .append)
    }

    @Test func epochsFenceOldProducersAndResetSequences() {
        let state = PartitionProducerState()
        appended(state, epoch: 3, 0, 9, at: 0)
        #expect(
            state.check(producerId: 7, epoch: 2, firstSequence: 10, lastSequence: 10) == .reject(.invalidProducerEpoch))
        #expect(
            state.check(producerId: 7, epoch: 4, firstSequence: 3, lastSequence: 3)
                == .reject(.outOfOrderSequenceNumber))
        #expect(state.check(producerId: 7, epoch: 4, firstSequence: 0, lastSequence: 3) == .append)
        appended(state, epoch: 4, 0, 3, at: 10)
        #expect(state.check(producerId: 7, epoch: 4, firstSequence: 4, lastSequence: 4) == .append)
    }

    @Test func sequencesWrapAfterInt32Max() {
        let state = PartitionProducerState()
        appended(state, 0, 0, at: 0)
        state.record(
            producerId: 7, epoch: 0, firstSequence: Int32.max - 1, lastSequence: Int32.max, firstOffset: 1,
            lastOffset: 2)
        #expect(state.check(producerId: 7, epoch: 0, firstSequence: 0, lastSequence: 5) == .append)
    }

    @Test func nonIdempotentBatchesAreNeverChecked() {
        let state = PartitionProducerState()
        #expect(state.check(producerId: -1, epoch: -1, firstSequence: -1, lastSequence: -1) == .append)
    }
}
