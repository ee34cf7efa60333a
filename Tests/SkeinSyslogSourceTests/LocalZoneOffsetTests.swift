import Synchronization
import Testing

@testable import SkeinSyslogSource

@Suite struct LocalZoneOffsetTests {
    /// A zone that moves from +1 h to +2 h at `change` (Unix seconds, on a minute), counting its lookups.
    final class FakeZone: Sendable {
        let change: Int
        let lookups = Atomic<Int>(0)
        init(change: Int) { self.change = change }
        func offset(_ seconds: Int) -> Int {
            lookups.add(1, ordering: .relaxed)
            return seconds >= change ? 7200 : 3600
        }
    }

    @Test func theOffsetFollowsAChangeAndIsReadOncePerMinute() {
        let change = 1_774_746_000  // 2026-03-29 01:00:00 UTC, when central Europe moves to summer time
        let zone = FakeZone(change: change)
        let offset = LocalZoneOffset(offsetAt: { zone.offset($0) })
        let before = Int64(change - 30) * 1000
        #expect(offset.seconds(at: before) == 3600)
        #expect(offset.seconds(at: before + 10_000) == 3600)
        #expect(zone.lookups.load(ordering: .relaxed) == 1)
        #expect(offset.seconds(at: Int64(change) * 1000) == 7200)
        #expect(offset.seconds(at: Int64(change) * 1000 + 59_000) == 7200)
        #expect(zone.lookups.load(ordering: .relaxed) == 2)
    }

    @Test func negativeOffsetsSurviveThePacking() {
        let offset = LocalZoneOffset(offsetAt: { _ in -36_000 })
        #expect(offset.seconds(at: 1_000_000) == -36_000)
        #expect(offset.seconds(at: 1_000_500) == -36_000)
    }

    /// A BSD timestamp is read in the offset of its arrival: the same wall-clock line means a different
    /// instant after the change.
    @Test func theParserReadsBSDTimestampsInTheZoneOfTheirArrival() {
        let change = 1_774_746_000
        let zone = FakeZone(change: change)
        let parser = SyslogParser(localZone: LocalZoneOffset(offsetAt: { zone.offset($0) }))
        let line = Array("<13>Mar 29 03:30:00 h app: x".utf8)
        let winter = parser.parse(line, now: Int64(change - 60) * 1000)
        let summer = parser.parse(line, now: Int64(change + 60) * 1000)
        #expect(winter.timestampMilliseconds != nil && summer.timestampMilliseconds != nil)
        if let winter = winter.timestampMilliseconds, let summer = summer.timestampMilliseconds {
            #expect(winter - summer == 3_600_000)
        }
    }
}
