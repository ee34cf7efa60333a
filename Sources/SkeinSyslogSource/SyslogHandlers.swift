import Glibc
import NIOCore
import SkeinLogShipping

public enum SyslogTransport: String, Sendable {
    case udp, tcp, unix
}

/// Turns one received message into the record value the delivery core ships, written straight from the
/// received bytes (`LogEventWriter`). Shared by every listener of a source; runs on the event loop that read
/// the message, so parsing and encoding are spread over the loops. A class: the framing closure calls it per
/// message, and copying the struct retained each of its metrics every time.
final class SyslogEventMaker: Sendable {
    let parser: SyslogParser
    let metrics: SyslogSourceMetrics
    let encoding: LogEventEncoding
    /// Counts messages dropped because even cut to nothing their record is larger than the broker takes.
    let oversize: @Sendable (Int) -> Void

    init(
        parser: SyslogParser, metrics: SyslogSourceMetrics, encoding: LogEventEncoding,
        oversize: @escaping @Sendable (Int) -> Void
    ) {
        self.parser = parser
        self.metrics = metrics
        self.encoding = encoding
        self.oversize = oversize
    }

    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Parses the message and writes its record: the header's fields, then `facility`, `transport`,
    /// `remote_addr`, `procid`, `msgid`, `sequence`, the structured data and `parse_error`, in that order.
    func write(
        _ raw: UnsafeRawBufferPointer, truncated: Bool, transport: SyslogTransport, remoteAddress: [UInt8]?,
        now: Int64, into writer: inout LogEventWriter
    ) {
        let header = parser.scan(raw.assumingMemoryBound(to: UInt8.self), now: now)
        // A value larger than the broker takes is written again with less of the message, as the core cuts a
        // `LogEvent`'s (rare: the default message limit is 64 KiB, the record limit 1 MiB).
        var message = header.message
        while true {
            write(
                header, message: message, raw: raw, truncated: truncated || message != header.message,
                transport: transport, remoteAddress: remoteAddress, now: now, into: &writer)
            let valueBytes = writer.lastValueBytes
            guard valueBytes > writer.maxValueBytes else { break }
            writer.dropLast()
            if message.isEmpty {
                // Too large with nothing of MSG left: its structured data alone (possible only with
                // max_message_bytes far above its default). The broker would refuse it, and with it every
                // transaction it was in, for good: dropped and counted instead.
                oversize(1)
                break
            }
            let keep = LogRecordEncoder.shorterMessage(
                message.count, valueBytes: valueBytes, maxBytes: writer.maxValueBytes)
            message = message.lowerBound..<message.lowerBound + keep
        }
        if header.parseError != nil { metrics.parseErrors.increment() }
        if truncated { metrics.truncated.increment() }
    }

    private func write(
        _ header: SyslogHeader, message: Range<Int>, raw: UnsafeRawBufferPointer, truncated: Bool,
        transport: SyslogTransport, remoteAddress: [UInt8]?, now: Int64, into writer: inout LogEventWriter
    ) {
        func part(_ range: Range<Int>?) -> UnsafeRawBufferPointer? {
            range.map { UnsafeRawBufferPointer(rebasing: raw[$0]) }
        }
        writer.begin(
            timestamp: header.timestampMilliseconds ?? now, host: part(header.hostname), unit: part(header.appName),
            severity: header.severity, message: UnsafeRawBufferPointer(rebasing: raw[message]),
            flags: truncated ? .truncated : [])
        if let facility = header.facility {
            writer.field("facility", SyslogMessage.facilityNames[Int(facility)])
        }
        switch transport {
        case .tcp: writer.field("transport", "tcp" as StaticString)
        case .udp: writer.field("transport", "udp" as StaticString)
        case .unix: writer.field("transport", "unix" as StaticString)
        }
        if let remoteAddress { remoteAddress.withUnsafeBytes { writer.field("remote_addr", $0) } }
        if let procId = part(header.procId) { writer.field("procid", procId) }
        if let msgId = part(header.msgId) { writer.field("msgid", msgId) }
        if let sequence = header.sequence { writer.field("sequence", decimal: sequence) }
        for (name, value) in header.structuredData { writer.field(name, value) }
        if let error = header.parseError { writer.field("parse_error", error) }
        writer.end()
    }
}

/// A connection's framing and the records written from it, together: one access to the handler's state per
/// read rather than two per message (a class's stored properties are checked for exclusive access at run
/// time, which a profile put at 3 % of the agent's CPU).
struct SyslogStreamState: ~Copyable {
    var decoder: SyslogFrameDecoder
    var writer: LogEventWriter

    /// Frames `bytes` (nil: the connection ended) and writes a record per message; returns how many.
    mutating func read(
        _ bytes: UnsafeRawBufferPointer?, maker: SyslogEventMaker, remoteAddress: [UInt8]?, now: Int64
    ) -> Int {
        var count = 0
        func emit(_ message: UnsafeRawBufferPointer, _ truncated: Bool) {
            maker.write(
                message, truncated: truncated, transport: .tcp, remoteAddress: remoteAddress, now: now,
                into: &writer)
            count += 1
        }
        if let bytes { decoder.feed(bytes, emit) } else { decoder.finish(emit) }
        return count
    }
}

