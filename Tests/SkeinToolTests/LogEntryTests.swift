import Foundation
import SkeinClient
import Testing

@testable import SkeinTool

@Suite struct LogEntryTests {
    func record(_ value: String, timestamp: Int64 = 1_000) -> ConsumerRecord {
        ConsumerRecord(
            topicPartition: TopicPartition(topic: "logs", partition: 0), offset: 7, timestamp: timestamp, key: nil,
            value: Array(value.utf8), headers: [])
    }

    @Test func agentRecordsParseIntoFields() {
        let entry = LogEntry(
            record: record(
                #"{"timestamp":"2026-11-22T10:00:01.500Z","host":"web-1","source":"journald","unit":"nginx.service","severity":"warning","message":"slow","fields":{"pid":42,"code":"E1"}}"#
            ))
        #expect(entry.timestamp == 1_795_341_601_500)
        #expect(entry.host == "web-1")
        #expect(entry.unit == "nginx.service")
        #expect(entry.severity == .warning)
        #expect(entry.message == "slow")
        #expect(entry.fields["pid"] == "42")
        #expect(entry.fields["code"] == "E1")
    }

    @Test func numericTimestampsAndSeveritiesAreUnderstood() {
        #expect(LogEntry(record: record(#"{"timestamp":1795341601.5,"message":"m"}"#)).timestamp == 1_795_341_601_500)
        #expect(LogEntry(record: record(#"{"timestamp":1795341601500,"message":"m"}"#)).timestamp == 1_795_341_601_500)
        #expect(LogEntry(record: record(#"{"severity":3,"message":"m"}"#)).severity == .error)
        #expect(LogEntry(record: record(#"{"severity":"ERROR","message":"m"}"#)).severity == .error)
    }

    @Test func plainTextRecordsKeepTheirTextAndRecordTime() {
        let entry = LogEntry(record: record("not json at all", timestamp: 5))
        #expect(entry.message == "not json at all")
        #expect(entry.timestamp == 5)
        #expect(entry.host == nil)
        let broken = LogEntry(record: record(#"{"message": "#))
        #expect(broken.message == #"{"message": "#)
    }

    @Test func filtersCombine() {
        let entry = LogEntry(
            record: record(
                #"{"timestamp":1795341601500,"host":"db","unit":"postgres.service","severity":"err","message":"deadlock detected","fields":{"pid":"9"}}"#
            ))
        var filter = LogFilter()
        #expect(filter.matches(entry))
        filter.severity = .warning
        #expect(filter.matches(entry))
        filter.severity = .critical
        #expect(!filter.matches(entry))
        filter = LogFilter()
        filter.units = ["postgres"]
        #expect(filter.matches(entry))
        filter.hosts = ["web"]
        #expect(!filter.matches(entry))
        filter = LogFilter()
        filter.grep = "dead(lock|end)"
        #expect(filter.matches(entry))
        filter.fields = [("pid", "9")]
        #expect(filter.matches(entry))
        filter.fields = [("pid", "10")]
        #expect(!filter.matches(entry))
        filter = LogFilter()
        filter.since = 1_795_341_601_501
        #expect(!filter.matches(entry))
        filter.since = nil
        filter.until = 1_795_341_601_499
        #expect(!filter.matches(entry))
    }

    @Test func entriesWithoutSeverityCountAsInfo() {
        let entry = LogEntry(record: record(#"{"message":"hello"}"#))
        var filter = LogFilter()
        filter.severity = .info
        #expect(filter.matches(entry))
        filter.severity = .notice
        #expect(!filter.matches(entry))
    }

    @Test func shortFormatLooksLikeJournalctl() {
        let renderer = LogRenderer(style: .short, colour: false, utc: true)
        let value =
            #"{"timestamp":"2026-11-22T10:00:01Z","host":"web-1","unit":"nginx.service","severity":"err","message":"boom"}"#
        let line = renderer.line(for: LogEntry(record: record(value)), record: record(value))
        #expect(line == "Nov 22 10:00:01 web-1 nginx.service[err]: boom")
        let coloured = LogRenderer(style: .cat, colour: true, utc: true)
        #expect(
            coloured.line(for: LogEntry(record: record(value)), record: record(value)) == "\u{1B}[1;31mboom\u{1B}[0m")
    }
}

@Suite struct OutputFormatTests {
    @Test func jsonEscapesEverythingJSONRequires() throws {
        var out: [UInt8] = []
        JSONText.appendString(Array("a\"b\\c\nd\u{01}é".utf8), to: &out)
        let decoded = try JSONSerialization.jsonObject(with: Data(out), options: .fragmentsAllowed) as? String
        #expect(decoded == "a\"b\\c\nd\u{01}é")
        out.removeAll()
        JSONText.appendString([0x66, 0xFF, 0x6F], to: &out)
        #expect(
            try JSONSerialization.jsonObject(with: Data(out), options: .fragmentsAllowed) as? String == "f\u{FFFD}o")
    }

    @Test func keyValueArgumentsAndEscapes() throws {
        #expect(try keyValue("a=b=c", what: "x") == ("a", "b=c"))
        #expect(throws: ToolError.self) { try keyValue("=b", what: "x") }
        #expect(unescape("\\n") == [0x0A])
        #expect(unescape("\\t|\\0") == [0x09, 0x7C, 0x00])
    }

    @Test func clientErrorsMapToExitStatuses() {
        #expect(
            ToolError.from(KafkaClientError.bootstrapFailed("x: Connection refused"), bootstrap: "h:1").exitStatus == 3)
        #expect(
            ToolError.from(KafkaClientError.unknownTopicOrPartition(topic: "t", partition: nil), bootstrap: "")
                .exitStatus == 2)
        #expect(
            ToolError.from(KafkaClientError.broker(.topicAlreadyExists, context: "c"), bootstrap: "").exitStatus == 1)
        #expect(ToolError.from(KafkaClientError.invalidConfiguration("bad"), bootstrap: "").exitStatus == 64)
    }

    @Test func lineReaderSplitsAcrossReadsAndKeepsTheLastUnterminatedLine() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Glibc.pipe(&pipe) == 0)
        let (readEnd, writeEnd) = (pipe[0], pipe[1])
        let text = (0..<50_000).map { "line-\($0)" }.joined(separator: "\n") + "\nlast"
        let writer = Thread {
            var bytes = Array(text.utf8)
            _ = bytes.count
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes {
                    write(writeEnd, $0.baseAddress! + offset, min(4096, $0.count - offset))
                }
                if n <= 0 { break }
                offset += n
            }
            close(writeEnd)
        }
        writer.start()
        var reader = LineReader(descriptor: readEnd, delimiter: 0x0A)
        var lines: [String] = []
        while let line = try reader.next() { lines.append(String(decoding: line, as: UTF8.self)) }
        close(readEnd)
        #expect(lines.count == 50_001)
        #expect(lines.first == "line-0")
        #expect(lines[49_999] == "line-49999")
        #expect(lines.last == "last")
    }
}
