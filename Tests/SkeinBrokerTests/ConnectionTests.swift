import Foundation
import Logging
import NIOCore
import SkeinProtocol
import Synchronization
import Testing

@testable import SkeinBroker

/// What a StreamLogHandler wrote, for checking log lines as they appear on stderr.
final class CapturedLog: TextOutputStream, Sendable {
    private let text = Mutex("")
    func write(_ string: String) { text.withLock { $0 += string } }
    /// Lines as a terminal shows them: "\r\n" is one Character, so split on Character.isNewline.
    var lines: [Substring] { all.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).dropLast() }
    var all: String { text.withLock { $0 } }

    func logger(escaping: Bool = true) -> Logger {
        Logger(label: "test") { label in
            let stream = StreamLogHandler(label: label, stream: self, metadataProvider: nil)
            return escaping ? EscapingLogHandler(stream) as any LogHandler : stream
        }
    }
}

@Suite struct LogEscapingTests {
    @Test func controlsAreEscapedScalarByScalar() {
        #expect("a\r\nb".escapedForLog == "a\\r\\nb")
        #expect(
            "x\u{85}y\u{2028}z\u{2029}\u{7F}\u{1B}\u{9F}\t".escapedForLog
                == "x\\u{85}y\\u{2028}z\\u{2029}\\u{7f}\\u{1b}\\u{9f}\\t")
        #expect("plain ünïcode – ok \"q\" \\".escapedForLog == "plain ünïcode – ok \"q\" \\")
        #expect("say \"hi\"\\\n".quotedForLog == "\"say \\\"hi\\\"\\\\\\n\"")
        #expect((nil as String?).quotedForLog == "null")
        #expect(
            String(repeating: "a", count: 250).quotedForLog == "\"" + String(repeating: "a", count: 200)
                + "\"… (50 more characters)")
    }

    @Test func everyLineStaysOneLineWhateverAClientSent() {
        let captured = CapturedLog()
        var logger = captured.logger()
        logger[metadataKey: "client"] = "evil\u{2028}id"
        let forged = "x\r\n2026-12-04T00:00:00+0000 critical skeind: [SkeinBroker] FORGED\u{85}more"
        logger.warning("client \(forged)", metadata: ["topic": .string("t\nu"), "list": ["a\rb"]])
        logger.error("failed", error: CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "/a\nb"]))
        #expect(captured.lines.count == 2, "\(captured.all)")
        #expect(!captured.all.contains("\r") && !captured.all.contains("\u{85}") && !captured.all.contains("\u{2028}"))
        #expect(captured.all.contains("x\\r\\n2026-12-04T00:00:00+0000 critical"))
        // Without the wrapper the same call writes the forged line: the test can fail.
        let raw = CapturedLog()
        raw.logger(escaping: false).warning("client \(forged)")
        #expect(raw.lines.contains { $0.hasPrefix("2026-12-04T00:00:00+0000 critical") })
    }
}

@Suite struct LogRateLimiterTests {
    @Test func aFewLinesPerIntervalThenOneLineWithTheCount() {
        let captured = CapturedLog()
        let limiter = LogRateLimiter(logger: captured.logger(), linesPerInterval: 3, intervalMs: 1000)
        let start: UInt64 = 1_000_000_000_000
        for index in 0..<10 { limiter.log(.warning, "bad request", "line \(index)", now: start + UInt64(index)) }
        limiter.log(.warning, "other kind", "other", now: start + 20)
        #expect(captured.lines.count == 4)
        limiter.flush(now: start + 999_000_000)
        #expect(captured.lines.count == 4, "no summary before the interval ends")
        limiter.flush(now: start + 1_000_000_100)
        #expect(captured.lines.count == 5)
        #expect(captured.lines.last?.contains("7 more bad request lines suppressed") == true, "\(captured.all)")
        limiter.log(.warning, "bad request", "after", now: start + 2_000_000_000)
        #expect(captured.lines.last?.hasSuffix("after") == true)
        // A summary also comes with the first line of the next interval, if no flush ran in between.
        for index in 0..<5 { limiter.log(.warning, "x", "x\(index)", now: start + 3_000_000_000 + UInt64(index)) }
        limiter.log(.warning, "x", "next", now: start + 4_000_000_000)
        #expect(captured.lines.suffix(2).first?.contains("2 more x lines suppressed") == true, "\(captured.all)")
    }
}

