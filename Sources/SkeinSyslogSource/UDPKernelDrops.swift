import Glibc
import SkeinMetrics
import Synchronization

/// Datagrams the kernel threw away for a source's UDP sockets because their receive buffer was full: the loss
/// an operator otherwise finds only with `netstat -su`, and then for the whole host. Read at scrape time from
/// the `drops` column of `/proc/net/udp` and `/proc/net/udp6`, for the rows of the source's local ports. The
/// kernel's count belongs to one socket and starts again with a new one (a reload), so the exposed value is
/// kept monotonic: a per-port count that goes down is a new socket, whose whole count is new drops.
final class UDPKernelDrops: ExposableMetric {
    private struct State {
        var ports: Set<Int> = []
        var lastSeen: [Int: Int] = [:]
        var total = 0
    }

    private let state = Mutex(State())
    private let tables: [String]

    init(tables: [String] = ["/proc/net/udp", "/proc/net/udp6"]) {
        self.tables = tables
    }

    /// The ports the source's UDP sockets are bound to now (after a start; empty after a stop).
    func watch(ports: [Int]) {
        state.withLock { state in
            state.ports = Set(ports)
            state.lastSeen = state.lastSeen.filter { state.ports.contains($0.key) }
        }
    }

    var value: Int {
        let ports = state.withLock { $0.ports }
        guard !ports.isEmpty else { return state.withLock { $0.total } }
        var current: [Int: Int] = [:]
        for table in tables {
            guard let text = Self.read(table) else { continue }
            for (port, drops) in Self.drops(in: text, ports: ports) { current[port, default: 0] += drops }
        }
        return state.withLock { state in
            for (port, drops) in current {
                let last = state.lastSeen[port] ?? 0
                state.total += drops >= last ? drops - last : drops
                state.lastSeen[port] = drops
            }
            return state.total
        }
    }

    func write(_ name: String, labels: [(String, String)], to writer: inout PrometheusTextWriter) {
        writer.sample(name, labels, value)
    }

    /// `(local port, drops)` of each row of a `/proc/net/udp`-style table whose port is in `ports`. A row is
    /// `sl local_address rem_address st … inode ref pointer drops`, the address `HEXIP:HEXPORT`.
    static func drops(in table: String, ports: Set<Int>) -> [(Int, Int)] {
        var found: [(Int, Int)] = []
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 13, let colon = columns[1].lastIndex(of: ":"),
                let port = Int(columns[1][columns[1].index(after: colon)...], radix: 16), ports.contains(port),
                let drops = Int(columns[columns.count - 1])
            else { continue }
            found.append((port, drops))
        }
        return found
    }

    private static func read(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<1024 {  // bounded: 64 MiB of table
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
