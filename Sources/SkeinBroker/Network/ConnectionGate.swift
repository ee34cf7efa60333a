import Glibc
import NIOCore
import Synchronization

/// Counts open Kafka connections, in total and per client address, against `max.connections` and
/// `max.connections.per.ip` (with `max.connections.per.ip.overrides`). Shared by every event loop.
final class ConnectionGate: Sendable {
    enum Refusal: String, Sendable {
        case total = "max_connections"
        case perIp = "max_connections_per_ip"
    }

    private struct Counts {
        var total = 0
        var perIp: [String: Int] = [:]
    }

    let maxConnections: Int
    private let maxPerIp: Int
    private let overrides: [String: Int]
    private let counts = Mutex(Counts())

    init(maxConnections: Int, maxPerIp: Int, overrides: [String: Int]) {
        self.maxConnections = maxConnections
        self.maxPerIp = maxPerIp
        self.overrides = overrides
    }

    func limit(for ip: String) -> Int { overrides[ip] ?? maxPerIp }

    /// Takes a slot for a connection from `ip`, or says which limit is reached.
    func admit(ip: String) -> Refusal? {
        let limit = limit(for: ip)
        return counts.withLock { counts in
            if counts.total >= maxConnections { return .total }
            let fromIp = counts.perIp[ip, default: 0]
            if fromIp >= limit { return .perIp }
            counts.total += 1
            counts.perIp[ip] = fromIp + 1
            return nil
        }
    }

    func release(ip: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.perIp[ip, default: 1] - 1
            counts.perIp[ip] = left > 0 ? left : nil
        }
    }

    var open: Int { counts.withLock { $0.total } }

    /// `max.connections` when the operator sets none: three quarters of the open-file limit, leaving the
    /// rest for segment files and indexes (three descriptors per open segment), the metrics listener and
    /// the process itself. Kafka's default is unlimited; a broker that runs out of descriptors cannot
    /// roll a segment, which is worse than refusing a connection.
    static func defaultMaxConnections() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 768 }
        let descriptors = limit.rlim_cur == rlim_t.max ? UInt64(1 << 20) : UInt64(limit.rlim_cur)
        return max(16, Int(clamping: descriptors / 4 * 3))
    }
}

/// First handler of every Kafka connection: takes a slot from the gate, or closes the connection at once
/// (as Kafka does past its limits) without the handlers behind it ever seeing it.
final class ConnectionGateHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let gate: ConnectionGate
    private let refused: @Sendable (ConnectionGate.Refusal, String) -> Void
    private var admittedIp: String?

    init(gate: ConnectionGate, refused: @escaping @Sendable (ConnectionGate.Refusal, String) -> Void) {
        self.gate = gate
        self.refused = refused
    }

    func channelActive(context: ChannelHandlerContext) {
        let ip = context.remoteAddress?.ipAddress ?? "?"
        if let refusal = gate.admit(ip: ip) {
            refused(refusal, ip)
            context.close(promise: nil)
            return
        }
        admittedIp = ip
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admittedIp != nil else { return }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard admittedIp != nil else { return }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        guard let ip = admittedIp else { return }
        admittedIp = nil
        gate.release(ip: ip)
        context.fireChannelInactive()
    }
}
