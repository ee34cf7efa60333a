import NIOCore
import NIOPosix
import SkeinClient
import Synchronization

/// What one load connection measured; merged across connections into the report.
public struct ConnectionStats: Sendable {
    public var latency = LatencyHistogram()
    /// Requests that got their answer (or, for acks=0, were written).
    public var requests = 0
    /// Records and RecordBatch bytes that made it: acknowledged without error, or fetched.
    public var records = 0
    public var bytes = 0
    /// Kafka error codes found in responses, by code.
    public var errorCodes: [Int16: Int] = [:]
    /// Problems that are not Kafka error codes (a dropped connection, an unreadable response).
    public var failures: [String] = []
    public var finishedAt: NIODeadline = .now()

    public init() {}

    mutating func count(_ code: Int16) {
        errorCodes[code, default: 0] += 1
    }

    mutating func merge(_ other: ConnectionStats) {
        latency.merge(other.latency)
        requests += other.requests
        records += other.records
        bytes += other.bytes
        errorCodes.merge(other.errorCodes, uniquingKeysWith: +)
        failures += other.failures
        finishedAt = max(finishedAt, other.finishedAt)
    }
}

/// Sent down every pipeline at once so all connections start the same clock.
struct StartLoad: Sendable {
    var deadline: NIODeadline?
}

/// A count shared by every connection of a run (requests still to send, records still to read),
/// so `--records` is honoured exactly however the connections' speeds differ.
final class SharedBudget: Sendable {
    private let remaining: Atomic<Int>

    init(_ limit: Int) {
        remaining = Atomic(limit)
    }

    /// Takes one unit; false once the budget is spent.
    func claim() -> Bool {
        remaining.wrappingSubtract(1, ordering: .relaxed).newValue >= 0
    }

    /// Takes `amount` units; false once the budget is spent.
    func spend(_ amount: Int) -> Bool {
        remaining.wrappingSubtract(amount, ordering: .relaxed).newValue > 0
    }

    var isSpent: Bool { remaining.load(ordering: .relaxed) <= 0 }
}

/// How long a connection with requests outstanding may go without any answer before the run
/// gives up on it; the brokers' own request timeout is 30 s.
let stallTimeout = TimeAmount.seconds(45)

enum LoadConnections {
    /// Connects `count` channels, each with a frame decoder and the handler `makeHandler` returns
    /// (given the connection's index and the promise it must complete exactly once).
    static func connect(
        count: Int, host: String, port: Int, group: EventLoopGroup, tls: BenchTLS? = nil,
        makeHandler: @escaping @Sendable (Int, EventLoopPromise<ConnectionStats>) -> any ChannelHandler
    ) async throws -> [(channel: Channel, result: EventLoopFuture<ConnectionStats>)] {
        var connections: [(channel: Channel, result: EventLoopFuture<ConnectionStats>)] = []
        do {
            for index in 0..<count {
                let eventLoop = group.next()
                let promise = eventLoop.makePromise(of: ConnectionStats.self)
                let connecting = ClientBootstrap(group: eventLoop)
                    .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .connectTimeout(.seconds(10))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls { try tls.addHandler(to: channel, host: host) }
                            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                            try channel.pipeline.syncOperations.addHandler(makeHandler(index, promise))
                        }
                    }
                    .connect(host: host, port: port)
                do {
                    connections.append((try await connecting.get(), promise.futureResult))
                } catch {
                    promise.fail(error)
                    throw error
                }
            }
        } catch {
            for connection in connections { try? await connection.channel.close() }
            throw error
        }
        return connections
    }

    /// Starts every connection, waits for all of them, and merges what they measured. A watchdog
    /// closes connections still open `grace` after the deadline, so a silent broker cannot hang
    /// the run (their handlers then report the failure).
    static func run(
        _ connections: [(channel: Channel, result: EventLoopFuture<ConnectionStats>)], duration: Duration?,
        grace: TimeAmount = .seconds(60)
    ) async -> (stats: ConnectionStats, startedAt: NIODeadline) {
        let startedAt = NIODeadline.now()
        let deadline = duration.map { startedAt + TimeAmount.nanoseconds(Int64($0.nanosecondsClamped)) }
        var watchdogs: [Scheduled<Void>] = []
        for (channel, _) in connections {
            if let deadline {
                watchdogs.append(
                    channel.eventLoop.scheduleTask(deadline: deadline + grace) { channel.close(promise: nil) })
            }
            channel.pipeline.fireUserInboundEventTriggered(StartLoad(deadline: deadline))
        }
        var merged = ConnectionStats()
        merged.finishedAt = startedAt
        for (index, (_, result)) in connections.enumerated() {
            do {
                merged.merge(try await result.get())
            } catch {
                merged.failures.append("connection \(index): \(error)")
            }
        }
        for watchdog in watchdogs { watchdog.cancel() }
        return (merged, startedAt)
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var seconds: Double { Double(nanosecondsClamped) / 1e9 }
}
