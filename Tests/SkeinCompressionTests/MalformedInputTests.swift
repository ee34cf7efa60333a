import SkeinCompression
import Testing

/// Inputs a hostile or broken client could send. Each must end in a `CompressionError`, never a trap, a hang
/// or an unbounded allocation.
@Suite("Malformed input")
struct MalformedInputTests {
    static let compressedCodecs: [CompressionCodec] = [.gzip, .snappy, .lz4, .zstd]

    @Test(arguments: compressedCodecs)
    func emptyInputIsTruncated(codec: CompressionCodec) {
        #expect(throws: CompressionError.truncated(codec: codec)) {
            try decompress([], codec: codec, maxOutputBytes: 1024)
        }
    }

    @Test(arguments: compressedCodecs)
    func randomBytesAreRejected(codec: CompressionCodec) {
        for seed in UInt64(1)...50 {
            let garbage = randomBytes(Int(seed) * 37, seed: seed)
            #expect(throws: CompressionError.self, "seed \(seed)") {
                try decompress(garbage, codec: codec, maxOutputBytes: 1 << 20)
            }
        }
    }

    /// Every proper prefix of a stream must fail, except where the format has no end marker: xerial framing
    /// ends wherever a chunk does, so a prefix cut at a chunk boundary is a valid, shorter stream.
    @Test(arguments: compressedCodecs)
    func everyTruncationIsDetected(codec: CompressionCodec) throws {
        let compressed = try compress(Fixtures.text, codec: codec)
        for length in 0..<compressed.count {
            let prefix = Array(compressed.prefix(length))
            do {
                let decoded = try decompress(prefix, codec: codec, maxOutputBytes: 1 << 20)
                #expect(codec == .snappy && Fixtures.text.starts(with: decoded), "prefix \(length) decoded")
            } catch {
                // Expected: any CompressionError.
            }
        }
    }

    @Test(arguments: compressedCodecs)
    func corruptedBytesNeverTrap(codec: CompressionCodec) throws {
        let compressed = try compress(Fixtures.text, codec: codec)
        var generator = SeededGenerator(seed: 0xBAD)
        for position in 0..<compressed.count {
            var damaged = compressed
            damaged[position] ^= UInt8.random(in: 1...255, using: &generator)
            // Not every flip is detectable (lz4 and zstd frames carry no checksum as Kafka writes them), but
            // none may crash or produce more than the limit.
            if let decoded = try? decompress(damaged, codec: codec, maxOutputBytes: Fixtures.text.count) {
                #expect(decoded.count <= Fixtures.text.count)
            }
        }
    }

    @Test(arguments: compressedCodecs)
    func trailingGarbageIsCorrupt(codec: CompressionCodec) throws {
        let compressed = try compress(Fixtures.text, codec: codec)
        #expect(throws: CompressionError.self) {
            try decompress(compressed + [0xDE, 0xAD, 0xBE, 0xEF, 0x01], codec: codec, maxOutputBytes: 1 << 20)
        }
    }

    @Test func xerialChunkLengthPastTheEndIsTruncated() {
        let header: [UInt8] = [0x82] + Array("SNAPPY".utf8) + [0, 0, 0, 0, 1, 0, 0, 0, 1]
        #expect(throws: CompressionError.truncated(codec: .snappy)) {
            try decompress(header + [0, 0, 1, 0, 0x05, 0x00], codec: .snappy, maxOutputBytes: 1024)
        }
        #expect(throws: CompressionError.truncated(codec: .snappy)) {
            try decompress(header + [0, 0], codec: .snappy, maxOutputBytes: 1024)
        }
        #expect(throws: CompressionError.truncated(codec: .snappy)) {
            try decompress(Array(header.prefix(12)), codec: .snappy, maxOutputBytes: 1024)
        }
        #expect(throws: CompressionError.corrupt(codec: .snappy, reason: "negative xerial chunk length")) {
            try decompress(header + [0xFF, 0xFF, 0xFF, 0xFF, 0x00], codec: .snappy, maxOutputBytes: 1024)
        }
    }
}

@Suite("Output limit")
struct OutputLimitTests {
    @Test(arguments: CompressionCodec.allCases)
    func oneByteOverTheLimitThrows(codec: CompressionCodec) throws {
        let original = SampleInput.compressible1MiB.bytes
        let compressed = try compress(original, codec: codec)
        #expect(throws: CompressionError.outputLimitExceeded(codec: codec, limit: original.count - 1)) {
            try decompress(compressed, codec: codec, maxOutputBytes: original.count - 1)
        }
        #expect(try decompress(compressed, codec: codec, maxOutputBytes: original.count).count == original.count)
    }

    @Test(arguments: CompressionCodec.allCases)
    func zeroLimitAcceptsOnlyEmptyOutput(codec: CompressionCodec) throws {
        #expect(try decompress(try compress([], codec: codec), codec: codec, maxOutputBytes: 0) == [])
        #expect(throws: CompressionError.outputLimitExceeded(codec: codec, limit: 0)) {
            try decompress(try compress([1], codec: codec), codec: codec, maxOutputBytes: 0)
        }
    }

    /// 64 MiB of zeros squeezes into a few kilobytes; decoding must stop at the 1 MiB limit.
    @Test(arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func decompressionBombStopsAtTheLimit(codec: CompressionCodec) throws {
        let bomb = try compress([UInt8](repeating: 0, count: 64 << 20), codec: codec)
        #expect(bomb.count < 4 << 20)
        #expect(throws: CompressionError.outputLimitExceeded(codec: codec, limit: 1 << 20)) {
            try decompress(bomb, codec: codec, maxOutputBytes: 1 << 20)
        }
    }

    @Test func snappyBlockClaimingFourGiBIsRefusedBeforeAllocating() {
        // A raw block is a varint length and then the data; this one claims 2^32 - 1 bytes and has none.
        let claim: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(throws: CompressionError.outputLimitExceeded(codec: .snappy, limit: 64 << 20)) {
            try decompress(claim, codec: .snappy, maxOutputBytes: 64 << 20)
        }
    }
}
