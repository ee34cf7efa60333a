/// Chooses a partition for a keyed record exactly as Kafka's Java client (BuiltInPartitioner,
/// formerly DefaultPartitioner) and librdkafka's `murmur2_random` do, so a key lands on the same
/// partition whichever of those clients produced it; consumers relying on per-key ordering
/// across mixed producers depend on that.
public enum Murmur2Partitioner {
    /// The seed Kafka fixed for its murmur2 variant; any other seed moves every key.
    static let seed: UInt32 = 0x9747_b28c

    /// `toPositive(murmur2(key)) % partitionCount`, with Java's `toPositive` (clearing the sign
    /// bit rather than taking an absolute value, which would map Int.min badly).
    public static func partition(forKey key: some Sequence<UInt8>, partitionCount: Int) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        let positive = murmur2(Array(key)) & 0x7fff_ffff
        return Int32(Int(positive) % partitionCount)
    }

    /// MurmurHash2 (32-bit) over the bytes read as little-endian words, as Kafka's `Utils.murmur2`
    /// and librdkafka's `rd_murmur2` compute it; the result is Java's signed int reinterpreted.
    public static func murmur2(_ data: [UInt8]) -> UInt32 {
        let multiplier: UInt32 = 0x5bd1_e995
        let shift: UInt32 = 24
        let length = data.count
        var hash = seed ^ UInt32(truncatingIfNeeded: length)
        let wholeWords = length / 4
        for word in 0..<wholeWords {
            let start = word * 4
            var k =
                UInt32(data[start]) | UInt32(data[start + 1]) << 8 | UInt32(data[start + 2]) << 16
                | UInt32(data[start + 3]) << 24
            k &*= multiplier
            k ^= k >> shift
            k &*= multiplier
            hash &*= multiplier
            hash ^= k
        }
        let tail = wholeWords * 4
        let remaining = length % 4
        if remaining >= 3 { hash ^= UInt32(data[tail + 2]) << 16 }
        if remaining >= 2 { hash ^= UInt32(data[tail + 1]) << 8 }
        if remaining >= 1 {
            hash ^= UInt32(data[tail])
            hash &*= multiplier
        }
        hash ^= hash >> 13
        hash &*= multiplier
        hash ^= hash >> 15
        return hash
    }
}
