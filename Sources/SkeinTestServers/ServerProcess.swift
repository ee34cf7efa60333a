import Foundation

/// Lines a child process writes, as they arrive; the pipe is drained for the process's whole life
/// so a chatty server never blocks on a full pipe.
public final class OutputLines: @unchecked Sendable {
    public let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private var partial = Data()
    private let lock = NSLock()

    init(_ handle: FileHandle) {
        (stream, continuation) = AsyncStream.makeStream(of: String.self)
        handle.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            if data.isEmpty {
                handle.readabilityHandler = nil
                self.continuation.finish()
                return
            }
            self.lock.lock()
            self.partial.append(data)
            var lines: [String] = []
            while let newline = self.partial.firstIndex(of: 0x0A) {
                lines.append(String(decoding: self.partial[self.partial.startIndex..<newline], as: UTF8.self))
                self.partial.removeSubrange(self.partial.startIndex...newline)
            }
            self.lock.unlock()
            for line in lines { self.continuation.yield(line) }
        }
    }

    /// The first line `matches` accepts, or nil if the process ends or `timeout` passes first.
    public func first(within timeout: Duration, where matches: @escaping @Sendable (String) -> Bool) async -> String? {
        let stream = self.stream
        return await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await line in stream where matches(line) { return line }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String
}

/// A child process serving Kafka on loopback that the test owns and stops by pid.
public final class ServerProcess: @unchecked Sendable {
    public let process: Process
    public let output: OutputLines
    public let bootstrap: String
    private let cleanup: @Sendable () -> Void

    private init(process: Process, output: OutputLines, bootstrap: String, cleanup: @escaping @Sendable () -> Void) {
        self.process = process
        self.output = output
        self.bootstrap = bootstrap
        self.cleanup = cleanup
    }

    deinit { stop() }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
        cleanup()
    }

    public static var binDirectory: String {
        if let directory = ProcessInfo.processInfo.environment["SKEIN_BIN_DIR"] { return directory }
        // swift test runs the test bundle from the build directory that also holds the executables.
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    public static var skeindPath: String { binDirectory + "/skeind" }

    /// skeind on a kernel-chosen loopback port with a fresh data directory; ready once it logs
    /// the address it listens on.
    public static func skeind(settings: [String: String] = [:]) async throws -> ServerProcess {
        let directory = NSTemporaryDirectory() + "skein-client-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try await skeind(
            settings: settings, dataDirectory: directory, listen: "127.0.0.1:0",
            cleanup: { try? FileManager.default.removeItem(atPath: directory) })
    }

    /// skeind over an existing data directory and address, for restart tests; the caller removes
    /// the directory.
    public static func skeind(
        settings: [String: String] = [:], dataDirectory: String, listen: String,
        cleanup: @escaping @Sendable () -> Void = {}
    ) async throws -> ServerProcess {
        // A kernel-chosen HTTP port: the default 9644 would collide between brokers of parallel tests.
        var arguments = [
            "--data-dir", dataDirectory, "--listen", listen, "--http-listen", "127.0.0.1:0", "--log-level", "info",
        ]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) { arguments += ["--set", "\(name)=\(value)"] }
        return try await start(executable: skeindPath, arguments: arguments, cleanup: cleanup) { line in
            guard line.contains("skeind listening on"),
                let range = line.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression)
            else { return nil }
            return String(line[range])
        }
    }

    public static let mockBrokerSource = "/work/shared/tools/mockbroker.c"

    /// Whether librdkafka's headers and library are installed, so the mock cluster can be built.
    public static var mockClusterAvailable: Bool {
        FileManager.default.fileExists(atPath: mockBrokerSource)
            && run("/usr/bin/env", ["pkg-config", "--exists", "rdkafka"]) == 0
    }

    /// librdkafka's mock cluster, built from the shared source into a temporary directory; it
    /// prints its bootstrap list as its first line.
    public static func mockCluster(brokers: Int = 1) async throws -> ServerProcess {
        let directory = NSTemporaryDirectory() + "skein-mockbroker-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/mockbroker"
        let status = run(
            "/bin/sh",
            ["-c", "cc -O2 -pthread -o '\(binary)' '\(mockBrokerSource)' $(pkg-config --cflags --libs rdkafka)"])
        guard status == 0 else { throw ServerStartError(description: "building the mock broker failed (\(status))") }
        return try await start(
            executable: binary, arguments: [String(brokers)],
            cleanup: { try? FileManager.default.removeItem(atPath: directory) }
        ) { line in
            line.contains(":") && !line.contains(" ") ? line.trimmingCharacters(in: .whitespaces) : nil
        }
    }

    private static func start(
        executable: String, arguments: [String], cleanup: @escaping @Sendable () -> Void,
        readiness: @escaping @Sendable (String) -> String?
    ) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = OutputLines(pipe.fileHandleForReading)
        try process.run()
        guard let line = await output.first(within: .seconds(30), where: { readiness($0) != nil }),
            let bootstrap = readiness(line)
        else {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            cleanup()
            throw ServerStartError(description: "\(executable) did not report its address within 30 s")
        }
        return ServerProcess(process: process, output: output, bootstrap: bootstrap, cleanup: cleanup)
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
