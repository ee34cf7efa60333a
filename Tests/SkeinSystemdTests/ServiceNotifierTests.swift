import Glibc
import Logging
import Testing

@testable import SkeinSystemd

/// The manager's side of NOTIFY_SOCKET: a datagram socket the notifier sends to, read without blocking.
final class ManagerSocket {
    let descriptor: CInt
    let name: String

    /// Binds an abstract-namespace socket (`@name` in NOTIFY_SOCKET), so no file is left behind.
    init() throws {
        name = "skein-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8(0)] + Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        try #require(bound == 0)
    }

    deinit { close(descriptor) }

    var environmentValue: String { "@" + name }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }
}

@Suite struct ServiceNotifierTests {
    @Test func sendsAssignmentsAsOneDatagramToAnAbstractSocket() throws {
        let manager = try ManagerSocket()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": manager.environmentValue])
        #expect(notifier.isEnabled)
        notifier.ready(status: "3 partitions\nforged=1")
        #expect(manager.receive() == "READY=1\nSTATUS=3 partitions forged=1")
        notifier.stopping(status: "bye")
        #expect(manager.receive() == "STOPPING=1\nSTATUS=bye")
        notifier.extendTimeout(seconds: 30, status: "recovering")
        #expect(manager.receive() == "EXTEND_TIMEOUT_USEC=30000000\nSTATUS=recovering")
    }

    @Test func withoutNotifySocketNothingIsSent() {
        let notifier = ServiceNotifier(environment: ["WATCHDOG_USEC": "1000000"])
        #expect(!notifier.isEnabled)
        #expect(!notifier.notify(["READY=1"]))
        #expect(!ServiceNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]).isEnabled)
    }

    @Test func watchdogIntervalOnlyForThisProcess() {
        let base = ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "3000000"]
        #expect(ServiceNotifier(environment: base).watchdogInterval == 3)
        #expect(
            ServiceNotifier(environment: base.merging(["WATCHDOG_PID": "\(getpid())"]) { $1 }).watchdogInterval == 3)
        #expect(ServiceNotifier(environment: base.merging(["WATCHDOG_PID": "1"]) { $1 }).watchdogInterval == nil)
        #expect(ServiceNotifier(environment: ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "0"]).watchdogInterval == nil)
    }

    @Test func watchdogPingsOnlyWhileTheProbeAnswers() async throws {
        let manager = try ManagerSocket()
        let notifier = ServiceNotifier(environment: [
            "NOTIFY_SOCKET": manager.environmentValue, "WATCHDOG_USEC": "200000",
        ])
        let healthy = Flag()
        let task = try #require(ServiceWatchdog.start(notifier: notifier) { healthy.value })
        defer { task.cancel() }
        // Unhealthy: 0.5 s (five periods) without a ping.
        try await Task.sleep(for: .milliseconds(500))
        #expect(manager.receive() == nil)
        healthy.value = true
        var pings = 0
        for _ in 0..<50 where pings < 2 {  // bounded: 5 s
            try await Task.sleep(for: .milliseconds(100))
            while let message = manager.receive() {
                #expect(message == "WATCHDOG=1")
                pings += 1
            }
        }
        #expect(pings >= 2)
    }

    /// A recovery longer than one extension keeps extending: the manager sees EXTEND_TIMEOUT_USEC= again and
    /// again, each with a fresh STATUS, until the work is done, and nothing after.
    @Test func startTimeoutIsExtendedRepeatedlyUntilCancelled() async throws {
        let manager = try ManagerSocket()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": manager.environmentValue])
        let task = try #require(ServiceWatchdog.extendWhile(notifier: notifier, every: 0.1) { "recovering \($0)" })
        var extensions: [String] = []
        for _ in 0..<100 where extensions.count < 3 {  // bounded: 10 s
            while let message = manager.receive() { extensions.append(message) }
            if extensions.count < 3 { try await Task.sleep(for: .milliseconds(100)) }
        }
        task.cancel()
        #expect(extensions.count >= 3)
        #expect(extensions.allSatisfy { $0.hasPrefix("EXTEND_TIMEOUT_USEC=300000\nSTATUS=recovering ") })
        #expect(extensions.first == "EXTEND_TIMEOUT_USEC=300000\nSTATUS=recovering 0")
        await task.value
        while manager.receive() != nil {}
        try await Task.sleep(for: .milliseconds(300))
        #expect(manager.receive() == nil)
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLockish()
    private var stored = false
    var value: Bool {
        get { lock.locked { stored } }
        set { lock.locked { stored = newValue } }
    }
}

/// A pthread mutex, so the test needs no Foundation.
final class NSLockish: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

@Suite struct JournalLogHandlerTests {
    @Test func prioritiesAreSyslogs() {
        #expect(
            [Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map(JournalLogHandler.priority)
                == [7, 7, 6, 5, 4, 3, 2])
    }

    @Test func journalStreamMustBeStderrItself() {
        var status = stat()
        #expect(fstat(2, &status) == 0)
        #expect(JournalLogHandler.standardErrorIsJournal("\(status.st_dev):\(status.st_ino)"))
        #expect(!JournalLogHandler.standardErrorIsJournal("\(status.st_dev):\(status.st_ino + 1)"))
        #expect(!JournalLogHandler.standardErrorIsJournal(nil))
        #expect(!JournalLogHandler.standardErrorIsJournal("garbage"))
    }

    @Test func metadataKeysBecomePrefixedJournalFieldNames() {
        #expect(JournalLogHandler.fieldName("records_scanned") == "SKEIN_RECORDS_SCANNED")
        #expect(JournalLogHandler.fieldName("end-offset.2") == "SKEIN_END_OFFSET_2")
        #expect(JournalLogHandler.fieldName("Topic") == "SKEIN_TOPIC")
        #expect(JournalLogHandler.fieldName("") == nil)
        #expect(JournalLogHandler.fieldName(String(repeating: "k", count: 59)) == nil)
        #expect(JournalLogHandler.fieldName(String(repeating: "k", count: 58))?.utf8.count == 64)
    }
}
