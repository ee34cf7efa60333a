import Testing

@testable import SkeinBench

@Suite struct BenchArgumentsTests {
    @Test(arguments: [
        ("10s", Duration.seconds(10)),
        ("10", .seconds(10)),
        ("500ms", .milliseconds(500)),
        ("1.5s", .milliseconds(1500)),
        ("2m", .seconds(120)),
        ("1h", .seconds(3600)),
        ("250us", .microseconds(250)),
        (" 3 s ", .seconds(3)),
        ("10S", .seconds(10)),
    ])
    func durations(text: String, expected: Duration) throws {
        #expect(try BenchArguments.duration(text) == expected)
    }

    @Test(arguments: ["", "s", "ten", "10x", "-1s", "0s", "1e400s", "1.2.3s", "10 sec s"])
    func invalidDurations(text: String) {
        #expect(throws: BenchArgumentError.invalidDuration(text)) { try BenchArguments.duration(text) }
    }

    @Test(arguments: [
        ("100", 100),
        ("100B", 100),
        ("1KiB", 1024),
        ("64kib", 65_536),
        ("1MiB", 1_048_576),
        ("1.5MiB", 1_572_864),
        ("1GiB", 1_073_741_824),
        ("1KB", 1000),
        ("1MB", 1_000_000),
        ("2M", 2_000_000),
        ("0", 0),
    ])
    func byteCounts(text: String, expected: Int) throws {
        #expect(try BenchArguments.byteCount(text) == expected)
    }

    @Test(arguments: ["", "MiB", "1XB", "-5", "one", "1 Mibibyte"])
    func invalidByteCounts(text: String) {
        #expect(throws: BenchArgumentError.invalidByteCount(text)) { try BenchArguments.byteCount(text) }
    }

    @Test func hostPort() throws {
        #expect(try parseHostPort("127.0.0.1:9092") == ("127.0.0.1", 9092))
        #expect(try parseHostPort("broker") == ("broker", 9092))
        #expect(try parseHostPort("[::1]:19092") == ("::1", 19092))
        #expect(throws: BenchError.self) { try parseHostPort("host:0") }
        #expect(throws: BenchError.self) { try parseHostPort(":9092") }
        #expect(throws: BenchError.self) { try parseHostPort("a:b:c") }
    }
}
