import Glibc
import NIOCore
import SkeinLogShipping

public enum SyslogTransport: String, Sendable {
    case udp, tcp, unix
}

/// Turns one received message into the event the delivery core ships. Shared by every listener of a
/// source; runs on the event loop that read the message, so parsing is spread over the loops. A class: the
/// framing closure calls it per message, and copying the struct retained each of its metrics every time.
final class SyslogEventMaker: Sendable {
    let parser: SyslogParser
    let metrics: SyslogSourceMetrics

    init(parser: SyslogParser, metrics: SyslogSourceMetrics) {
        self.parser = parser
        self.metrics = metrics
    }

    static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    func event(
        _ bytes: UnsafeRawBufferPointer, truncated: Bool, transport: SyslogTransport, remoteAddress: String?,
        now: Int64
    ) -> LogEvent {
        var message = parser.parse(bytes, now: now)
        // Moved out rather than copied: a retain now and a release when the parse result goes.
        var body: [UInt8] = []
        swap(&body, &message.message)
        var fields: [(String, LogFieldValue)] = []
        fields.reserveCapacity(4 + message.structuredData.count)
        if let facility = message.facility {
            fields.append(("facility", .string(SyslogMessage.facilityNames[Int(facility)])))
        }
        fields.append(("transport", .string(transport.rawValue)))
        if let remoteAddress { fields.append(("remote_addr", .string(remoteAddress))) }
        if let procId = message.procId { fields.append(("procid", .string(procId))) }
        if let msgId = message.msgId { fields.append(("msgid", .string(msgId))) }
        if let sequence = message.sequence { fields.append(("sequence", .string(sequence))) }
        for (name, value) in message.structuredData { fields.append((name, .string(value))) }
        if let error = message.parseError {
            fields.append(("parse_error", .string(error)))
            metrics.parseErrors.increment()
        }
        if truncated { metrics.truncated.increment() }
        metrics.received(transport).increment()
        return LogEvent(
            timestampMilliseconds: message.timestampMilliseconds ?? now, message: body,
            unit: message.appName, host: message.hostname, severity: message.severity, fields: fields,
            stream: SyslogSource.stream, position: "", flags: truncated ? .truncated : [])
    }
}

/// One TCP connection: frames, parses, queues; stops reading while the queue is full.
final class SyslogStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var decoder: SyslogFrameDecoder
    private let maker: SyslogEventMaker
    private let intake: SyslogIntake
    private var remoteAddress: String?
    private var events: [LogEvent] = []

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake) {
        decoder = SyslogFrameDecoder(maxMessageBytes: maxMessageBytes)
        self.maker = maker
        self.intake = intake
    }

    func channelActive(context: ChannelHandlerContext) {
        remoteAddress = context.channel.remoteAddress?.ipAddress
        maker.metrics.connections.increment()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let now = SyslogEventMaker.nowMilliseconds()
        let (maker, address) = (self.maker, remoteAddress)
        decoder.finish { bytes, truncated in
            events.append(
                maker.event(bytes, truncated: truncated, transport: .tcp, remoteAddress: address, now: now))
        }
        flush(context: context)
        maker.metrics.connections.decrement()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = SyslogEventMaker.nowMilliseconds()
        let (maker, address) = (self.maker, remoteAddress)
        buffer.withUnsafeReadableBytes { bytes in
            decoder.feed(bytes) { message, truncated in
                events.append(
                    maker.event(message, truncated: truncated, transport: .tcp, remoteAddress: address, now: now))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
        context.fireChannelReadComplete()
    }

    private func flush(context: ChannelHandlerContext) {
        guard !events.isEmpty else { return }
        let batch = events
        events = []
        events.reserveCapacity(batch.count)
        if !intake.pushStream(batch, pausing: context.channel) {
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
    private var lastAddressText: String?

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake, sink: any SourceSink) {
        self.maxMessageBytes = maxMessageBytes
        self.maker = maker
        self.intake = intake
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if envelope.remoteAddress != lastAddress {
            lastAddress = envelope.remoteAddress
            lastAddressText = envelope.remoteAddress.ipAddress
        }
        let event = datagramEvent(
            envelope.data, maxMessageBytes: maxMessageBytes, maker: maker, transport: .udp,
            remoteAddress: lastAddressText)
        guard let event else { return }
        if !intake.pushDatagram(event) { sink.dropped(1, reason: "udp_overflow") }
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

    init(maxMessageBytes: Int, maker: SyslogEventMaker, intake: SyslogIntake, sink: any SourceSink) {
        self.maxMessageBytes = maxMessageBytes
        self.maker = maker
        self.intake = intake
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard
            let event = datagramEvent(
                buffer, maxMessageBytes: maxMessageBytes, maker: maker, transport: .unix, remoteAddress: nil)
        else { return }
        if !intake.pushDatagram(event) { sink.dropped(1, reason: "udp_overflow") }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// A datagram's message: trailing newlines and NULs dropped, cut at `maxMessageBytes` (the receive buffer is
/// one byte larger, so a longer datagram shows).
private func datagramEvent(
    _ buffer: ByteBuffer, maxMessageBytes: Int, maker: SyslogEventMaker, transport: SyslogTransport,
    remoteAddress: String?
) -> LogEvent? {
    buffer.withUnsafeReadableBytes { bytes -> LogEvent? in
        var count = bytes.count
        while count > 0, bytes[count - 1] == 0x0A || bytes[count - 1] == 0x0D || bytes[count - 1] == 0 { count -= 1 }
        guard count > 0 else { return nil }
        let kept = min(count, maxMessageBytes)
        return maker.event(
            UnsafeRawBufferPointer(rebasing: bytes[0..<kept]), truncated: count > maxMessageBytes,
            transport: transport, remoteAddress: remoteAddress, now: SyslogEventMaker.nowMilliseconds())
    }
}