/// One TCP connection: frames, parses, queues; stops reading while the queue is full.
final class SyslogStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var state: SyslogStreamState
    private let maker: SyslogEventMaker
    private let intake: SyslogIntake
    private var remoteAddress: [UInt8]?

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake) {
        state = SyslogStreamState(
            decoder: SyslogFrameDecoder(maxMessageBytes: maxMessageBytes), writer: LogEventWriter(maker.encoding))
        self.maker = maker
        self.intake = intake
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress?.ipAddress.map { Array($0.utf8) }
        maker.metrics.connections.increment()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let count = state.read(
            nil, maker: maker, remoteAddress: remoteAddress, now: SyslogEventMaker.nowMilliseconds())
        maker.metrics.receivedTCP.increment(by: count)
        flush(context: context)
        maker.metrics.connections.decrement()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = SyslogEventMaker.nowMilliseconds()
        let count = buffer.withUnsafeReadableBytes { bytes in
            state.read(bytes, maker: maker, remoteAddress: remoteAddress, now: now)
        }
        maker.metrics.receivedTCP.increment(by: count)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelReadComplete()
    }

    private func flush(context: ChannelHandlerContext) {
        guard state.writer.count > 0 else { return }
        if !intake.pushStream(state.writer.take(stream: SyslogSource.stream), pausing: context.channel) {
            // Backpressure: no more reads until the run loop has taken the queue (it turns autoRead back on).
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// UDP: one datagram is one message (a sender that packs several lines into one datagram gets one record).
final class SyslogDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let maxMessageBytes: Int
    private let maker: SyslogEventMaker
    private let intake: SyslogIntake
    private let sink: any SourceSink
    private var lastAddress: SocketAddress?
    private var lastAddressText: [UInt8]?
    private var writer: LogEventWriter

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake, sink: any SourceSink) {
        self.maxMessageBytes = maxMessageBytes
        self.maker = maker
        self.intake = intake
        self.sink = sink
        writer = LogEventWriter(maker.encoding, capacity: 1024)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if envelope.remoteAddress != lastAddress {
            lastAddress = envelope.remoteAddress
            lastAddressText = envelope.remoteAddress.ipAddress.map { Array($0.utf8) }
        }
        guard
            writeDatagram(
                envelope.data, maxMessageBytes: maxMessageBytes, maker: maker, transport: .udp,
                remoteAddress: lastAddressText, into: &writer)
        else { return }
        if !intake.pushDatagram(writer.take(stream: SyslogSource.stream)) { sink.dropped(1, reason: "udp_overflow") }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket's errors (an ICMP-reported refusal, say) concern one packet, not the listener.
    }
}

/// A unix datagram socket read as a pipe (each read is one datagram): NIO's datagram channel cannot take
/// a datagram from an unbound sender, which is what `logger` and libc's syslog(3) are.
final class SyslogUnixDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let maxMessageBytes: Int
    private let maker: SyslogEventMaker
    private let intake: SyslogIntake
    private let sink: any SourceSink
    private var writer: LogEventWriter

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake, sink: any SourceSink) {
        self.maxMessageBytes = maxMessageBytes
        self.maker = maker
        self.intake = intake
        self.sink = sink
        writer = LogEventWriter(maker.encoding, capacity: 1024)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard
            writeDatagram(
                buffer, maxMessageBytes: maxMessageBytes, maker: maker, transport: .unix, remoteAddress: nil,
                into: &writer)
        else { return }
        if !intake.pushDatagram(writer.take(stream: SyslogSource.stream)) { sink.dropped(1, reason: "udp_overflow") }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// A datagram's message: trailing newlines and NULs dropped, cut at `maxMessageBytes` (the receive buffer is
/// one byte larger, so a longer datagram shows). False for an empty datagram.
private func writeDatagram(
    _ buffer: ByteBuffer, maxMessageBytes: Int, maker: SyslogEventMaker, transport: SyslogTransport,
    remoteAddress: [UInt8]?, into writer: inout LogEventWriter
) -> Bool {
    buffer.withUnsafeReadableBytes { bytes -> Bool in
        var count = bytes.count
        while count > 0, bytes[count - 1] == 0x0A || bytes[count - 1] == 0x0D || bytes[count - 1] == 0 { count -= 1 }
        guard count > 0 else { return false }
        let kept = min(count, maxMessageBytes)
        maker.write(
            UnsafeRawBufferPointer(rebasing: bytes[0..<kept]), truncated: count > maxMessageBytes,
            transport: transport, remoteAddress: remoteAddress, now: SyslogEventMaker.nowMilliseconds(),
            into: &writer)
        maker.metrics.received(transport).increment()
        return true
    }
}
