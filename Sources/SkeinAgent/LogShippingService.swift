import Logging
import ServiceLifecycle
import SkeinLogShipping

/// Runs the log sources and their delivery as one service.
///
/// Order matters on both ends. At start, delivery first fences the previous incarnation and recovers
/// the committed positions; only then do sources start reading, from those positions. At graceful
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
        let descriptors = sources.map { (id: $0.id, kind: $0.kind, topic: $0.topic) }
        let started: [(SourceChannel, SourceState)]
        do {
            started = try await cancelWhenGracefulShutdown {
                try await delivery.start(sources: descriptors)
            }
        } catch is CancellationError {
            logger.info("stopped before the broker could be reached; nothing was read")
            return
        }
        onStarted()
        let logger = self.logger
        let flush = shutdownFlush
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await delivery.run() }
            group.addTask {
                await withTaskGroup(of: Void.self) { readers in
                    for (source, (channel, state)) in zip(sources, started) {
                        readers.addTask {
                            do {
                                try await source.run(from: state, into: channel)
                            } catch is CancellationError {
                            } catch {
                                logger.error("source \(source.id) stopped: \(error)")
                            }
                        }
                    }
                    // Sources read until graceful shutdown; then they are cancelled, and delivery gets
                    // `flush` to commit what they emitted.
                    try? await gracefulShutdown()
                    readers.cancelAll()
                    await readers.waitForAll()
                }
                await delivery.finish(deadline: .now + flush)
            }
            await group.waitForAll()
        }
        logger.info("log shipping stopped")
    }
}
