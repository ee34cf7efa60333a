import Foundation
import SkeinTestSupport
import Testing

@testable import SkeinLog

/// Kills a real writer process with SIGKILL at random moments and checks that every batch it acknowledged
/// (after fsync) is present, intact and in order, and that nothing follows a torn tail.
@Suite struct CrashTests {
    static var writerPath: String {
        if let directory = ProcessInfo.processInfo.environment["SKEIN_BIN_DIR"] {
            return directory + "/skein-crash-writer"
        }
        // swift test runs the test bundle from the build directory that also holds the executables.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/skein-crash-writer"
    }

    @Test func everyAcknowledgedBatchSurvivesSigkill() throws {
        #expect(
            FileManager.default.isExecutableFile(atPath: Self.writerPath), "build the package first: \(Self.writerPath)"
        )
        let directory = TemporaryDirectory()
        var acknowledged: [Int64] = []
        var generator = SystemRandomNumberGenerator()
        let rounds = Int(ProcessInfo.processInfo.environment["SKEIN_CRASH_ROUNDS"] ?? "") ?? 24
        for round in 0..<rounds {
            let killAfter = Int.random(in: 1...120, using: &generator)
            acknowledged += try runWriterAndKill(directory: directory.path, afterAcks: killAfter)
            try verify(directory: directory.path, acknowledged: acknowledged, round: round)
        }
        #expect(acknowledged.count >= rounds)
    }

    /// Starts the writer, waits until it has printed `afterAcks` offsets, SIGKILLs it, and returns every
    /// offset it printed (including any already in the pipe when it died).
    func runWriterAndKill(directory: String, afterAcks: Int) throws -> [Int64] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.writerPath)
        process.arguments = [directory]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var buffer = Data()
        var lines: [Int64] = []
        let deadline = Date().addingTimeInterval(60)
        let reader = output.fileHandleForReading
        while lines.count < afterAcks && Date() < deadline && process.isRunning {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            lines = parseLines(buffer)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        buffer.append(reader.readDataToEndOfFile())
        let acknowledged = parseLines(buffer)
        #expect(acknowledged.count >= min(afterAcks, 1), "writer printed nothing before the deadline")
        return acknowledged
    }

    func parseLines(_ data: Data) -> [Int64] {
        // Only complete lines count: a partial line was not fully acknowledged to us.
        let text = String(decoding: data, as: UTF8.self)
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false)
        parts.removeLast()
        return parts.compactMap { Int64($0) }
    }

    func verify(directory: String, acknowledged: [Int64], round: Int) throws {
        let manager = try LogManager.open(directory: directory)
        let log = try #require(manager.log(for: TopicPartition("crash", 0)))
        let batches = try log.readAllBatches()
        var expectedOffset: Int64 = 0
        var totalBytes: Int64 = 0
        var present = Set<Int64>()
        for batch in batches {
            let base = baseOffset(of: batch)
            #expect(base == expectedOffset, "round \(round): batches out of order or with a gap at \(base)")
            #expect(
                withBaseOffsetZero(batch) == CrashWorkload.expectedBatch(baseOffset: base),
                "round \(round): batch \(base) corrupted")
            expectedOffset = base + Int64(lastOffsetDelta(of: batch)) + 1
            totalBytes += Int64(batch.count)
            present.insert(base)
        }
        let missing = acknowledged.filter { !present.contains($0) }
        #expect(missing.isEmpty, "round \(round): acknowledged batches lost: \(missing.prefix(5))")
        #expect(log.logEndOffset == expectedOffset)
        // Nothing after the last whole batch: recovery cut any torn tail.
        #expect(log.sizeInBytes == totalBytes)
    }
}
