import Foundation
import Testing

@testable import SkeinLogShipping
@testable import SkeinMetrics

/// The per-record shortcuts of the delivery path must give exactly what the plain code gives.
@Suite struct EncodingFastPathTests {
    @Test func cachedTimestampsMatchTheDirectFormat() {
        var cache = RFC3339.Cache()
        // Same second twice, the next second, a jump back, before 1970, a leap day.
        let times: [Int64] = [
            1_764_900_000_123, 1_764_900_000_999, 1_764_900_001_000, 1_700_000_000_005, -1, -86_400_001,
            951_782_400_500, 951_782_400_501,
        ]
        for milliseconds in times {
            var direct: [UInt8] = []
            RFC3339.appendUTC(milliseconds: milliseconds, to: &direct)
            var cached: [UInt8] = []
            RFC3339.appendUTC(milliseconds: milliseconds, to: &cached, cache: &cache)
            #expect(String(decoding: cached, as: UTF8.self) == String(decoding: direct, as: UTF8.self))
        }
    }

    @Test func wordScanAgreesWithTheByteRule() {
        func byteRule(_ byte: UInt8) -> Bool { byte < 0x20 || byte >= 0x80 || byte == 0x22 || byte == 0x5C }
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xFF]
        for round in 0..<20_000 {
            var bytes = (0..<8).map { _ in UInt8.random(in: 0x20...0x7E, using: &generator) }
            if round % 2 == 0 {
                bytes[Int.random(in: 0..<8, using: &generator)] = interesting.randomElement(using: &generator)!
            }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(JSONBytes.needsEscapeOrValidation(word) == bytes.contains(where: byteRule))
        }
    }

    @Test func encodesLongMessagesWithEveryKindOfByte() throws {
        let encoder = LogRecordEncoder(host: "h", sourceKind: "syslog")
        let message =
            Array("plain ascii run of more than sixteen bytes \"q\" back\\slash tab\t ü €".utf8) + [0xFF, 0x41]
        let event = LogEvent(timestampMilliseconds: 0, message: message, stream: "syslog", position: "1")
        let text = String(decoding: encoder.encode(event), as: UTF8.self)
        #expect(
            text.contains(
                #""message":"plain ascii run of more than sixteen bytes \"q\" back\\slash tab\t ü €\#u{FFFD}A""#))
        #expect(text.contains(#""invalid_utf8":true"#))
    }

    /// One scratch buffer serves a whole batch: after growing and after long records, each record's bytes
    /// are exactly what encoding it alone gives, and valid JSON.
    @Test func aReusedScratchBufferGivesEachRecordAlone() throws {
        let encoder = LogRecordEncoder(host: "h", sourceKind: "syslog")
        let events = [
            LogEvent(
                timestampMilliseconds: 1_764_900_000_123, message: Array(repeating: 0x61, count: 70_000),
                stream: "syslog", position: "1"),
            LogEvent(
                timestampMilliseconds: 1_764_900_000_124, message: [0x01, 0x1F, 0x22, 0x5C, 0x0A, 0xC3, 0x28],
                unit: "app", host: "other", severity: 3,
                fields: [("n", .integer(-42)), ("d", .double(1.5)), ("b", .boolean(false)), ("s", .string("x\"y"))],
                stream: "syslog", position: "2", flags: [.truncated, .split, .multilineFlushed]),
            LogEvent(timestampMilliseconds: 1_764_900_001_000, message: [], stream: "syslog", position: "3"),
        ]
        var scratch = JSONBytes(capacity: 16)
        var timestamps = RFC3339.Cache()
        for event in events {
            scratch.reset()
            encoder.write(event, into: &scratch, timestamps: &timestamps)
            #expect(scratch.array == encoder.encode(event))
            _ = try JSONSerialization.jsonObject(with: Data(scratch.array))
        }
        let text = String(decoding: encoder.encode(events[1]), as: UTF8.self)
        #expect(text.contains(#""message":"\u0001\u001f\"\\\n\#u{FFFD}(""#))
        #expect(text.contains(#""n":-42,"d":1.5,"b":false,"s":"x\"y""#))
        #expect(text.contains(#""host":"other","source":"syslog","unit":"app","severity":"err""#))
        #expect(text.contains(#""truncated":true,"split":true,"multiline_flushed":true,"invalid_utf8":true"#))
    }

    @Test func sequenceAndPositionValues() {
        for sequence: UInt64 in [0, 7, 10, 99, 1_000_000, UInt64.max] {
            #expect(PositionHeaders.sequenceValue(sequence) == Array(String(sequence).utf8))
        }
        #expect(PositionHeaders.positionValue(stream: "journal", position: "s=1;i=2") == Array("journal@s=1;i=2".utf8))
        #expect(PositionHeaders.positionValue(stream: "syslog", position: "") == Array("syslog@".utf8))
    }

    @Test func histogramCountsRepeatedObservations() {
        let once = Histogram(upperBounds: [0.1, 1])
        let many = Histogram(upperBounds: [0.1, 1])
        for _ in 0..<5 { once.observe(0.5) }
        many.observe(0.5, times: 5)
        many.observe(2, times: 0)
        #expect(many.snapshot == once.snapshot)
    }
}
