import SkeinMetrics
import Synchronization

/// `queued.max.request.bytes`, broker-wide: request bytes read from sockets and not yet answered, the
/// bytes of frames still arriving included. While the total is at the bound, connections stop reading
/// (their clients' sends block in TCP) until answers release bytes.
///
/// One connection at a time may go over the bound to finish a frame it has started, so a request up to
/// `socket.request.max.bytes` always gets through even when the bound is smaller; memory held by
/// requests thus stays under about `queued.max.request.bytes + socket.request.max.bytes` plus one
/// socket read per connection.
final class RequestMemoryBudget: Sendable {
    typealias Reader = ObjectIdentifier

    private struct State {
        var used = 0
        var overdraft: Reader?
        var waiting: [Reader: @Sendable () -> Void] = [:]
    }

    let limit: Int
    private let state = Mutex(State())
    private let gauge: Gauge?

    /// `limit` of nil means no bound (Kafka's -1).
    init(limit: Int?, gauge: Gauge? = nil) {
        self.limit = limit ?? .max
        self.gauge = gauge
    }

    var used: Int { state.withLock { $0.used } }

    /// Counts bytes just read; they were read before this was asked, so it cannot be refused.
    func reserve(_ bytes: Int) {
        guard bytes > 0 else { return }
        let used = state.withLock { state in
            state.used += bytes
            return state.used
        }
        gauge?.set(used)
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let (used, wake) = state.withLock { state -> (Int, [@Sendable () -> Void]) in
            state.used -= bytes
            guard state.used < limit, !state.waiting.isEmpty else { return (state.used, []) }
            defer { state.waiting.removeAll() }
            return (state.used, Array(state.waiting.values))
        }
        gauge?.set(used)
        for resume in wake { resume() }
    }

    enum Grant {
        case read
        /// Read, over the bound: `finished` must follow once the frame is complete.
        case overdraft
        /// Wait for `resume`, then ask again.
        case wait
    }

    /// Whether `reader` may read more now. `midFrame`: it holds the start of a frame, and may take the
    /// single overdraft to finish it.
    func mayRead(_ reader: Reader, midFrame: Bool, resume: @escaping @Sendable () -> Void) -> Grant {
        state.withLock { state in
            if state.used < limit { return .read }
            if midFrame && (state.overdraft == nil || state.overdraft == reader) {
                state.overdraft = reader
                return .overdraft
            }
            state.waiting[reader] = resume
            return .wait
        }
    }

    /// `reader` finished its frame or went away: the overdraft is free for another, and it no longer waits.
    func finished(_ reader: Reader) {
        let wake = state.withLock { state -> [@Sendable () -> Void] in
            state.waiting[reader] = nil
            guard state.overdraft == reader else { return [] }
            state.overdraft = nil
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for resume in wake { resume() }
    }
}
