import Glibc
import Synchronization

/// The agent's UTC offset, for timestamps that carry no zone (every BSD timestamp), followed across daylight
/// saving changes: read with localtime_r(3) for the minute of `now` and kept until the minute ends, so the
/// per-message cost is one atomic load. Zone changes happen on minute boundaries, so the offset of the
/// message's arrival minute is the zone's rule for it (a line stamped in the minutes just before a change
/// and received just after is read in the new offset, as rsyslog does with its receive-time zone).
final class LocalZoneOffset: Sendable {
    /// `(minute << 24) | (offset + 2^23)`: the minute of Unix time the offset was read for, and the offset
    /// in seconds (±14 h fits well in 24 bits), in one word so that readers never see a torn pair.
    private let cached = Atomic<Int>(-1)
    private let offsetAt: @Sendable (Int) -> Int

    init(offsetAt: @escaping @Sendable (_ unixSeconds: Int) -> Int = LocalZoneOffset.localtimeOffset) {
        self.offsetAt = offsetAt
    }

    /// Seconds east of UTC at `nowMillis` (Unix milliseconds).
    func seconds(at nowMillis: Int64) -> Int {
        let minute = Int(nowMillis / 60_000)
        let packed = cached.load(ordering: .relaxed)
        if packed >= 0, packed >> 24 == minute { return (packed & 0xFF_FFFF) - (1 << 23) }
        let offset = offsetAt(minute * 60)
        cached.store((minute << 24) | (offset + (1 << 23)), ordering: .relaxed)
        return offset
    }

    static func localtimeOffset(_ unixSeconds: Int) -> Int {
        var time = time_t(unixSeconds)
        var parts = tm()
        guard localtime_r(&time, &parts) != nil else { return 0 }
        return parts.tm_gmtoff
    }
}
