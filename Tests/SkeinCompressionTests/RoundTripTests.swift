import SkeinCompression
import Testing

@Suite("Round trips")
struct RoundTripTests {
    @Test(arguments: CompressionCodec.allCases, SampleInput.allCases)
    func roundTripAtDefaultLevel(codec: CompressionCodec, input: SampleInput) throws {
        let original = input.bytes
        let compressed = try compress(original, codec: codec)
        // A limit of exactly the original size must be enough: the cap is inclusive.
        let restored = try decompress(compressed, codec: codec, maxOutputBytes: original.count)
        #expect(restored == original)
    }

    @Test(arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func roundTripAtEveryLevelEdge(codec: CompressionCodec) throws {
        let original = Fixtures.text
        let range = try #require(codec.levelRange)
        // zstd's lowest level is -131072 ("fast" mode); -5 is a realistic negative level.
        let levels = [range.lowerBound, range.upperBound, codec.defaultLevel!, codec == .zstd ? -5 : 2]
        for level in levels {
            let compressed = try compress(original, codec: codec, level: level)
            // zstd's negative levels trade ratio for speed, down to storing the text as is.
            if level > 0 { #expect(compressed.count < original.count, "level \(level)") }
            #expect(try decompress(compressed, codec: codec, maxOutputBytes: original.count) == original)
        }
    }

    @Test func bufferPointerAndArrayOverloadsAgree() throws {
        let original = Fixtures.text
        for codec in CompressionCodec.allCases {
            let viaArray = try compress(original, codec: codec)
            let viaPointer = try original.withUnsafeBytes { try compress($0, codec: codec) }
            #expect(viaArray == viaPointer, "\(codec)")
            let restored = try viaPointer.withUnsafeBytes {
                try decompress($0, codec: codec, maxOutputBytes: original.count)
            }
            #expect(restored == original, "\(codec)")
        }
    }

    @Test func compressionShrinksRepetitiveData() throws {
        let original = SampleInput.compressible1MiB.bytes
        for codec in CompressionCodec.allCases where codec != .none {
            let compressed = try compress(original, codec: codec)
            #expect(compressed.count < original.count / 10, "\(codec): \(compressed.count) bytes")
        }
    }
}
