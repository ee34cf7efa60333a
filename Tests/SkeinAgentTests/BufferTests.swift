import Testing

@testable import SkeinAgent

@Suite struct BufferTests {
    @Test func keepsTheNewestAndCountsDrops() {
        var buffer = BoundedRecordBuffer<Int>(capacity: 3)
        for value in 1...5 { buffer.append(value) }
        #expect(buffer.contents == [3, 4, 5])
        #expect(buffer.droppedCount == 2)
        #expect(buffer.popFirst() == 3)
        buffer.append(6)
        #expect(buffer.contents == [4, 5, 6])
        #expect(buffer.droppedCount == 2)
    }

    @Test func aFailedRecordGoesBackToTheFrontUnlessNewerOnesFilledTheBuffer() {
        var buffer = BoundedRecordBuffer<Int>(capacity: 3)
        buffer.append(1)
        buffer.append(2)
        let inFlight = buffer.popFirst()!
        buffer.returnToFront(inFlight)
        #expect(buffer.contents == [1, 2])
        let again = buffer.popFirst()!
        buffer.append(3)
        buffer.append(4)
        // Full while 1 was in flight: 1 is now the oldest and is the one given up.
        buffer.returnToFront(again)
        #expect(buffer.contents == [2, 3, 4])
        #expect(buffer.droppedCount == 1)
        #expect(buffer.popFirst() == 2)
        #expect(buffer.popFirst() == 3)
        #expect(buffer.popFirst() == 4)
        #expect(buffer.popFirst() == nil)
        #expect(buffer.isEmpty)
    }
}
