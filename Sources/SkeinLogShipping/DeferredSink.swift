import Synchronization

/// The sink of a source that starts before delivery has reached the broker (`LogSource.startsBeforeRecovery`:
/// syslog, which has nothing to resume from). Its emits wait until `attach` hands over the source's channel,
/// so the source's own queue fills meanwhile and it applies its own backpressure: TCP connections stop being
/// read, datagrams are dropped and counted. Listeners are then open from the start, as an operator of rsyslog
/// or syslog-ng expects, instead of refusing connections (and losing datagrams uncounted) until the broker
/// answers.
public final class DeferredSink: SourceSink {
    public let eventEncoding: LogEventEncoding
    private let sourceId: String
    private let delivery: LogDelivery

    private struct State {
        var channel: SourceChannel?
        var cancelled = false
        var waiters: [UInt64: CheckedContinuation<SourceChannel, any Error>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(source: any LogSource, delivery: LogDelivery) {
        sourceId = source.id
        self.delivery = delivery
        eventEncoding = delivery.eventEncoding(kind: source.kind)
    }

    /// Delivery is ready: waiting and later emits go to `channel`.
    public func attach(_ channel: SourceChannel) {
        let waiters = state.withLock { state in
            state.channel = channel
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: channel) }
    }

    /// Delivery will never be ready (the agent stopped first): waiting and later emits throw
    /// `CancellationError`, as a cancelled wait at the memory cap does.
    public func cancel() {
        let waiters = state.withLock { state in
            state.cancelled = true
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(throwing: CancellationError()) }
    }

    private func channel() async throws -> SourceChannel {
        if let channel = state.withLock({ $0.channel }) { return channel }
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let now = state.withLock { state -> Result<SourceChannel, any Error>? in
                    if let channel = state.channel { return .success(channel) }
                    if state.cancelled || Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    public func emit(_ events: [LogEvent]) async throws {
        try await channel().emit(events)
    }

    public func emit(encoded events: EncodedEvents) async throws {
        try await channel().emit(encoded: events)
    }

    public func retire(stream: String) async {
        await (try? channel())?.retire(stream: stream)
    }

    public func dropped(_ count: Int, reason: String) {
        delivery.countDropped(count, source: sourceId, reason: reason)
    }
}
