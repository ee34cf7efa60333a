import Foundation
import SkeinLogShipping
import SkeinMetrics
import Synchronization
import Testing

@testable import SkeinSyslogSource

/// The syslog source writes each record straight from the received bytes. For every corpus line (and a few
/// edge cases), that must be exactly the JSON the core writes for the `LogEvent` a parse describes: the same
/// schema, fields in the same order, the same escaping, invalid UTF-8 and truncation marks.
@Suite struct SyslogRecordWriterTests {
    static let encoding = LogEventEncoding(host: "agent-host", sourceKind: "syslog", maxValueBytes: 1 << 20)

    /// The reference: the parse as a `SyslogMessage`, made into a `LogEvent`, written by `LogRecordEncoder`.
    static func reference(
        _ line: [UInt8], truncated: Bool, transport: SyslogTransport, remoteAddress: String?, now: Int64
    ) -> String {
        let message = SyslogParser(utcOffsetSeconds: 0).parse(line, now: now)
        var fields: [(String, LogFieldValue)] = []
        if let facility = message.facility {
            fields.append(("facility", .string(SyslogMessage.facilityNames[Int(facility)])))
        }
        fields.append(("transport", .string(transport.rawValue)))
        if let remoteAddress { fields.append(("remote_addr", .string(remoteAddress))) }
        if let procId = message.procId { fields.append(("procid", .string(procId))) }
        if let msgId = message.msgId { fields.append(("msgid", .string(msgId))) }
        if let sequence = message.sequence { fields.append(("sequence", .string(sequence))) }
        for (name, value) in message.structuredData { fields.append((name, .string(value))) }
        if let error = message.parseError { fields.append(("parse_error", .string(error))) }
        let event = LogEvent(
            timestampMilliseconds: message.timestampMilliseconds ?? now, message: message.message,
            unit: message.appName, host: message.hostname, severity: message.severity, fields: fields,
            stream: "syslog", position: "1", flags: truncated ? .truncated : [])
        return String(decoding: LogRecordEncoder(host: "agent-host", sourceKind: "syslog").encode(event), as: UTF8.self)
    }

    static func written(
        _ line: [UInt8], truncated: Bool, transport: SyslogTransport, remoteAddress: String?, now: Int64
    ) -> String {
        let maker = SyslogEventMaker(
            parser: SyslogParser(utcOffsetSeconds: 0),
            metrics: SyslogSourceMetrics(source: "syslog.test", registry: MetricsRegistry()), encoding: encoding,
            oversize: { _ in Issue.record("nothing here is too large") })
        var writer = LogEventWriter(encoding)
        line.withUnsafeBytes { bytes in
            maker.write(
                bytes, truncated: truncated, transport: transport, remoteAddress: remoteAddress.map { Array($0.utf8) },
                now: now, into: &writer)
        }
        let events = writer.take(stream: "syslog")
        #expect(events.count == 1)
        return String(decoding: events.value(0), as: UTF8.self)
    }

    @Test(arguments: SyslogParserCorpusTests.fixture.cases)
    func corpusLinesAreWrittenAsTheCoreWouldWriteThem(_ entry: SyslogParserCorpusTests.Case) {
        let now = SyslogParserCorpusTests.fixture.now
        for (transport, address) in [(SyslogTransport.tcp, "192.0.2.7" as String?), (.unix, nil)] {
            let line = Array(entry.line.utf8)
            #expect(
                Self.written(line, truncated: false, transport: transport, remoteAddress: address, now: now)
                    == Self.reference(line, truncated: false, transport: transport, remoteAddress: address, now: now))
        }
    }

    @Test(arguments: [
        Array("<34>1 2026-12-04T10:00:00Z agent-host app - - - same host as the agent".utf8),
        Array("<13>Dec  4 10:00:00 h app: quotes \" and \\ and \t tab".utf8),
        [UInt8]("<13>Dec  4 10:00:00 h app: invalid ".utf8) + [0xFF, 0xFE, 0x41, 0x00],
        Array("<165>1 2026-12-04T10:00:00Z h app 9 ID1 [x@1 a=\"q\\\"uote\\]\"][y@2] \u{FEFF}bom".utf8),
        [UInt8](),
        Array("no header at all".utf8),
        Array("<189>0123: *Mar  1 18:46:11.123: %SYS-5-CONFIG_I: cisco".utf8),
    ])
    func edgeCasesAreWrittenAsTheCoreWouldWriteThem(_ line: [UInt8]) {
        let now: Int64 = 1_796_378_400_000
        #expect(
            Self.written(line, truncated: true, transport: .udp, remoteAddress: "::1", now: now)
                == Self.reference(line, truncated: true, transport: .udp, remoteAddress: "::1", now: now))
    }
}

