import CCRC32C
import Testing

@Suite struct CRC32CTests {
    @Test func standardCheckValues() {
        let digits = Array("123456789".utf8)
        #expect(skein_crc32c(0, digits, digits.count) == 0xE306_9283)
        #expect(skein_crc32c_portable(0, digits, digits.count) == 0xE306_9283)
        let zeros = [UInt8](repeating: 0, count: 32)
        #expect(skein_crc32c(0, zeros, zeros.count) == 0x8A91_36AA)
        #expect(skein_crc32c_portable(0, zeros, zeros.count) == 0x8A91_36AA)
    }

    @Test func hardwareAndPortablePathsAgreeAtEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for start in 0..<9 {
                for length in [0, 1, 7, 8, 9, 31, 32, 33, 255, 1000, 4000] {
                    let pointer = raw.baseAddress! + start
                    #expect(skein_crc32c(0, pointer, length) == skein_crc32c_portable(0, pointer, length))
                }
            }
        }
    }

    @Test func threeLaneHardwarePathAgreesOnLargeInputs() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<(200 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { raw in
            for start in [0, 1, 5] {
                for length in [12287, 12288, 12289, 24576 + 7, 100_000, 200 * 1024 - 5] {
                    let pointer = raw.baseAddress! + start
                    #expect(
                        skein_crc32c(0, pointer, length) == skein_crc32c_portable(0, pointer, length),
                        "length \(length)")
                }
            }
        }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        #expect(skein_crc32c(0, zeros, zeros.count) == skein_crc32c_portable(0, zeros, zeros.count))
    }

    @Test func continuesAcrossChunks() {
        let data = Array("The quick brown fox jumps over the lazy dog".utf8)
        let whole = skein_crc32c(0, data, data.count)
        let first = skein_crc32c(0, data, 10)
        let resumed = data.withUnsafeBytes { skein_crc32c(first, $0.baseAddress! + 10, data.count - 10) }
        #expect(resumed == whole)
    }
}