@Suite(.serialized) struct ConnectionLimitTests {
    @Test func connectionSettingsByTheirKafkaNames() throws {
        var config = BrokerConfig()
        #expect(config.maxConnections == nil && config.maxConnectionsPerIp == .max)
        #expect(config.connectionsMaxIdleMs == 600_000 && config.queuedMaxRequestBytes == 256 << 20)
        try config.apply(
            propertiesText: """
                max.connections=500
                max.connections.per.ip=20
                max.connections.per.ip.overrides=127.0.0.2:5, [::1]:0,10.1.1.1:100
                connections.max.idle.ms=1000
                socket.partial.request.timeout.ms=2000
                queued.max.request.bytes=-1
                connection.log.lines.per.interval=0
                """)
        #expect(config.maxConnections == 500 && config.maxConnectionsPerIp == 20)
        #expect(config.maxConnectionsPerIpOverrides == ["127.0.0.2": 5, "::1": 0, "10.1.1.1": 100])
        #expect(config.connectionsMaxIdleMs == 1000 && config.partialRequestTimeoutMs == 2000)
        #expect(config.queuedMaxRequestBytes == nil && config.connectionLogLinesPerInterval == 0)
        for (name, value) in [
            ("max.connections", "0"), ("max.connections.per.ip", "-3"), ("connections.max.idle.ms", "x"),
            ("queued.max.request.bytes", "0"), ("max.connections.per.ip.overrides", "127.0.0.1"),
            ("connection.log.interval.ms", "0"), ("connection.log.lines.per.interval", "-1"),
        ] {
            #expect(throws: BrokerConfig.InvalidSetting.self, "\(name)=\(value)") { try config.apply(name, value) }
        }
        #expect(ConnectionGate.defaultMaxConnections() >= 16)
    }

