import Foundation
import Testing

@testable import SkeinFileSource
@testable import SkeinLogShipping

@Suite struct GlobTests {
    @Test func starAndQuestionMarkStayWithinOneComponent() {
        #expect(Glob("/var/log/*.log").matches("/var/log/app.log"))
        #expect(Glob("/var/log/*.log").matches("/var/log/.hidden.log"))
        #expect(!Glob("/var/log/*.log").matches("/var/log/app/x.log"))
        #expect(!Glob("/var/log/*.log").matches("/var/log/app.log.1"))
        #expect(Glob("/var/log/app?.log").matches("/var/log/app1.log"))
        #expect(!Glob("/var/log/app?.log").matches("/var/log/app.log"))
        #expect(Glob("/var/log/*").matches("/var/log/x"))
        #expect(Glob("a*b*c").matches("aXbYbZc"))
        #expect(!Glob("a*b*c").matches("aXbYbZ"))
    }

    @Test func doubleStarSpansComponents() {
        let glob = Glob("/srv/**/*.log")
        #expect(glob.matches("/srv/a.log"))
        #expect(glob.matches("/srv/x/a.log"))
        #expect(glob.matches("/srv/x/y/z/a.log"))
        #expect(!glob.matches("/srv/x/y/a.txt"))
        #expect(!glob.matches("/other/a.log"))
        #expect(Glob("/srv/**").matches("/srv/x/y"))
    }

    @Test func classesRangesNegationAndEscapes() {
        #expect(Glob("/l/app.[0-9]").matches("/l/app.7"))
        #expect(!Glob("/l/app.[0-9]").matches("/l/app.x"))
        #expect(Glob("/l/app.[!0-9]").matches("/l/app.x"))
        #expect(Glob("/l/[ab]c").matches("/l/bc"))
        #expect(!Glob("/l/[ab]c").matches("/l/cc"))
        #expect(Glob("/l/\\*").matches("/l/*"))
        #expect(!Glob("/l/\\*").matches("/l/x"))
        #expect(Glob("/l/[x").matches("/l/[x"))
    }

    @Test func expansionFindsFilesAndTheDirectoriesToWatch() throws {
        let dir = TempDirectory()
        try FileManagerHelper.mkdir(dir.file("a/b"))
        append(dir.file("top.log"), "x\n")
        append(dir.file("a/one.log"), "x\n")
        append(dir.file("a/b/two.log"), "x\n")
        append(dir.file("a/b/two.txt"), "x\n")
        var expansion = GlobExpansion()
        Glob(dir.path + "/**/*.log").expand(into: &expansion)
        #expect(Set(expansion.files) == [dir.file("top.log"), dir.file("a/one.log"), dir.file("a/b/two.log")])
        #expect(expansion.directories.isSuperset(of: [dir.path, dir.file("a"), dir.file("a/b")]))
        var literal = GlobExpansion()
        Glob(dir.path + "/missing/*.log").expand(into: &literal)
        #expect(literal.files.isEmpty)
        #expect(literal.directories.contains(dir.path))
    }
}

enum FileManagerHelper {
    static func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
}

@Suite struct FingerprintTests {
    @Test func fnv1aIsStableAndFormatted() {
        // FNV-1a 64 of "a" is a published test vector; a change here would rename every file's stream.
        #expect(Fingerprint.hash(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(Fingerprint.stream(0xaf63_dc4c_8601_ec8c) == "fp-af63dc4c8601ec8c")
        #expect(Fingerprint.stream(1) == "fp-0000000000000001")
        #expect(Fingerprint.inodeStream(device: 2049, inode: 17) == "ino-2049-17")
    }
}

@Suite struct LineSplitterTests {
    func split(_ chunks: [String], max: Int = 100, truncate: Bool = false) -> ([Line], LineSplitter) {
        var splitter = LineSplitter(maxLineBytes: max, truncateLongLines: truncate)
        var lines: [Line] = []
        var offset: Int64 = 0
        for chunk in chunks {
            let bytes = Array(chunk.utf8)
            bytes.withUnsafeBytes { splitter.feed($0, start: offset, into: &lines) }
            offset += Int64(bytes.count)
        }
        return (lines, splitter)
    }

