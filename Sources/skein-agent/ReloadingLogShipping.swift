import Logging
import ServiceLifecycle
import SkeinAgent
import SkeinLogShipping
import SkeinMetrics
import SkeinSystemd
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// The log sources and their delivery, rebuilt from the configuration file at each SIGHUP.
///
/// A reload is a graceful stop followed by a start, inside one process: the sources are cancelled, delivery
/// commits what they emitted (as at SIGTERM), and a new service recovers its positions from the partition
/// tail exactly as a restart does, so nothing is lost or sent twice. A file that does not parse leaves the
/// running service alone. Each incarnation gets a fresh metrics registry inside the scraped one, so its
/// counters start at zero, as after a restart, without two copies of a family in one scrape.
struct ReloadingLogShipping: Service {
    let initial: AgentConfiguration
    let path: String
    let hangups: UnixSignalsSequence
    let resolve: @Sendable () throws(ConfigFileError) -> AgentConfiguration
    let registry: MetricsRegistry
    let logger: Logger

    private enum Event: Sendable {
        case hangup
        case shutdown
        case ended(generation: Int)
    }

    /// The running incarnation: its metrics registry, which the scraped registry renders, and its delivery,
    /// which the watchdog probes.
    final class Current: MetricsCollector {
        let registry = Mutex(MetricsRegistry())
        let delivery = Mutex<LogDelivery?>(nil)
        /// One element each time an incarnation has reached the broker (or has no log source to start).
        let started: AsyncStream<Void>
        let startedContinuation: AsyncStream<Void>.Continuation

        init() {
            (started, startedContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        }

        func collect(into writer: inout PrometheusTextWriter) {
            registry.withLock { $0 }.collect(into: &writer)
        }

        func isProgressing() async -> Bool {
            guard let delivery = delivery.withLock({ $0 }) else { return true }
            return await delivery.isProgressing()
        }
    }

    let current = Current()

    func run() async throws {
        registry.register(current)
        let (events, continuation) = AsyncStream.makeStream(of: Event.self)
        let hangups = self.hangups
        let listening = Task {
            for await _ in hangups { continuation.yield(.hangup) }
        }
        defer { listening.cancel() }
        try await withGracefulShutdownHandler {
            try await supervise(events: events, continuation: continuation, current: current)
        } onGracefulShutdown: {
            continuation.yield(.shutdown)
        }
    }

    private func supervise(
        events: AsyncStream<Event>, continuation: AsyncStream<Event>.Continuation, current: Current
    ) async throws {
        let notifier = ServiceNotifier.shared
        var configuration = initial
        var generation = 0
        var iterator = events.makeAsyncIterator()
        while true {
            generation += 1
            let fresh = MetricsRegistry()
            current.registry.withLock { $0 = fresh }
            var shipping = configuration.makeLogShippingService(registry: fresh, logger: logger)
            current.delivery.withLock { $0 = shipping?.delivery }
            if shipping == nil {
                current.startedContinuation.yield()
            } else {
                shipping?.onStarted = { [current] in current.startedContinuation.yield() }
            }
            let group = shipping.map {
                ServiceGroup(configuration: .init(services: [.init(service: $0)], logger: logger))
            }
            let running = Task { [generation] in
                defer { continuation.yield(.ended(generation: generation)) }
                try await group?.run()
            }
            if generation > 1 { notifier.notify(["READY=1", "STATUS=" + Self.status(configuration)]) }
            var next: AgentConfiguration?
            while next == nil {
                guard let event = await iterator.next() else { return }
                switch event {
                case .shutdown:
                    await group?.triggerGracefulShutdown()
                    try await running.value
                    return
                case .ended(let ended):
                    // Only the running incarnation matters; one that ended on its own is an error the
                    // service group acts on (it stops the agent).
                    guard ended == generation, group != nil else { continue }
                    try await running.value
                    return
                case .hangup:
                    do {
                        next = try resolve()
                    } catch {
                        logger.error("reload: \(path): \(error); still running the previous configuration")
                        notifier.status("reload failed (\(path): \(error)); running the previous configuration")
                    }
                }
            }
            logger.notice("reload: \(path): stopping the log sources, then starting them from the new configuration")
            notifier.notify(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", "STATUS=reloading"])
            await group?.triggerGracefulShutdown()
            try? await running.value
            configuration = next!
        }
    }

    static func status(_ configuration: AgentConfiguration) -> String {
        let sources =
            configuration.files.map(\.id) + configuration.journald.map(\.id) + configuration.syslog.map(\.id)
            + (configuration.hostMetrics.enabled ? ["host_metrics"] : [])
        return "sources: \(sources.joined(separator: ", "))"
    }

    /// CLOCK_MONOTONIC in microseconds, which systemd 253 and later want next to RELOADING=1.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
