import Foundation
import Testing

/// Runs the built `skein-agent --once` against this machine's real /proc and /sys.
@Suite struct OnceCommandTests {
    static var agentPath: String {
        if let directory = ProcessInfo.processInfo.environment["SKEIN_BIN_DIR"] {
            return directory + "/skein-agent"
        }
        // swift test runs the test bundle from the build directory that also holds the executables.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/skein-agent"
    }

    func runAgent(_ arguments: [String]) throws -> (status: Int32, output: Data, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.agentPath)
        process.arguments = arguments
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read before waiting: a record larger than the pipe buffer would otherwise deadlock.
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, outputData, String(decoding: errorData, as: UTF8.self))
    }

    @Test func oncePrintsOneSampleSetOfTheRealHost() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.agentPath), "build skein-agent first: \(Self.agentPath)")
        // No broker listens on port 1: --once must not need one.
        let run = try runAgent(["--once", "--host-name", "test-host", "--bootstrap", "127.0.0.1:1"])
        #expect(run.status == 0, "stderr: \(run.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: run.output) as? [String: Any])
        #expect(json["schema"] as? String == "skein.host-metrics.v1")
        #expect(json["host"] as? String == "test-host")
        #expect((json["interval_seconds"] as? NSNumber)?.doubleValue == 15)
        let now = Date().timeIntervalSince1970 * 1000
        let timestamp = try #require((json["timestamp_ms"] as? NSNumber)?.doubleValue)
        #expect(abs(timestamp - now) < 60_000)
        let families = try #require(json["families"] as? [[String: Any]])
        var byName: [String: [String: Any]] = [:]
        for family in families { byName[family["name"] as? String ?? ""] = family }
        for name in [
            "node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1",
            "node_network_receive_bytes_total",
        ] {
            let family = try #require(byName[name], "missing \(name)")
            let samples = try #require(family["samples"] as? [[String: Any]])
            #expect(!samples.isEmpty, "\(name) has no samples")
        }
        let cpu = try #require(byName["node_cpu_seconds_total"]?["samples"] as? [[String: Any]])
        let modes = Set(cpu.compactMap { ($0["labels"] as? [String: String])?["mode"] })
        #expect(modes.isSuperset(of: ["user", "system", "idle"]))
        let totalCPUSeconds = cpu.compactMap { ($0["value"] as? NSNumber)?.doubleValue }.reduce(0, +)
        #expect(totalCPUSeconds > 0)
        let memory = try #require(
            (byName["node_memory_MemTotal_bytes"]?["samples"] as? [[String: Any]])?.first?["value"] as? NSNumber)
        #expect(memory.doubleValue > 1_048_576)
        let networkDevices = (byName["node_network_receive_bytes_total"]?["samples"] as? [[String: Any]] ?? [])
            .compactMap { ($0["labels"] as? [String: String])?["device"] }
        #expect(networkDevices.contains("lo"))
    }

    @Test func onceReadsTheFixtureTreeWhenPointedAtIt() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.agentPath))
        let run = try runAgent([
            "--once", "--proc-root", Fixture.directory + "/host-a/proc", "--sys-root",
            Fixture.directory + "/host-a/sys",
            "--interval", "2",
        ])
        #expect(run.status == 0, "stderr: \(run.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: run.output) as? [String: Any])
        #expect((json["interval_seconds"] as? NSNumber)?.doubleValue == 2)
        let families = try #require(json["families"] as? [[String: Any]])
        let load = families.first { $0["name"] as? String == "node_load1" }
        let value = (load?["samples"] as? [[String: Any]])?.first?["value"] as? NSNumber
        #expect(value?.doubleValue == 0.42)
    }

    @Test func aBadConfigFileIsAUsageError() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.agentPath))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-agent-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("agent.toml")
        try Data("[agent]\nbootstrapp = \"x:1\"\n".utf8).write(to: file)
        let run = try runAgent(["--once", "--config", file.path])
        #expect(run.status != 0)
        #expect(run.error.contains("bootstrapp"))
        #expect(run.output.isEmpty)
    }
}
