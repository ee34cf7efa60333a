import Glibc

/// Cuts a syslog TCP stream into messages (RFC 6587). Pure: bytes in, messages out, any chunking.
///
/// The framing is chosen per connection by its first byte, as rsyslog and syslog-ng do: a digit 1–9 starts
/// octet counting (`LEN SP MSG`), anything else (`<` of a PRI, above all) newline-terminated messages. A
/// header that turns out not to be a length (not digits up to a space, or too long) switches the connection
/// to newline framing, keeping those bytes as the start of a message: nothing a sender wrote is skipped
/// except what is cut at `maxMessageBytes`.
public struct SyslogFrameDecoder: Sendable {
    public enum Framing: Sendable, Equatable {
        case undetermined, newline, octetCounted
    }

    public private(set) var framing: Framing = .undetermined
    public let maxMessageBytes: Int
    /// Headers that were not a length, so the connection fell back to newline framing.
    public private(set) var framingErrors = 0

    /// The current message's bytes so far, at most `maxMessageBytes`.
    private var pending: [UInt8] = []
    /// Newline framing: the kept head of an overlong line was emitted; skip to its `\n`.
    private var skippingLine = false
    /// Octet counting: digits of the length read so far, or nil when between header and payload.
    private var header: [UInt8] = []
    private var inHeader = true
    /// Octet counting: payload bytes still to come, of which the first `keep` are kept.
    private var remaining = 0
    private var frameTruncated = false

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = max(1, maxMessageBytes)
    }

    public typealias Emit = (_ message: UnsafeRawBufferPointer, _ truncated: Bool) -> Void

    public mutating func feed(_ chunk: UnsafeRawBufferPointer, _ emit: Emit) {
        var index = 0
        while index < chunk.count {
            switch framing {
            case .undetermined:
                let first = chunk[index]
                framing = first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") ? .octetCounted : .newline
            case .newline:
                index = feedLines(chunk, from: index, emit)
            case .octetCounted:
                index = feedOctets(chunk, from: index, emit)
            }
        }
    }

    /// The connection ended: a last line without its newline is a message; a frame cut short is emitted
    /// as far as it came, flagged truncated.
    public mutating func finish(_ emit: Emit) {
        switch framing {
        case .newline:
            if !pending.isEmpty && !skippingLine { emitPending(truncated: false, emit) }
        case .octetCounted:
            if !inHeader && !pending.isEmpty { emitPending(truncated: true, emit) }
        case .undetermined: break
        }
        pending.removeAll()
        skippingLine = false
        header.removeAll()
        inHeader = true
    }

    private mutating func feedLines(_ chunk: UnsafeRawBufferPointer, from start: Int, _ emit: Emit) -> Int {
        let base = chunk.baseAddress!
        let count = chunk.count - start
        let newline = memchr(base + start, 0x0A, count)
        let end = newline.map { base.distance(to: UnsafeRawPointer($0)) } ?? chunk.count
        if skippingLine {
            if newline != nil { skippingLine = false }
            return newline == nil ? chunk.count : end + 1
        }
        let piece = UnsafeRawBufferPointer(rebasing: chunk[start..<end])
        if newline != nil && pending.isEmpty {
            // The common case: the whole line is in this chunk, handed on without a copy.
            let kept = UnsafeRawBufferPointer(rebasing: piece.prefix(maxMessageBytes))
            Self.emitTrimmed(kept, truncated: piece.count > maxMessageBytes, emit)
            return end + 1
        }
        let room = maxMessageBytes - pending.count
        pending.append(contentsOf: piece.prefix(room))
        if piece.count > room {
            emitPending(truncated: true, emit)
            skippingLine = newline == nil
            return newline == nil ? chunk.count : end + 1
        }
        if newline != nil {
            emitPending(truncated: false, emit)
            return end + 1
        }
        return chunk.count
    }

    private mutating func feedOctets(_ chunk: UnsafeRawBufferPointer, from start: Int, _ emit: Emit) -> Int {
        var index = start
        if inHeader {
            while index < chunk.count {
                let byte = chunk[index]
                if header.isEmpty && (byte == 0x0A || byte == 0x0D || byte == 0x20 || byte == 0) {
                    index += 1  // stray separators between frames
                    continue
                }
                if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") && header.count < 9
                    && !(header.isEmpty && byte == UInt8(ascii: "0"))
                {
                    header.append(byte)
                    index += 1
                    continue
                }
                if byte == 0x20 && !header.isEmpty {
                    index += 1
                    var length = 0
                    for digit in header { length = length * 10 + Int(digit - UInt8(ascii: "0")) }
                    header.removeAll(keepingCapacity: true)
                    inHeader = false
                    remaining = length
                    frameTruncated = length > maxMessageBytes
                    break
                }
                // Not a length: the rest of the connection is newline-framed, starting with these bytes.
                framingErrors += 1
                framing = .newline
                pending = Array(header.prefix(maxMessageBytes))
                header.removeAll()
                return index
            }
            if inHeader { return index }
        }
        let available = min(remaining, chunk.count - index)
        let room = max(0, maxMessageBytes - pending.count)
        let keep = min(room, available)
        if pending.isEmpty && available == remaining && remaining <= maxMessageBytes {
            Self.emitTrimmed(UnsafeRawBufferPointer(rebasing: chunk[index..<index + available]), truncated: false, emit)
        } else {
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[index..<index + keep]))
            if available == remaining { emitPending(truncated: frameTruncated, emit) }
        }
        remaining -= available
        if remaining == 0 {
            inHeader = true
            pending.removeAll(keepingCapacity: true)
        }
        return index + available
    }

    private mutating func emitPending(truncated: Bool, _ emit: Emit) {
        pending.withUnsafeBytes { Self.emitTrimmed($0, truncated: truncated, emit) }
        pending.removeAll(keepingCapacity: pending.capacity <= 65536)
    }

    /// Drops a trailing `\r` (and `\n` or NUL inside an octet-counted frame); empty messages are not emitted.
    private static func emitTrimmed(_ bytes: UnsafeRawBufferPointer, truncated: Bool, _ emit: Emit) {
        var count = bytes.count
        while count > 0, bytes[count - 1] == 0x0D || bytes[count - 1] == 0x0A || bytes[count - 1] == 0 { count -= 1 }
        guard count > 0 else { return }
        emit(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), truncated)
    }
}
