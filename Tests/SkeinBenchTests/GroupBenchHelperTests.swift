import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBench

/// Group benchmark helpers whose tests lived beside the consumer protocol tests before that code
/// moved to SkeinClient.
@Suite struct GroupBenchHelperTests {
    /// librdkafka's mock cluster answers a refused SyncGroup with a null assignment; the member
    /// must still see the error code.
    @Test func syncGroupErrorCodeIsReadDespiteANullAssignment() throws {
        for version: Int16 in [1, 3] {
            var payload = ByteBuffer()
            payload.writeInteger(Int32(42))  // correlation ID
            payload.writeInteger(Int32(0))  // throttle
            payload.writeInteger(ErrorCode.rebalanceInProgress.rawValue)
            payload.writeInteger(Int32(-1))  // null bytes
            #expect(throws: ProtocolError.self) {
                _ = try ResponseFrame.decode(payload: payload, apiKey: .syncGroup, version: version)
            }
            #expect(GroupMemberHandler.syncGroupErrorCode(in: payload, version: version) == .rebalanceInProgress)
        }
    }

    @Test func memberCountLists() throws {
        #expect(try BenchArguments.countList("1,10,50") == [1, 10, 50])
        #expect(try BenchArguments.countList(" 5 , 5") == [5, 5])
        for bad in ["", "1,,2", "0", "-1", "a", "1.5"] {
            #expect(throws: BenchError.self) { try BenchArguments.countList(bad) }
        }
    }

    @Test func roundSpreadAndMedian() {
        #expect(GroupBenchReport.RebalanceResult.spread([]) == (nil, nil, nil))
        let odd = GroupBenchReport.RebalanceResult.spread([5, 1, 3])
        #expect(odd.0 == 1 && odd.1 == 3 && odd.2 == 5)
        let even = GroupBenchReport.RebalanceResult.spread([4, 1, 3, 2])
        #expect(even.0 == 1 && even.1 == 2.5 && even.2 == 4)
    }
}