@Suite struct SyslogRecordSizeTests {
    /// A message whose record would be larger than the broker takes is cut until it fits, marked truncated,
    /// and still one record: as the core cuts a `LogEvent`'s.
    @Test(arguments: [Array(repeating: UInt8(ascii: "a"), count: 9_000), Array(repeating: UInt8(0x01), count: 9_000)])
    func aRecordTooLargeIsCutToFit(_ body: [UInt8]) throws {
        let encoding = LogEventEncoding(host: "agent-host", sourceKind: "syslog", maxValueBytes: 8_192)
        let maker = SyslogEventMaker(
            parser: SyslogParser(utcOffsetSeconds: 0),
            metrics: SyslogSourceMetrics(source: "syslog.size", registry: MetricsRegistry()), encoding: encoding,
            oversize: { _ in Issue.record("a message can be cut to fit") })
        var writer = LogEventWriter(encoding)
        let line = Array("<13>1 2026-12-04T10:00:00Z h app - - - ".utf8) + body
        line.withUnsafeBytes { bytes in
            maker.write(bytes, truncated: false, transport: .tcp, remoteAddress: nil, now: 0, into: &writer)
        }
        let events = writer.take(stream: "syslog")
        #expect(events.count == 1)
        let value = events.value(0)
        #expect(value.count <= 8_192)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(value)) as? [String: Any])
        let fields = try #require(object["fields"] as? [String: Any])
        #expect(fields["truncated"] as? Bool == true)
        let message = try #require(object["message"] as? String)
        #expect(!message.isEmpty && message.utf8.count < body.count)
        #expect(maker.metrics.truncated.value == 0, "the sender's message was whole; the record was cut")
    }
}

extension SyslogRecordSizeTests {
    /// Structured data alone larger than the broker takes (only possible with a raised max_message_bytes): the
    /// message is dropped and counted as `oversize`, not shipped in a record every transaction would fail on.
    @Test func aMessageTooLargeEvenWithoutItsTextIsDroppedAndCounted() {
        let encoding = LogEventEncoding(host: "agent-host", sourceKind: "syslog", maxValueBytes: 8_192)
        let dropped = Mutex(0)
        let maker = SyslogEventMaker(
            parser: SyslogParser(utcOffsetSeconds: 0),
            metrics: SyslogSourceMetrics(source: "syslog.sd", registry: MetricsRegistry()), encoding: encoding,
            oversize: { count in dropped.withLock { $0 += count } })
        var writer = LogEventWriter(encoding)
        let structuredData = "[big@1 v=\"" + String(repeating: "x", count: 9_000) + "\"]"
        for line in ["<13>1 2026-12-04T10:00:00Z h app - - " + structuredData + " text", "<13>1 - h app - - - small"] {
            Array(line.utf8).withUnsafeBytes { bytes in
                maker.write(bytes, truncated: false, transport: .tcp, remoteAddress: nil, now: 0, into: &writer)
            }
        }
        let events = writer.take(stream: "syslog")
        #expect(events.count == 1)
        #expect(String(decoding: events.value(0), as: UTF8.self).contains("\"message\":\"small\""))
        #expect(dropped.withLock { $0 } == 1)
    }
}
