import Testing

@testable import SkeinSyslogSource

/// RFC 6587 framing, detected per connection, across reads of any size.
@Suite struct SyslogFramingTests {
    static func frames(_ text: String, max: Int = 1024, chunk: Int = .max) -> (
        [String], [Bool], SyslogFrameDecoder.Framing
    ) {
        var decoder = SyslogFrameDecoder(maxMessageBytes: max)
        var messages: [String] = []
        var truncated: [Bool] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            bytes[start..<end].withUnsafeBytes { piece in
                decoder.feed(piece) { message, cut in
                    messages.append(String(decoding: message, as: UTF8.self))
                    truncated.append(cut)
                }
            }
            start = end
        }
        let framing = decoder.framing
        decoder.finish { message, cut in
            messages.append(String(decoding: message, as: UTF8.self))
            truncated.append(cut)
        }
        return (messages, truncated, framing)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func newlineFraming(chunk: Int) {
        let (messages, truncated, framing) = Self.frames("<13>one\n<13>two\r\n\n<13>three", chunk: chunk)
        #expect(framing == .newline)
        #expect(messages == ["<13>one", "<13>two", "<13>three"])
        #expect(truncated == [false, false, false])
    }

    @Test(arguments: [1, 2, 5, 1000])
    func octetCounting(chunk: Int) {
        // A message may hold newlines: only the count delimits it.
        let (messages, _, framing) = Self.frames("9 <13>a\nb c9 <13>hello", chunk: chunk)
        #expect(framing == .octetCounted)
        #expect(messages == ["<13>a\nb c", "<13>hello"])
    }

    @Test func octetCountedFramesSeparatedByNewlines() {
        let (messages, _, _) = Self.frames("7 <13>one\n7 <13>two\n")
        #expect(messages == ["<13>one", "<13>two"])
    }

    @Test func aHeaderThatIsNotALengthFallsBackToNewlines() {
        var decoder = SyslogFrameDecoder(maxMessageBytes: 100)
        var messages: [String] = []
        Array("12abc <13>x\n<13>y\n".utf8).withUnsafeBytes { bytes in
            decoder.feed(bytes) { message, _ in messages.append(String(decoding: message, as: UTF8.self)) }
        }
        #expect(messages == ["12abc <13>x", "<13>y"])
        #expect(decoder.framing == .newline)
        #expect(decoder.framingErrors == 1)
    }

    @Test(arguments: [1, 3, 1000])
    func longLinesAreTruncatedAndTheRestSkipped(chunk: Int) {
        let (messages, truncated, _) = Self.frames("<13>0123456789\n<13>ok\n", max: 8, chunk: chunk)
        #expect(messages == ["<13>0123", "<13>ok"])
        #expect(truncated == [true, false])
    }

    @Test(arguments: [1, 4, 1000])
    func longOctetFramesAreTruncatedAndTheRestSkipped(chunk: Int) {
        let (messages, truncated, _) = Self.frames("14 <13>0123456789 6 <13>ok", max: 8, chunk: chunk)
        #expect(messages == ["<13>0123", "<13>ok"])
        #expect(truncated == [true, false])
    }

    @Test func aFrameCutShortByTheConnectionIsKeptAndMarked() {
        let (messages, truncated, _) = Self.frames("20 <13>only part")
        #expect(messages == ["<13>only part"])
        #expect(truncated == [true])
    }
}
