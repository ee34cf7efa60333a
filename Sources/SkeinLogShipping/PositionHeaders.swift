import Foundation
import SkeinClient

/// The headers that carry a source's position in every record it ships, and the checkpoint record
/// that summarises all of them. Consumers can check completeness (`skein.seq` has no gaps per source)
/// and deduplicate on their own; the agent reads them back to resume.
public enum PositionHeaders {
    public static let agent = "skein.agent"
    public static let source = "skein.source"
    public static let sequence = "skein.seq"
    public static let position = "skein.position"
    public static let checkpoint = "skein.checkpoint"

    /// `<stream>@<position>`: streams never contain `@`-free ambiguity because the position is what
    /// follows the last `@` (journal cursors contain `=` and `;`, never `@`).
    public static func positionValue(stream: String, position: String) -> [UInt8] {
        // Built in one allocation: this runs for every shipped record.
        var value: [UInt8] = []
        value.reserveCapacity(stream.utf8.count + 1 + position.utf8.count)
        value.append(contentsOf: stream.utf8)
        value.append(UInt8(ascii: "@"))
        value.append(contentsOf: position.utf8)
        return value
    }

    /// `skein.seq`'s value, the decimal sequence number, written without an intermediate String.
    public static func sequenceValue(_ sequence: UInt64) -> [UInt8] {
        var digits = 1
        var rest = sequence
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return [UInt8](unsafeUninitializedCapacity: digits) { buffer, count in
            var value = sequence
            for index in stride(from: digits - 1, through: 0, by: -1) {
                buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
            count = digits
        }
    }

    /// The same digits into `digits` (emptied first), which keeps its storage from record to record.
    static func writeSequence(_ sequence: UInt64, into digits: inout [UInt8]) {
        digits.removeAll(keepingCapacity: true)
        var value = sequence
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(value % 10))
            value /= 10
        } while value > 0
        digits.reverse()
    }

    public static func parsePosition(_ value: [UInt8]) -> (stream: String, position: String)? {
        guard let at = value.lastIndex(of: UInt8(ascii: "@")) else { return nil }
        return (String(decoding: value[..<at], as: UTF8.self), String(decoding: value[(at + 1)...], as: UTF8.self))
    }

    /// What one record says about its source, if it is one of this agent's log records.
    struct Parsed {
        var source: String
        var sequence: UInt64
        var stream: String
        var position: String
    }

    static func parse(_ headers: [RecordHeader]) -> Parsed? {
        var source: String?
        var sequence: UInt64?
        var position: (String, String)?
        for header in headers {
            guard let value = header.value else { continue }
            switch header.key {
            case Self.source: source = String(decoding: value, as: UTF8.self)
            case Self.sequence: sequence = UInt64(String(decoding: value, as: UTF8.self))
            case Self.position: position = parsePosition(value)
            default: continue
            }
        }
        guard let source, let sequence, let position else { return nil }
        return Parsed(source: source, sequence: sequence, stream: position.0, position: position.1)
    }

    static func value(of key: String, in headers: [RecordHeader]) -> [UInt8]? {
        headers.first { $0.key == key }?.value
    }
}

/// The compact record of every source's position in one topic, written in a transaction with data now
/// and then, so that recovery reads back only as far as the last one and a source idle for days is
/// still found.
public struct CheckpointRecord: Codable, Sendable, Equatable {
    public static let schemaName = "skein.agent-checkpoint.v1"

    public struct Source: Codable, Sendable, Equatable {
        public var seq: UInt64
        public var positions: [String: String]
    }

    public var schema = CheckpointRecord.schemaName
    public var agent: String
    public var writtenMs: Int64
    public var sources: [String: Source]

    enum CodingKeys: String, CodingKey {
        case schema, agent, sources
        case writtenMs = "written_ms"
    }

    public init(agent: String, writtenMs: Int64, sources: [String: Source]) {
        self.agent = agent
        self.writtenMs = writtenMs
        self.sources = sources
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? []
    }

    public static func decode(_ bytes: [UInt8]) -> CheckpointRecord? {
        guard let record = try? JSONDecoder().decode(CheckpointRecord.self, from: Data(bytes)),
            record.schema == schemaName
        else { return nil }
        return record
    }
}
