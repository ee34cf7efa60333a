import SkeinSyslogSource

/// The syslog parser, which reads whatever any host on the network sends to the agent's port.
enum SyslogParserTarget {
    static let now: Int64 = 1_780_000_000_000

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        let parser = SyslogParser(utcOffsetSeconds: 3600)
        let message = parser.parse(input, now: now)
        let bytes = Array(input)
        violations.expect(message == parser.parse(bytes, now: now), "two parses of the same bytes differ")
        if let facility = message.facility {
            violations.expect(facility < 24, "facility \(facility)")
        }
        if let severity = message.severity { violations.expect(severity < 8, "severity \(severity)") }
        if message.format == .raw {
            // Kept raw: every byte, and a reason.
            violations.expect(message.message == bytes, "a raw message is not the input")
            violations.expect(message.parseError != nil, "a raw message without parse_error")
        } else {
            violations.expect(message.parseError == nil, "parsed, yet parse_error \(message.parseError ?? "")")
            // The message is what follows the header, never bytes that were not sent.
            violations.expect(
                message.message.count <= bytes.count
                    && bytes.suffix(message.message.count).elementsEqual(message.message),
                "the message is not a tail of the input")
        }
    }
}

/// The TCP framing decoder: any split of a stream into reads must give the same messages, each within the size
/// cap, and never more bytes than were sent.
enum SyslogFramingTarget {
    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        guard let first = input.first else { return }
        let maxBytes = 1 + Int(first % 64)
        let stream = UnsafeRawBufferPointer(rebasing: input[1...])
        let whole = decode(stream, maxBytes: maxBytes, chunk: stream.count)
        let step = 1 + Int(first / 64)
        let pieces = decode(stream, maxBytes: maxBytes, chunk: step)
        violations.expect(whole.messages == pieces.messages, "reads of \(step) bytes framed differently from one read")
        violations.expect(whole.truncated == pieces.truncated, "reads of \(step) bytes truncated differently")
        violations.expect(whole.framing == pieces.framing, "the framing detected depends on the reads")
        var total = 0
        for message in whole.messages {
            violations.expect(!message.isEmpty, "an empty message")
            violations.expect(message.count <= maxBytes, "a message of \(message.count) bytes over \(maxBytes)")
            total += message.count
        }
        violations.expect(total <= stream.count, "\(total) bytes out of \(stream.count)")
    }

    static func decode(_ stream: UnsafeRawBufferPointer, maxBytes: Int, chunk: Int) -> (
        messages: [[UInt8]], truncated: [Bool], framing: SyslogFrameDecoder.Framing
    ) {
        var decoder = SyslogFrameDecoder(maxMessageBytes: maxBytes)
        var messages: [[UInt8]] = []
        var truncated: [Bool] = []
        var start = 0
        while start < stream.count {
            let end = min(stream.count, start + max(1, chunk))
            decoder.feed(UnsafeRawBufferPointer(rebasing: stream[start..<end])) { bytes, cut in
                messages.append(Array(bytes))
                truncated.append(cut)
            }
            start = end
        }
        let framing = decoder.framing
        decoder.finish { bytes, cut in
            messages.append(Array(bytes))
            truncated.append(cut)
        }
        return (messages, truncated, framing)
    }
}
