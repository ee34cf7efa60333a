import Foundation
import Testing

@testable import SkeinSyslogSource

/// The corpus in Fixtures/syslog-corpus.json: real-world shapes of RFC 3164 and RFC 5424 lines (network
/// devices, daemons, containers) with the parse each must give.
@Suite struct SyslogParserCorpusTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let line: String
        let expect: [String: String]
        let facility: Int?
        let severity: Int?
        let structuredData: [[String]]
        var testDescription: String { name }
    }

    static let fixture: (now: Int64, cases: [Case]) = {
        let file = #filePath
        let path = String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures/syslog-corpus.json"
        let data = FileManager.default.contents(atPath: path)!
        let root = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        let cases = (root["cases"] as! [[String: Any]]).map { entry -> Case in
            let expect = entry["expect"] as! [String: Any]
            var strings: [String: String] = [:]
            for (key, value) in expect { if let text = value as? String { strings[key] = text } }
            return Case(
                name: entry["name"] as! String, line: entry["line"] as! String, expect: strings,
                facility: expect["facility"] as? Int, severity: expect["severity"] as? Int,
                structuredData: expect["sd"] as? [[String]] ?? [])
        }
        return (milliseconds(root["now"] as! String), cases)
    }()

    static func milliseconds(_ text: String) -> Int64 {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let date = formatter.date(from: text)!
        return Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    @Test func theCorpusIsLargeAndVaried() {
        #expect(Self.fixture.cases.count >= 30)
        #expect(Set(Self.fixture.cases.map { $0.expect["format"] }) == ["rfc5424", "rfc3164", "raw"])
    }

    @Test(arguments: fixture.cases)
    func parsesAsExpected(_ entry: Case) {
        let parsed = SyslogParser(utcOffsetSeconds: 0).parse(Array(entry.line.utf8), now: Self.fixture.now)
        #expect(parsed.format.rawValue == entry.expect["format"])
        #expect(parsed.timestampMilliseconds == entry.expect["timestamp"].map(Self.milliseconds))
        #expect(parsed.facility.map(Int.init) == entry.facility)
        #expect(parsed.severity.map(Int.init) == entry.severity)
        #expect(parsed.hostname == entry.expect["host"])
        #expect(parsed.appName == entry.expect["app"])
        #expect(parsed.procId == entry.expect["procid"])
        #expect(parsed.msgId == entry.expect["msgid"])
        #expect(parsed.sequence == entry.expect["sequence"])
        #expect(parsed.structuredData.map { [$0.name, $0.value] } == entry.structuredData)
        #expect(String(decoding: parsed.message, as: UTF8.self) == entry.expect["message"])
        #expect(parsed.parseError == entry.expect["parse_error"])
    }
}

@Suite struct SyslogParserTests {
    @Test func bsdTimestampsAreReadInTheReceiversZone() {
        let now = SyslogParserCorpusTests.milliseconds("2026-06-01T00:00:00.000Z")
        let parsed = SyslogParser(utcOffsetSeconds: 7200).parse(Array("<13>May 31 12:00:00 h a: x".utf8), now: now)
        #expect(parsed.timestampMilliseconds == SyslogParserCorpusTests.milliseconds("2026-05-31T10:00:00.000Z"))
    }

    @Test func aJanuaryLineReadOnNewYearsEveByAFastClockIsNextYears() {
        let now = SyslogParserCorpusTests.milliseconds("2026-12-31T23:59:00.000Z")
        let parsed = SyslogParser().parse(Array("<13>Jan  1 00:00:30 h a: x".utf8), now: now)
        #expect(parsed.timestampMilliseconds == SyslogParserCorpusTests.milliseconds("2027-01-01T00:00:30.000Z"))
    }

    @Test func emptyInputIsAParseError() {
        let parsed = SyslogParser().parse([UInt8](), now: 0)
        #expect(parsed.parseError == "empty message")
        #expect(parsed.format == .raw)
    }

    @Test func invalidUTF8IsKeptAsBytes() {
        let bytes: [UInt8] = Array("<13>Dec  4 09:10:11 h a: ".utf8) + [0xFF, 0xFE]
        let parsed = SyslogParser().parse(bytes, now: SyslogParserCorpusTests.milliseconds("2026-12-05T00:00:00.000Z"))
        #expect(parsed.message == [0xFF, 0xFE])
    }

    @Test func facilityNamesCoverEveryFacility() {
        #expect(SyslogMessage.facilityNames.count == 24)
        #expect(SyslogMessage.facilityNames[4] == "auth")
        #expect(SyslogMessage.facilityNames[23] == "local7")
    }
}
