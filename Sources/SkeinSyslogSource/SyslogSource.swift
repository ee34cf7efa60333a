import Glibc
import Logging
import NIOCore
import NIOPosix
import SkeinLogShipping
import SkeinMetrics
import Synchronization

/// The syslog source: UDP, TCP and unix datagram listeners (bound, or passed by systemd) whose messages
/// are parsed on the event loops that read them and handed to the delivery core by one loop, in the order
/// they were queued.
///
/// Syslog has nothing to resume from: delivery is at-least-once from the moment a message is read. The
/// position is the count of messages this run has received (stream `syslog`), for reading only.
public struct SyslogSource: LogSource {
    public static let stream = "syslog"

    public let settings: SyslogSourceSettings
    public let topic: String
    public var id: String { settings.id }
    public var kind: String { "syslog" }
    /// Listeners open at start, whether or not the broker answers yet: until it does, messages wait in the
    /// source's queue, then TCP senders block and datagrams are counted as dropped.
    public var startsBeforeRecovery: Bool { true }
    let metrics: SyslogSourceMetrics
    let logger: Logger
    let group: any EventLoopGroup
    /// How long a stopping source may wait for room at the memory cap to hand over what it had read.
    let shutdownDrain: Duration

    public init(
        settings: SyslogSourceSettings, defaultTopic: String, metrics: MetricsRegistry, logger: Logger,
        shutdownDrain: Duration = .seconds(5), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.settings = settings
        self.topic = settings.topic ?? defaultTopic
        self.metrics = SyslogSourceMetrics(source: settings.id, registry: metrics)
        self.logger = logger
        self.group = group
        self.shutdownDrain = shutdownDrain
    }

    /// The queue between listeners and the core: enough for large batches, and a few whole messages.
    var queueBytes: Int { max(4 << 20, 2 * (settings.maxMessageBytes + SyslogIntake.perEventCost)) }

    public func run(from state: SourceState, into sink: SourceSink) async throws {
        let intake = SyslogIntake(capacity: queueBytes)
        let maker = SyslogEventMaker(
            parser: SyslogParser(localZone: LocalZoneOffset()), metrics: metrics, encoding: sink.eventEncoding,
            oversize: { count in sink.dropped(count, reason: "oversize") })
        let listeners = SyslogListeners(
            settings: settings, group: group, maker: maker, intake: intake, sink: sink, logger: logger)
        try await listeners.start()
        metrics.udpKernelDrops.watch(ports: listeners.udpPorts)
        defer { metrics.udpKernelDrops.watch(ports: []) }
        logger.info(
            "syslog \(id) listening: \((settings.tcp.map { "tcp \($0)" } + settings.udp.map { "udp \($0)" } + settings.unix.map { "unix \($0)" }).joined(separator: ", "))"
        )
        var received: UInt64 = 0
        func number(_ events: inout EncodedEvents) {
            events.number(stream: Self.stream, from: received + 1)
            received += UInt64(events.count)
        }
        // Taken and numbered, not yet handed over. One emit per read's chunk.
        var inFlight: [EncodedEvents] = []
        var failure: (any Error)?
        do {
            while true {
                inFlight = await intake.take()
                if inFlight.isEmpty { break }
                for index in inFlight.indices { number(&inFlight[index]) }
                while !inFlight.isEmpty {
                    try await sink.emit(encoded: inFlight[0])
                    inFlight.removeFirst()
                }
            }
        } catch is CancellationError {
        } catch {
            failure = error
        }
        // Shutdown: no more reads; what the sockets delivered so far is handed over before returning.
        await listeners.stop()
        intake.close()
        var rest = intake.drain()
        for index in rest.indices { number(&rest[index]) }
        await handOver(inFlight + rest, to: sink)
        if let failure { throw failure }
    }

    /// Emits outside the cancelled task, for at most `shutdownDrain` (the broker may be away and the cap
    /// full); what cannot be handed over in time is counted as dropped (`shutdown`).
    private func handOver(_ chunks: [EncodedEvents], to sink: SourceSink) async {
        let count = chunks.reduce(0) { $0 + $1.count }
        guard count > 0 else { return }
        let emitted = Mutex(0)
        let emitting = Task {
            for chunk in chunks {
                try await sink.emit(encoded: chunk)
                emitted.withLock { $0 += chunk.count }
            }
        }
        let limit = shutdownDrain
        let timer = Task {
            try await Task.sleep(for: limit)
            emitting.cancel()
        }
        do {
            try await emitting.value
        } catch {
            let lost = count - emitted.withLock { $0 }
            sink.dropped(lost, reason: "shutdown")
            logger.warning("syslog \(id): \(lost) messages read before shutdown could not be handed over")
        }
        timer.cancel()
    }
}
