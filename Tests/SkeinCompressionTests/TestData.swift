/// Deterministic pseudo-random bytes (SplitMix64), so a failure reproduces with the same input.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SeededGenerator(seed: seed)
    var bytes = [UInt8]()
    bytes.reserveCapacity(count + 8)
    while bytes.count < count {
        withUnsafeBytes(of: generator.next().littleEndian) { bytes.append(contentsOf: $0) }
    }
    return Array(bytes.prefix(count))
}

/// The inputs every codec must round-trip: the edges (empty, one byte), data that does not compress, and
/// data that compresses extremely well (which is also what a bomb is made of).
enum SampleInput: String, CaseIterable, Sendable, CustomStringConvertible {
    case empty
    case oneByte
    case tiny
    case random1MiB
    case compressible1MiB
    case text

    var description: String { rawValue }

    var bytes: [UInt8] {
        switch self {
        case .empty: []
        case .oneByte: [0x2A]
        case .tiny: Array("hello, skein".utf8)
        case .random1MiB: randomBytes(1 << 20, seed: 0x5EED)
        case .compressible1MiB:
            Array(repeating: Array("2026-11-22T00:00:00Z host app: ok\n".utf8), count: 30_840).flatMap { $0 }
        case .text: Fixtures.text
        }
    }
}
