import Glibc

/// The service manager's notification socket (sd_notify(3)): READY=1, STATUS=, STOPPING=1, WATCHDOG=1 and
/// EXTEND_TIMEOUT_USEC= as datagrams to `$NOTIFY_SOCKET`. Every call is a no-op without that variable, so the
/// same code runs from a shell, under `systemd-notify`-less supervisors and under systemd.
///
/// Own code rather than libsystemd's sd_notify: the protocol is one datagram on a unix socket, and the broker
/// then links libsystemd only where the agent reads the journal.
public final class ServiceNotifier: Sendable {
    /// The process's notifier, from its environment at first use.
    public static let shared = ServiceNotifier(environment: ServiceNotifier.processEnvironment())

    private let address: [UInt8]?  // sun_path bytes; a leading 0 for the abstract namespace
    private let descriptor: CInt
    /// `WATCHDOG_USEC` as seconds when the watchdog is meant for this process (`WATCHDOG_PID` unset or ours).
    public let watchdogInterval: Double?

    public var isEnabled: Bool { address != nil && descriptor >= 0 }

    public init(environment: [String: String]) {
        var path = environment["NOTIFY_SOCKET"].map { Array($0.utf8) }
        if let first = path?.first, first == UInt8(ascii: "@") { path![0] = 0 }
        if let p = path, p.isEmpty || (p[0] != UInt8(ascii: "/") && p[0] != 0) || p.count >= 108 { path = nil }
        address = path
        descriptor = path == nil ? -1 : socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let ours = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if ours, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            watchdogInterval = Double(usec) / 1_000_000
        } else {
            watchdogInterval = nil
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Sends `NAME=value` lines as one datagram; false when there is no socket or the send failed.
    @discardableResult
    public func notify(_ assignments: [String]) -> Bool {
        guard let address, descriptor >= 0 else { return false }
        // A newline inside a STATUS text would start a new assignment; a status line stays one line.
        let text = assignments.map { $0.map { $0 == "\n" ? " " : $0 } }.map { String($0) }.joined(separator: "\n")
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { raw in
            for (i, byte) in address.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address[0] == 0 ? 0 : 1))
        let bytes = Array(text.utf8)
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bytes.withUnsafeBytes {
                    sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), generic, length)
                }
            }
        }
        return sent == bytes.count
    }

    public func ready(status: String) { notify(["READY=1", "STATUS=" + status]) }
    public func status(_ text: String) { notify(["STATUS=" + text]) }
    public func stopping(status: String) { notify(["STOPPING=1", "STATUS=" + status]) }
    public func watchdog() { notify(["WATCHDOG=1"]) }
    /// Asks for `seconds` more than the start (or stop) timeout from now; repeat before it runs out.
    public func extendTimeout(seconds: Double, status: String) {
        notify(["EXTEND_TIMEOUT_USEC=\(UInt64(seconds * 1_000_000))", "STATUS=" + status])
    }

    static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }
}
