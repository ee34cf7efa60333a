import SkeinCompression
import Testing

@Suite("Codec identification")
struct CodecTests {
    @Test func attributesSelectTheLowThreeBits() {
        #expect(CompressionCodec(attributes: 0) == CompressionCodec.none)
        #expect(CompressionCodec(attributes: 1) == .gzip)
        #expect(CompressionCodec(attributes: 2) == .snappy)
        #expect(CompressionCodec(attributes: 3) == .lz4)
        #expect(CompressionCodec(attributes: 4) == .zstd)
        // Timestamp type (bit 3), transactional (bit 4) and control (bit 5) do not change the codec.
        #expect(CompressionCodec(attributes: 0b11_1100) == .zstd)
        #expect(CompressionCodec(attributes: -1) == nil)
        for unassigned: Int16 in [5, 6, 7, 0x0F] {
            #expect(CompressionCodec(attributes: unassigned) == nil)
        }
    }

    @Test func configNames() {
        #expect(CompressionCodec(configName: "none") == CompressionCodec.none)
        #expect(CompressionCodec(configName: "uncompressed") == CompressionCodec.none)
        #expect(CompressionCodec(configName: "gzip") == .gzip)
        #expect(CompressionCodec(configName: "snappy") == .snappy)
        #expect(CompressionCodec(configName: "lz4") == .lz4)
        #expect(CompressionCodec(configName: "zstd") == .zstd)
        #expect(CompressionCodec(configName: "producer") == nil)
        #expect(CompressionCodec(configName: "GZIP") == nil)
        #expect(CompressionCodec(configName: "") == nil)
        for codec in CompressionCodec.allCases {
            #expect(CompressionCodec(configName: codec.name) == codec)
        }
    }

    @Test func levelsFollowKafka() {
        #expect(CompressionCodec.gzip.levelRange == 1...9)
        #expect(CompressionCodec.lz4.levelRange == 1...17)
        #expect(CompressionCodec.zstd.levelRange?.upperBound == 22)
        #expect(CompressionCodec.zstd.levelRange?.lowerBound ?? 0 < 0)
        #expect(CompressionCodec.snappy.levelRange == nil)
        #expect(CompressionCodec.gzip.defaultLevel == 6)
        #expect(CompressionCodec.lz4.defaultLevel == 9)
        #expect(CompressionCodec.zstd.defaultLevel == 3)
    }

    @Test func gzipTakesKafkasDefaultLevelSetting() throws {
        #expect(CompressionCodec.gzip.accepts(level: -1))
        let compressed = try compress(Fixtures.text, codec: .gzip, level: -1)
        #expect(compressed == (try compress(Fixtures.text, codec: .gzip, level: 6)))
    }

    @Test func levelsOutsideTheRangeAreRejected() {
        let cases: [(CompressionCodec, Int)] = [
            (.gzip, 0), (.gzip, 10), (.gzip, -2), (.lz4, 0), (.lz4, 18), (.zstd, 23), (.snappy, 1), (.none, 1),
        ]
        for (codec, level) in cases {
            #expect(throws: CompressionError.invalidLevel(level, codec: codec)) {
                try compress(Fixtures.text, codec: codec, level: level)
            }
        }
    }
}