    @Test func maxConnectionsClosesNewConnectionsAtOnce() async throws {
        try await withBroker(settings: ["max.connections": "2"]) { broker in
            let first = try broker.connect()
            let second = try broker.connect()
            #expect(try first.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(try second.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            let third = try broker.connect()
            #expect(third.isClosedByPeer())
            #expect(
                broker.broker.metrics.render().contains("skein_connections_refused_total{reason=\"max_connections\"} 1")
            )
            _ = consume first
            #expect(eventually { broker.server.gate.open == 1 })
            #expect(try broker.connect().roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
        }
    }

    @Test func perAddressLimitsAndOverrides() async throws {
        try await withBroker(settings: [
            "max.connections.per.ip": "1", "max.connections.per.ip.overrides": "127.0.0.3:2",
        ]) {
            broker in
            let a = try broker.connect(from: "127.0.0.2")
            #expect(try a.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(try broker.connect(from: "127.0.0.2").isClosedByPeer())
            let b1 = try broker.connect(from: "127.0.0.3")
            let b2 = try broker.connect(from: "127.0.0.3")
            #expect(try b1.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(try b2.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(try broker.connect(from: "127.0.0.3").isClosedByPeer())
            #expect(
                try broker.connect(from: "127.0.0.4").roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(
                broker.broker.metrics.render().contains(
                    "skein_connections_refused_total{reason=\"max_connections_per_ip\"} 2"))
        }
    }

    @Test func idleConnectionsAreClosedAndBusyOnesKept() async throws {
        try await withBroker(settings: ["connections.max.idle.ms": "400"]) { broker in
            let busy = try broker.connect()
            let idle = try broker.connect()
            #expect(try idle.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            let started = Date()
            for _ in 0..<12 {
                #expect(try busy.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
                usleep(100_000)
            }
            #expect(idle.isClosedByPeer())
            #expect(Date().timeIntervalSince(started) >= 0.3)
            #expect(try busy.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
            #expect(
                broker.broker.metrics.render().contains("skein_connections_closed_by_broker_total{reason=\"idle\"} 1"))
        }
    }

    @Test func aFrameThatDoesNotCompleteInTimeClosesTheConnection() async throws {
        try await withBroker(settings: ["socket.partial.request.timeout.ms": "300"]) { broker in
            let slow = try broker.connect()
            let started = Date()
            slow.send([0, 0, 0, 100, 0, 18, 0, 3])
            usleep(100_000)
            slow.send([0, 0, 0, 1])  // still arriving, still incomplete: the deadline counts from the first byte
            #expect(slow.isClosedByPeer())
            let elapsed = Date().timeIntervalSince(started)
            #expect(elapsed >= 0.25 && elapsed < 5, "\(elapsed)")
            let render = broker.broker.metrics.render()
            #expect(render.contains("skein_connections_closed_by_broker_total{reason=\"partial_request_timeout\"} 1"))
            // Whole frames sent slowly one after another are fine.
            let steady = try broker.connect()
            for _ in 0..<4 {
                #expect(try steady.roundTrip(ApiVersionsRequest(), version: 3).errorCode == .noError)
                usleep(150_000)
            }
            #expect(broker.server.budget.used == 0)
        }
    }

    @Test func queuedRequestBytesBoundsWhatPartialFramesHold() async throws {
        let settings = [
            "queued.max.request.bytes": "65536", "socket.request.max.bytes": "4194304",
            "socket.partial.request.timeout.ms": "1500", "message.max.bytes": "4000000",
        ]
        try await withBroker(settings: settings) { broker in
            // Eight clients each start a 4 MiB frame and push as much of it as the broker takes.
            var senders: [RawKafkaConnection] = []
            var header = ByteBuffer()
            header.writeInteger(Int32(4_000_000))
            let chunk = [UInt8](repeating: 7, count: 65536)
            for _ in 0..<8 {
                let sender = try broker.connect()
                sender.send(header)
                senders.append(sender)
            }
            let until = Date().addingTimeInterval(0.8)
            var peak = 0
            while Date() < until {
                for sender in senders { _ = sender.sendWithoutWaiting(chunk) }
                peak = max(peak, broker.server.budget.used)
                usleep(10_000)
            }
            // Without the bound all 8 x 4 MiB would be held; with it, the bound, one frame let through to
            // completion, and one socket read per connection (16 reads of at most 64 KiB).
            #expect(peak > 65536)
            #expect(peak < 65536 + 4_194_304 + 8 * 16 * 65536, "peak \(peak)")
            // A request larger than the bound still passes once the partial frames are gone.
            let large = try broker.connect()
            let values = [String(repeating: "v", count: 3_000_000)]
            let response = try large.roundTrip(produce("big", try batch(values)), version: 9)
            #expect(response.first.errorCode == .noError)
            #expect(eventually { broker.server.budget.used == 0 }, "\(broker.server.budget.used) bytes held")
        }
    }

    @Test func bytesOfARefusedRequestAreGivenBack() async throws {
        try await withBroker(settings: ["queued.max.request.bytes": "65536", "socket.request.max.bytes": "4194304"]) {
            broker in
            // A whole 4 MB frame of an unknown API (refused, closing the connection), then the start of another.
            let connection = try broker.connect()
            var frame = ByteBuffer()
            frame.writeInteger(Int32(4_000_000))
            frame.writeRepeatingByte(7, count: 4_000_100)
            connection.send(frame)
            #expect(connection.isClosedByPeer())
            #expect(eventually { broker.server.budget.used == 0 }, "\(broker.server.budget.used)")
        }
    }
}

extension RawKafkaConnection {
    /// Sends what the socket takes now; returns the count (0 when its buffer is full or it is closed).
    func sendWithoutWaiting(_ bytes: [UInt8]) -> Int {
        let sent = bytes.withUnsafeBytes {
            Glibc.send(descriptor, $0.baseAddress!, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
        return max(0, sent)
    }
}
