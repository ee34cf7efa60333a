import Foundation
import SkeinCompression
import Testing

/// Data from other producers of each format, so a symmetric bug in our writer and reader cannot hide behind
/// a passing round trip. See `Fixtures` for where each one came from.
@Suite("Other producers' output")
struct FixtureTests {
    static let limit = 1 << 20

    @Test(arguments: [
        ("gzip from Python", CompressionCodec.gzip, Fixtures.gzipFromPython),
        ("raw snappy", .snappy, Fixtures.rawSnappy),
        ("xerial snappy from kafka-python", .snappy, Fixtures.xerialSnappy),
        ("lz4 CLI", .lz4, Fixtures.lz4FromCLI),
        ("lz4 linked blocks and content size", .lz4, Fixtures.lz4LinkedWithContentSize),
        ("zstd without content size", .zstd, Fixtures.zstdWithoutContentSize),
        ("zstd with content size", .zstd, Fixtures.zstdWithContentSize),
    ])
    func decodesToTheText(name: String, codec: CompressionCodec, fixture: [UInt8]) throws {
        #expect(try decompress(fixture, codec: codec, maxOutputBytes: Self.limit) == Fixtures.text)
    }

    @Test(arguments: [
        (CompressionCodec.gzip, Fixtures.gzipTwoMembers),
        (.lz4, Fixtures.lz4TwoFrames),
        (.zstd, Fixtures.zstdTwoFrames),
    ])
    func concatenatedUnitsDecodeInOrder(codec: CompressionCodec, fixture: [UInt8]) throws {
        #expect(try decompress(fixture, codec: codec, maxOutputBytes: Self.limit) == Fixtures.twoMembersText)
    }

    @Test func xerialChunksOfAnySizeAreRead() throws {
        // Re-frame the raw fixture as one big xerial chunk, as an older snappy-java with a larger block size
        // would have written it.
        let header: [UInt8] = [0x82] + Array("SNAPPY".utf8) + [0, 0, 0, 0, 1, 0, 0, 0, 1]
        let length = UInt32(Fixtures.rawSnappy.count)
        let framed = header + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) } + Fixtures.rawSnappy
        #expect(try decompress(framed, codec: .snappy, maxOutputBytes: Self.limit) == Fixtures.text)
    }

    /// Our writer's bytes, checked against what Kafka's readers expect to find.
    @Test func xerialOutputMatchesSnappyJavasLayout() throws {
        let compressed = try compress(Fixtures.text, codec: .snappy)
        let header: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]
        #expect(Array(compressed.prefix(16)) == header)
        // 38 KiB in 32 KiB chunks is two chunks, and each is a raw snappy block of its own.
        var offset = 16
        var decoded: [UInt8] = []
        while offset < compressed.count {
            let length = compressed[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 4
            let block = Array(compressed[offset..<offset + length])
            let chunk = try decompress(block, codec: .snappy, maxOutputBytes: 32 * 1024)
            #expect(chunk.count == min(32 * 1024, Fixtures.text.count - decoded.count))
            decoded += chunk
            offset += length
        }
        #expect(offset == compressed.count)
        #expect(decoded == Fixtures.text)
    }

    @Test func emptyInputStillLooksFramedToLibrdkafka() throws {
        // librdkafka and kafka-python only take data longer than the header (plus a length) as framed.
        let compressed = try compress([], codec: .snappy)
        #expect(compressed.count > 16 + 4)
    }

    @Test func lz4HeaderMatchesKafkasWriter() throws {
        let compressed = try compress(Fixtures.text, codec: .lz4)
        #expect(Array(compressed.prefix(4)) == [0x04, 0x22, 0x4D, 0x18])  // frame magic, little-endian
        #expect(compressed[4] == 0b0110_0000)  // FLG: version 01, independent blocks, no checksums, no size
        #expect(compressed[5] == 0b0100_0000)  // BD: 64 KiB blocks
    }

    @Test func gzipOutputIsReadByPython() throws {
        guard let python = Self.findExecutable("python3") else {
            // The cross-check is opportunistic; the embedded fixtures cover reading without Python.
            return
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("skein-compression-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in.gz")
        let output = directory.appendingPathComponent("out")
        try Data(try compress(Fixtures.text, codec: .gzip)).write(to: input)

        let process = Process()
        process.executableURL = python
        process.arguments = [
            "-c", "import gzip, sys; open(sys.argv[2], 'wb').write(gzip.open(sys.argv[1]).read())",
            input.path, output.path,
        ]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try [UInt8](Data(contentsOf: output)) == Fixtures.text)
    }

    private static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").lazy
            .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
