import Logging
import ServiceLifecycle
import SkeinLogShipping

/// Runs the log sources and their delivery as one service.
///
/// Order matters on both ends. At start, delivery first fences the previous incarnation and recovers
/// the committed positions; only then do sources start reading, from those positions (a source with nothing
/// to resume from, syslog, starts at once and waits for delivery in its own queue). At graceful
/// shutdown, sources stop first (what they have not emitted stays on disk or in the journal), then
/// delivery commits what they emitted, within `shutdownFlush`, with a last checkpoint.
public struct LogShippingService: Service {
    public let sources: [any LogSource]
    public let delivery: LogDelivery
    public let shutdownFlush: Duration
    /// Called once delivery has reached the broker and recovered the positions, as the sources start.
    public var onStarted: @Sendable () -> Void = {}
    private let logger: Logger

    public init(sources: [any LogSource], delivery: LogDelivery, shutdownFlush: Duration, logger: Logger) {
        self.sources = sources
        self.delivery = delivery
        self.shutdownFlush = shutdownFlush
        self.logger = logger
    }

    public func run() async throws {
        let delivery = self.delivery
        let sources = self.sources
        let logger = self.logger
        let descriptors = sources.map { (id: $0.id, kind: $0.kind, topic: $0.topic) }
        // Sources with nothing to resume from (syslog) read at once, into sinks that hold their emits until
        // delivery is ready.
        var deferred: [Int: DeferredSink] = [:]
        var early: [Task<Void, Never>] = []
        for index in sources.indices where sources[index].startsBeforeRecovery {
            let sink = DeferredSink(source: sources[index], delivery: delivery)
            deferred[index] = sink
            let source = sources[index]
            early.append(Task { await Self.read(source, from: SourceState(), into: sink, logger: logger) })
        }
        let earlyReaders = early
        let started: [(SourceChannel, SourceState)]
        do {
            started = try await cancelWhenGracefulShutdown {
                try await delivery.start(sources: descriptors)
            }
        } catch {
            for sink in deferred.values { sink.cancel() }
            for reader in earlyReaders { reader.cancel() }
            for reader in earlyReaders { await reader.value }
            logger.info("stopped before the broker could be reached; nothing was delivered")
            return
        }
        for (index, sink) in deferred { sink.attach(started[index].0) }
        onStarted()
        let flush = shutdownFlush
        let later = sources.indices.filter { deferred[$0] == nil }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await delivery.run() }
            group.addTask {
                await withTaskGroup(of: Void.self) { readers in
                    for index in later {
                        readers.addTask {
                            await Self.read(
                                sources[index], from: started[index].1, into: started[index].0, logger: logger)
                        }
                    }
                    // Sources read until graceful shutdown; then they are cancelled, and delivery gets
                    // `flush` to commit what they emitted.
                    try? await gracefulShutdown()
                    readers.cancelAll()
                    for reader in earlyReaders { reader.cancel() }
                    await readers.waitForAll()
                    for reader in earlyReaders { await reader.value }
                }
                await delivery.finish(deadline: .now + flush)
            }
            await group.waitForAll()
        }
        logger.info("log shipping stopped")
    }

    private static func read(_ source: any LogSource, from state: SourceState, into sink: SourceSink, logger: Logger)
        async
    {
        do {
            try await source.run(from: state, into: sink)
        } catch is CancellationError {
        } catch {
            logger.error("source \(source.id) stopped: \(error)")
        }
    }
}
