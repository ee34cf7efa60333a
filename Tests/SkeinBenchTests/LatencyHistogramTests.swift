import Testing

@testable import SkeinBench

@Suite struct LatencyHistogramTests {
    @Test func emptyHistogramHasNoPercentiles() {
        let histogram = LatencyHistogram()
        #expect(histogram.value(atPercentile: 50) == nil)
        #expect(LatencySummary(histogram) == LatencySummary(LatencyHistogram()))
        #expect(LatencySummary(histogram).max == 0)
    }

    @Test func smallValuesAreExact() {
        var histogram = LatencyHistogram()
        for value in UInt64(1)...100 { histogram.record(value) }
        #expect(histogram.value(atPercentile: 50) == 50)
        #expect(histogram.value(atPercentile: 90) == 90)
        #expect(histogram.value(atPercentile: 99) == 99)
        #expect(histogram.value(atPercentile: 100) == 100)
        #expect(histogram.value(atPercentile: 0) == 1)
        #expect(histogram.min == 1)
        #expect(histogram.max == 100)
        #expect(histogram.mean == 50.5)
    }

    /// One to ten milliseconds in microsecond steps: each percentile lands within the 1/128
    /// bucket precision of the exact answer.
    @Test func largeValuesAreWithinBucketPrecision() {
        var histogram = LatencyHistogram()
        let values = stride(from: UInt64(1_000_000), through: 10_000_000, by: 1_000).map { $0 }
        for value in values.shuffled() { histogram.record(value) }
        for percentile in [50.0, 90, 99, 99.9] {
            let rank = Int((percentile / 100 * Double(values.count)).rounded(.up))
            let exact = Double(values[rank - 1])
            let reported = Double(histogram.value(atPercentile: percentile)!)
            #expect(reported >= exact, "p\(percentile)")
            #expect((reported - exact) / exact <= 1.0 / 128, "p\(percentile): \(reported) vs \(exact)")
        }
        #expect(histogram.value(atPercentile: 100) == 10_000_000)
    }

    @Test func percentilesNeverLeaveTheObservedRange() {
        var histogram = LatencyHistogram()
        histogram.record(1_000_001)
        #expect(histogram.value(atPercentile: 50) == 1_000_001)
        #expect(histogram.value(atPercentile: 99.9) == 1_000_001)
    }

    @Test func bucketsCoverEveryValueInOrder() {
        var previous = -1
        for shift in 0..<64 {
            for value in [
                UInt64(1) << UInt64(shift), (UInt64(1) << UInt64(shift)) &- 1, UInt64.max >> UInt64(63 - shift),
            ] {
                let index = LatencyHistogram.bucketIndex(of: value)
                #expect(index >= 0 && index < LatencyHistogram.bucketCount)
                #expect(LatencyHistogram.lowestValue(inBucket: index) <= value)
                #expect(LatencyHistogram.highestValue(inBucket: index) >= value)
            }
        }
        for index in 0..<LatencyHistogram.bucketCount {
            let lowest = LatencyHistogram.lowestValue(inBucket: index)
            #expect(LatencyHistogram.bucketIndex(of: lowest) == index)
            #expect(Int(clamping: lowest) > previous || lowest > UInt64(Int.max))
            previous = Int(clamping: lowest)
            if index + 1 < LatencyHistogram.bucketCount {
                #expect(
                    LatencyHistogram.highestValue(inBucket: index) + 1
                        == LatencyHistogram.lowestValue(inBucket: index + 1))
            }
        }
        #expect(LatencyHistogram.bucketIndex(of: .max) == LatencyHistogram.bucketCount - 1)
    }

    @Test func mergeEqualsRecordingEverythingInOne() {
        var left = LatencyHistogram()
        var right = LatencyHistogram()
        var both = LatencyHistogram()
        for value in stride(from: UInt64(500), to: 5_000_000, by: 7_919) {
            if value % 2 == 0 { left.record(value) } else { right.record(value) }
            both.record(value)
        }
        left.merge(right)
        #expect(left == both)
        var empty = LatencyHistogram()
        empty.merge(both)
        #expect(empty == both)
    }

    @Test func summaryIsInMilliseconds() {
        var histogram = LatencyHistogram()
        for _ in 0..<99 { histogram.record(2_000_000) }
        histogram.record(40_000_000)
        let summary = LatencySummary(histogram)
        #expect(summary.count == 100)
        #expect(abs(summary.p50 - 2) < 2.0 / 128)
        #expect(abs(summary.p99 - 2) < 2.0 / 128)
        #expect(summary.max == 40)
        #expect(abs(summary.p999 - 40) < 40.0 / 128)
        #expect(abs(summary.mean - 2.38) < 1e-9)
    }
}