    @Test func linesAcrossChunksWithPositionsAfterEachLine() {
        let (lines, splitter) = split(["ab", "c\nde\r\n", "f", "", "\n\nincomplete"])
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["abc", "de", "f", ""])
        #expect(lines.map(\.end) == [4, 8, 10, 11])
        #expect(splitter.pending == Array("incomplete".utf8))
        #expect(lines.allSatisfy { $0.flags.isEmpty })
    }

    @Test func invalidUTF8PassesThrough() {
        var splitter = LineSplitter(maxLineBytes: 100, truncateLongLines: false)
        var lines: [Line] = []
        let bytes: [UInt8] = [0xFF, 0xFE, 0x41, 0x0A]
        bytes.withUnsafeBytes { splitter.feed($0, start: 0, into: &lines) }
        #expect(lines == [Line(bytes: [0xFF, 0xFE, 0x41], end: 4)])
    }

    @Test func longLinesSplitIntoFlaggedPiecesWithPositionsInside() {
        let (lines, _) = split(["abcdefghij", "k\nabcd\n"], max: 4)
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["abcd", "efgh", "ijk", "abcd"])
        #expect(lines.map(\.end) == [4, 8, 12, 17])
        #expect(lines.map(\.flags) == [.split, .split, [], []])
    }

    @Test func longLinesTruncateToTheHeadAndSkipToTheNewline() {
        let (lines, _) = split(["abcdefghij", "klm\nxy\n"], max: 4, truncate: true)
        #expect(lines.map { String(decoding: $0.bytes, as: UTF8.self) } == ["abcd", "xy"])
        #expect(lines.map(\.end) == [14, 17])
        #expect(lines.map(\.flags) == [.truncated, []])
    }

    @Test func flushPartialEmitsTheHeldLine() {
        var (_, splitter) = split(["done\nhalf"])
        #expect(splitter.flushPartial(end: 9) == Line(bytes: Array("half".utf8), end: 9))
        #expect(splitter.flushPartial(end: 9) == nil)
    }
}

@Suite struct MultilineTests {
    func merge(_ texts: [String], _ settings: MultilineSettings) throws -> (
        [MultilineAggregator.Entry], MultilineAggregator
    ) {
        var aggregator = try MultilineAggregator(settings: settings)
        var out: [MultilineAggregator.Entry] = []
        var end: Int64 = 0
        for text in texts {
            end += Int64(text.utf8.count + 1)
            aggregator.add(Line(bytes: Array(text.utf8), end: end), now: .now, into: &out)
        }
        return (out, aggregator)
    }

    @Test func startPatternMergesStackTraces() throws {
        let (out, aggregator) = try merge(
            ["ERROR boom", "  at a", "  at b", "INFO next", "  at c"], MultilineSettings(startPattern: #"^\S"#))
        #expect(out.map { String(decoding: $0.bytes, as: UTF8.self) } == ["ERROR boom\n  at a\n  at b"])
        #expect(out[0].end == 25)
        #expect(out[0].flags.isEmpty)
        #expect(aggregator.current.map { String(decoding: $0.bytes, as: UTF8.self) } == "INFO next\n  at c")
    }

    @Test func continuationPatternAndTimeoutFlush() throws {
        var settings = MultilineSettings(continuationPattern: #"^\s"#)
        settings.timeoutMilliseconds = 0
        var (out, aggregator) = try merge(["a", " b", "c"], settings)
        #expect(out.map { String(decoding: $0.bytes, as: UTF8.self) } == ["a\n b"])
        let flushed = aggregator.flush(now: .now + .seconds(1))
        #expect(flushed.map { String(decoding: $0.bytes, as: UTF8.self) } == "c")
        #expect(flushed?.flags == .multilineFlushed)
        out = []
        #expect(aggregator.flush(now: .now + .seconds(1)) == nil)
    }

    @Test func capsOnLinesAndBytesFlushFlagged() throws {
        var byLines = MultilineSettings(startPattern: "^S")
        byLines.maxLines = 2
        let (out, _) = try merge(["S1", "c", "c", "c"], byLines)
        #expect(out.map { String(decoding: $0.bytes, as: UTF8.self) } == ["S1\nc", "c\nc"])
        #expect(out.allSatisfy { $0.flags.contains(.multilineFlushed) })
        var byBytes = MultilineSettings(startPattern: "^S")
        byBytes.maxBytes = 6
        let (bytesOut, rest) = try merge(["S1", "cc", "dd"], byBytes)
        #expect(bytesOut.map { String(decoding: $0.bytes, as: UTF8.self) } == ["S1\ncc"])
        #expect(bytesOut[0].flags == .multilineFlushed)
        #expect(rest.current.map { String(decoding: $0.bytes, as: UTF8.self) } == "dd")
    }

    @Test func anInvalidPatternIsAnError() {
        #expect(throws: (any Error).self) { try MultilineAggregator(settings: MultilineSettings(startPattern: "(")) }
        #expect(throws: (any Error).self) { try MultilineAggregator(settings: MultilineSettings()) }
    }
}
