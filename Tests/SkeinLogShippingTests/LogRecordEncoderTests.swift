import Foundation
import Testing

@testable import SkeinLogShipping

@Suite struct LogRecordEncoderTests {
    let encoder = LogRecordEncoder(host: "web-1", sourceKind: "file")

    func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func writesTheLogSchema() throws {
        let event = LogEvent(
            timestampMilliseconds: 1_764_900_000_123, message: Array("GET /index.html \"quoted\"\tx\u{1}".utf8),
            unit: "/var/log/nginx/access.log", severity: 4,
            fields: [("path", .string("/var/log/nginx/access.log")), ("n", .integer(7)), ("ok", .boolean(true))],
            stream: "fp-00", position: "10")
        let json = try object(encoder.encode(event))
        #expect(json["timestamp"] as? String == "2025-12-05T02:00:00.123Z")
        #expect(json["host"] as? String == "web-1")
        #expect(json["source"] as? String == "file")
        #expect(json["unit"] as? String == "/var/log/nginx/access.log")
        #expect(json["severity"] as? String == "warning")
        #expect(json["message"] as? String == "GET /index.html \"quoted\"\tx\u{1}")
        let fields = try #require(json["fields"] as? [String: Any])
        #expect(fields["n"] as? Int == 7)
        #expect(fields["ok"] as? Bool == true)
        #expect(fields["invalid_utf8"] == nil)
    }

    @Test func keepsInvalidUTF8AsBase64AndFlagsIt() throws {
        let raw: [UInt8] = [0x61, 0xFF, 0x62, 0xC3, 0xA9, 0xED, 0xA0, 0x80]
        let event = LogEvent(
            timestampMilliseconds: 0, message: raw, stream: "s", position: "1", flags: [.truncated])
        let json = try object(encoder.encode(event))
        let fields = try #require(json["fields"] as? [String: Any])
        #expect(fields["invalid_utf8"] as? Bool == true)
        #expect(fields["truncated"] as? Bool == true)
        let base64 = try #require(fields["message_base64"] as? String)
        let decoded = try #require(Data(base64Encoded: base64))
        #expect(Array(decoded) == raw)
        #expect(json["message"] as? String == "a\u{FFFD}bé\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(json["timestamp"] as? String == "1970-01-01T00:00:00.000Z")
    }

    @Test func validMultibyteTextIsNotFlagged() throws {
        let event = LogEvent(timestampMilliseconds: -1, message: Array("naïve ☃ 𝄞".utf8), stream: "s", position: "1")
        let json = try object(encoder.encode(event))
        #expect(json["message"] as? String == "naïve ☃ 𝄞")
        #expect((json["fields"] as? [String: Any])?["invalid_utf8"] == nil)
        #expect(json["timestamp"] as? String == "1969-12-31T23:59:59.999Z")
    }

    @Test func timestampsMatchFoundationsCalendar() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for milliseconds: Int64 in [0, 951_782_400_000, 4_102_444_799_999, 1_709_164_800_500, 1_234_567_890_123] {
            var out: [UInt8] = []
            RFC3339.appendUTC(milliseconds: milliseconds, to: &out)
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            #expect(String(decoding: out, as: UTF8.self) == expected)
        }
    }

    @Test func positionHeaderRoundTrips() throws {
        let value = PositionHeaders.positionValue(stream: "s=abc;i=1@x", position: "123")
        let parsed = try #require(PositionHeaders.parsePosition(value))
        #expect(parsed.stream == "s=abc;i=1@x")
        #expect(parsed.position == "123")
    }

    @Test func checkpointRoundTripsAndRejectsOtherJSON() throws {
        let checkpoint = CheckpointRecord(
            agent: "skein-agent/h/default", writtenMs: 5,
            sources: ["files.a": .init(seq: 9, positions: ["fp-1": "100"])])
        #expect(CheckpointRecord.decode(checkpoint.encoded()) == checkpoint)
        #expect(CheckpointRecord.decode(Array("{\"schema\":\"other\"}".utf8)) == nil)
        #expect(CheckpointRecord.decode(Array("garbage".utf8)) == nil)
    }
}

@Suite struct MemoryBudgetTests {
    @Test func waitsAtTheCapAndAdmitsOnRelease() async throws {
        let budget = MemoryBudget(capacity: 100)
        try await budget.acquire(60)
        try await budget.acquire(40)
        #expect(budget.heldBytes == 100)
        let admitted = Task { try await budget.acquire(30) }
        // The waiter cannot be admitted before the release; poll (bounded) that it is still waiting.
        try await Task.sleep(for: .milliseconds(50))
        #expect(budget.heldBytes == 100)
        budget.release(60)
        try await admitted.value
        #expect(budget.heldBytes == 70)
        #expect(budget.waitedSeconds > 0)
    }

    @Test func oneOversizedRequestPassesWhenNothingIsHeld() async throws {
        let budget = MemoryBudget(capacity: 10)
        try await budget.acquire(1000)
        #expect(budget.heldBytes == 1000)
        budget.release(1000)
        #expect(budget.heldBytes == 0)
    }

    @Test func cancellingAWaiterLeavesTheBudgetIntact() async throws {
        let budget = MemoryBudget(capacity: 10)
        try await budget.acquire(10)
        let waiter = Task { try await budget.acquire(5) }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        budget.release(10)
        #expect(budget.heldBytes == 0)
    }
}
