/// A log-linear histogram of nanosecond latencies, in the style of HdrHistogram.
///
/// Recording must cost next to nothing on the event loop and the memory must not grow with the
/// number of requests, so values are counted in buckets rather than kept. Values below
/// `2 * subBucketCount` get a bucket each (exact); above that every power of two is split into
/// `subBucketCount` equal buckets, so a reported percentile is within 1/128 (0.8 %) of the true
/// value. Minimum, maximum and sum are tracked exactly.
public struct LatencyHistogram: Sendable, Equatable {
    static let subBucketBits = 7
    static let subBucketCount = 1 << subBucketBits
    static let linearLimit = UInt64(2 * subBucketCount)
    /// Enough buckets for any UInt64: the largest value has its top bit at 63.
    static let bucketCount = Int(linearLimit) + (63 - subBucketBits) * subBucketCount

    private var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var sum: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0

    public init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    public mutating func record(_ nanoseconds: UInt64) {
        counts[Self.bucketIndex(of: nanoseconds)] &+= 1
        count &+= 1
        sum &+= nanoseconds
        if nanoseconds < min { min = nanoseconds }
        if nanoseconds > max { max = nanoseconds }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for index in counts.indices where other.counts[index] != 0 {
            counts[index] &+= other.counts[index]
        }
        count &+= other.count
        sum &+= other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    public var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

    /// The value at `percentile` (0–100): the smallest recorded value such that at least that
    /// share of all values is at or below it, reported as the top of its bucket and clamped to
    /// the exact extremes. nil when nothing was recorded.
    public func value(atPercentile percentile: Double) -> UInt64? {
        guard count > 0 else { return nil }
        let clamped = Swift.min(Swift.max(percentile, 0), 100)
        let rank = Swift.max(1, UInt64((clamped / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for index in counts.indices where counts[index] != 0 {
            seen += counts[index]
            if seen >= rank {
                return Swift.min(Swift.max(Self.highestValue(inBucket: index), min), max)
            }
        }
        return max
    }

    static func bucketIndex(of value: UInt64) -> Int {
        if value < linearLimit { return Int(value) }
        let topBit = 63 - value.leadingZeroBitCount
        let shift = topBit - subBucketBits
        let mantissa = Int(value >> UInt64(shift))  // in subBucketCount..<2*subBucketCount
        return Int(linearLimit) + (shift - 1) * subBucketCount + (mantissa - subBucketCount)
    }

    static func highestValue(inBucket index: Int) -> UInt64 {
        if index < Int(linearLimit) { return UInt64(index) }
        let offset = index - Int(linearLimit)
        let shift = offset / subBucketCount + 1
        let mantissa = UInt64(offset % subBucketCount + subBucketCount)
        let lowest = mantissa << UInt64(shift)
        return lowest + ((1 << UInt64(shift)) - 1)
    }

    static func lowestValue(inBucket index: Int) -> UInt64 {
        if index < Int(linearLimit) { return UInt64(index) }
        let offset = index - Int(linearLimit)
        let shift = offset / subBucketCount + 1
        return UInt64(offset % subBucketCount + subBucketCount) << UInt64(shift)
    }
}

/// The percentiles every report shows, in milliseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var count: UInt64
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    public init(_ histogram: LatencyHistogram) {
        func milliseconds(_ percentile: Double) -> Double {
            Double(histogram.value(atPercentile: percentile) ?? 0) / 1e6
        }
        count = histogram.count
        p50 = milliseconds(50)
        p90 = milliseconds(90)
        p99 = milliseconds(99)
        p999 = milliseconds(99.9)
        max = Double(histogram.count == 0 ? 0 : histogram.max) / 1e6
        mean = histogram.mean / 1e6
    }
}
