import Foundation
import Glibc
import Logging
import SkeinLogShipping
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinSyslogSource

/// One record as the syslog source wrote it: its JSON value, read back, and where it is.
struct WrittenEvent: Sendable {
    var json: String
    var stream: String
    var position: String
    var timestamp: Int64

    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
    }
    var message: String? { object["message"] as? String }
    var unit: String? { object["unit"] as? String }
    var host: String? { object["host"] as? String }
    var severity: String? { object["severity"] as? String }
    /// The `fields` object as written, names and values in order.
    var fieldsText: String? {
        json.range(of: "\"fields\":").map { String(json[$0.upperBound...].dropLast()) }
    }
}

/// A sink that keeps what it is given. With `holding`, emit waits until `release()` and, like the core's
/// memory budget, throws CancellationError if its task is cancelled while it waits.
final class RecordingSink: SourceSink {
    private struct State {
        var events: [WrittenEvent] = []
        var holding: Bool
        var waiters: [CheckedContinuation<Void, Never>] = []
        var drops: [String: Int] = [:]
    }

    private let state: Mutex<State>

    init(holding: Bool = false) { state = Mutex(State(holding: holding)) }

    var events: [WrittenEvent] { state.withLock { $0.events } }
    let eventEncoding = LogEventEncoding(host: "agent-host", sourceKind: "syslog", maxValueBytes: 1 << 20)
    var drops: [String: Int] { state.withLock { $0.drops } }

    func release() {
        let waiters = state.withLock { state in
            state.holding = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func emit(_ events: [SkeinLogShipping.LogEvent]) async throws {
        Issue.record("the syslog source writes its records itself")
    }

    func emit(encoded events: EncodedEvents) async throws {
        try Task.checkCancellation()
        if state.withLock({ $0.holding }) {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let held = state.withLock { state in
                        if state.holding { state.waiters.append(continuation) }
                        return state.holding
                    }
                    if !held { continuation.resume() }
                }
            } onCancel: {
                let waiters = state.withLock { state in
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
            try Task.checkCancellation()
        }
        let written = (0..<events.count).map { index in
            let json = String(decoding: events.value(index), as: UTF8.self)
            let (stream, position) = events.position(index)
            return WrittenEvent(
                json: json, stream: stream, position: position, timestamp: events.timestamp(index))
        }
        state.withLock { $0.events.append(contentsOf: written) }
    }

    func retire(stream: String) async {}

    func dropped(_ count: Int, reason: String) { state.withLock { $0.drops[reason, default: 0] += count } }
}

/// The listeners with real sockets: what a sender writes becomes events with the syslog fields, in order,
/// and a stopping source hands over what it had read.
@Suite(.serialized) struct SyslogSourceTests {
    static func freePort(_ type: Int32) -> Int {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length)
                return getsockname(fd, pointer, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func send(_ text: String, port: Int, type: Int32) {
        let fd = socket(AF_INET, type, 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            sent += n
        }
    }

    static func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition(), "timed out waiting for \(what)")
    }

    static func waitListening(_ port: Int) async throws {
        try await waitFor("the TCP listener on \(port)") {
            let fd = socket(AF_INET, SOCK_STREAM_TYPE, 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
    }

    @Test func tcpAndUDPMessagesBecomeEventsInOrder() async throws {
        let (tcp, udp) = (Self.freePort(SOCK_STREAM_TYPE), Self.freePort(SOCK_DGRAM_TYPE))
        var settings = SyslogSourceSettings(id: "syslog.t")
        settings.tcp = [.address(host: "127.0.0.1", port: tcp)]
        settings.udp = [.address(host: "127.0.0.1", port: udp)]
        let registry = MetricsRegistry()
        let source = SyslogSource(
            settings: settings, defaultTopic: "logs", metrics: registry, logger: Logger(label: "test"))
        let sink = RecordingSink()
        let task = Task { try await source.run(from: SourceState(), into: sink) }
        try await Self.waitListening(tcp)
        let lines = (1...200).map { "<38>Dec  4 10:00:00 web sshd[7]: line \($0)" }
        Self.send(lines.map { "\($0.utf8.count) \($0)" }.joined(), port: tcp, type: SOCK_STREAM_TYPE)
        try await Self.waitFor("200 TCP events") { sink.events.count == 200 }
        Self.send("<165>1 2026-12-04T10:00:00Z h app 9 ID1 [x@1 a=\"b\"] over udp", port: udp, type: SOCK_DGRAM_TYPE)
        try await Self.waitFor("the UDP event") { sink.events.count == 201 }
        task.cancel()
        try await task.value

        let events = sink.events
        #expect(events.prefix(200).map(\.message) == (1...200).map { "line \($0)" })
        #expect(events.map(\.position) == (1...201).map(String.init))
        #expect(events.allSatisfy { $0.stream == "syslog" })
        let first = events[0]
        #expect(first.unit == "sshd" && first.host == "web" && first.severity == "info")
        #expect(
            first.fieldsText == #"{"facility":"auth","transport":"tcp","remote_addr":"127.0.0.1","procid":"7"}"#)
        let last = events[200]
        #expect(
            last.fieldsText
                == #"{"facility":"local4","transport":"udp","remote_addr":"127.0.0.1","procid":"9","msgid":"ID1","sd.x@1.a":"b"}"#
        )
        #expect(last.timestamp == 1_796_378_400_000)
        #expect(last.object["timestamp"] as? String == "2026-12-04T10:00:00.000Z")
    }

    @Test func aStoppingSourceHandsOverWhatItRead() async throws {
        let tcp = Self.freePort(SOCK_STREAM_TYPE)
        var settings = SyslogSourceSettings(id: "syslog.stop")
        settings.tcp = [.address(host: "127.0.0.1", port: tcp)]
        let registry = MetricsRegistry()
        let source = SyslogSource(
            settings: settings, defaultTopic: "logs", metrics: registry, logger: Logger(label: "test"))
        let sink = RecordingSink(holding: true)
        let task = Task { try await source.run(from: SourceState(), into: sink) }
        try await Self.waitListening(tcp)
        let text = (1...500).map { "<13>Dec  4 10:00:00 h app: m \($0)\n" }.joined()
        Self.send(text, port: tcp, type: SOCK_STREAM_TYPE)
        try await Self.waitFor("500 messages read") { source.metrics.receivedTCP.value == 500 }
        #expect(sink.events.isEmpty)  // the sink is holding the first batch back
        task.cancel()
        // Whether the cancelled emit has thrown yet or not, the hand-over must deliver everything once.
        sink.release()
        try await task.value
        #expect(sink.events.map(\.position) == (1...500).map(String.init))
        #expect(sink.events.last?.message == "m 500")
        #expect(sink.drops.isEmpty)
    }
}

let SOCK_STREAM_TYPE = Int32(SOCK_STREAM.rawValue)
let SOCK_DGRAM_TYPE = Int32(SOCK_DGRAM.rawValue)
