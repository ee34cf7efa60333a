import Foundation
import Testing

@testable import SkeinTool

@Suite struct TimeExpressionTests {
    let now = Date(timeIntervalSince1970: 1_763_805_600)  // 2025-11-22T10:00:00Z
    let utc = TimeZone(identifier: "UTC")!

    @Test func relativeAgesCountBackFromNow() throws {
        #expect(try TimeExpression.parse("10m", now: now) == 1_763_805_600_000 - 600_000)
        #expect(try TimeExpression.parse("1h30m", now: now) == 1_763_805_600_000 - 5_400_000)
        #expect(try TimeExpression.parse("-2d", now: now) == 1_763_805_600_000 - 172_800_000)
        #expect(try TimeExpression.parse("45s ago", now: now) == 1_763_805_600_000 - 45_000)
        #expect(try TimeExpression.parse("now", now: now) == 1_763_805_600_000)
    }

    @Test func absoluteTimesAndEpochs() throws {
        #expect(try TimeExpression.parse("2025-11-22T09:00:00Z", now: now) == 1_763_802_000_000)
        #expect(try TimeExpression.parse("2025-11-22T09:00:00.250Z", now: now) == 1_763_802_000_250)
        #expect(try TimeExpression.parse("2025-11-22 09:00", now: now, timeZone: utc) == 1_763_802_000_000)
        #expect(try TimeExpression.parse("2025-11-22", now: now, timeZone: utc) == 1_763_769_600_000)
        #expect(try TimeExpression.parse("yesterday", now: now, timeZone: utc) == 1_763_683_200_000)
        #expect(try TimeExpression.parse("@1763805600", now: now) == 1_763_805_600_000)
        #expect(try TimeExpression.parse("1763805600123", now: now) == 1_763_805_600_123)
    }

    @Test func nonsenseIsAUsageError() {
        for text in ["", "10x", "soon", "2025-13-45", "m10"] {
            #expect(throws: ToolError.self) { try TimeExpression.parse(text, now: now) }
        }
    }

    @Test func extremesAreRefusedOrClamped() throws {
        for text in ["@1e300", "@nan", "@inf", "999999999999999999999d", "1e300s"] {
            #expect(throws: ToolError.self, "\(text)") { try TimeExpression.parse(text, now: now) }
        }
        #expect(try TimeExpression.parse("3000w", now: now) == 0)
        #expect(try TimeExpression.parse("@-5", now: now) == 0)
        #expect(try TimeExpression.parse("9223372036854775807", now: now) == TimeExpression.latest)
    }

    @Test func startPositions() throws {
        #expect(try StartPosition.parse("beginning") == .beginning)
        #expect(try StartPosition.parse("end") == .end)
        #expect(try StartPosition.parse("42") == .offset(42))
        #expect(try StartPosition.parse("-10") == .fromEnd(10))
        #expect(throws: ToolError.self) { try StartPosition.parse("ten") }
    }
}
