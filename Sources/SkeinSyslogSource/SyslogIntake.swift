import NIOCore
import SkeinLogShipping
import Synchronization

/// The bounded queue between a syslog source's listeners (NIO event loop threads) and its run loop, which
/// hands the events to the delivery core.
///
/// It is what turns the core's backpressure into the right thing per transport: when it is full, a TCP
/// connection stops being read (the sender blocks in TCP flow control) and a datagram is dropped and
/// counted, since a datagram socket has no way to make its sender wait.
final class SyslogIntake: Sendable {
    /// Bytes (message plus `perEventCost`) queued before TCP pauses and datagrams drop.
    let capacity: Int
    static let perEventCost = 320

    private struct State {
        /// One batch per TCP read or datagram, as the connection handed it over.
        var chunks: [EncodedEvents] = []
        var bytes = 0
        var waiter: CheckedContinuation<Void, Never>?
        var paused: [any Channel] = []
        var closed = false
    }

    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    static func cost(_ events: EncodedEvents) -> Int { events.byteCount + perEventCost * events.count }

    /// A stream's events, always taken. Returns false when the queue is over its capacity: the caller
    /// then stops reading `channel`, which is resumed once the run loop has taken the queue.
    func pushStream(_ events: EncodedEvents, pausing channel: any Channel) -> Bool {
        guard !events.isEmpty else { return true }
        let cost = Self.cost(events)
        let (waiter, accepting) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            state.chunks.append(events)
            state.bytes += cost
            let accepting = state.bytes < capacity
            if !accepting { state.paused.append(channel) }
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, accepting)
        }
        waiter?.resume()
        return accepting
    }

    /// A datagram's event, taken only if there is room.
    func pushDatagram(_ event: EncodedEvents) -> Bool {
        let cost = Self.cost(event)
        let (waiter, accepted) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            guard state.bytes + cost <= capacity || state.chunks.isEmpty else { return (nil, false) }
            state.chunks.append(event)
            state.bytes += cost
            let waiter = state.waiter
            state.waiter = nil
            return (waiter, true)
        }
        waiter?.resume()
        return accepted
    }

    /// Everything queued, in order, as the reads delivered it, waiting while the queue is empty; no chunk
    /// once closed (or cancelled) and empty. Paused connections read again from here on.
    func take() async -> [EncodedEvents] {
        while true {
            let (events, paused, done) = state.withLock { state -> ([EncodedEvents], [any Channel], Bool) in
                let events = state.chunks
                state.chunks = []
                state.bytes = 0
                let paused = state.paused
                state.paused = []
                return (events, paused, state.closed || Task.isCancelled)
            }
            for channel in paused { channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
            if !events.isEmpty || done { return events }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        if !state.chunks.isEmpty || state.closed || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }

    /// No more events will come: a waiting `take` returns.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// What is left, without waiting (shutdown).
    func drain() -> [EncodedEvents] {
        state.withLock { state in
            defer {
                state.chunks = []
                state.bytes = 0
                state.paused = []
            }
            return state.chunks
        }
    }
}
