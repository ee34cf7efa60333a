import Synchronization

/// The process-wide cap on bytes that sources have read and the broker has not yet committed.
///
/// Sources acquire before they hand records over and suspend while the cap is reached, which is their
/// backpressure: a file or journal source stops reading (the data waits on disk), a socket source stops
/// reading its sockets. Delivery releases once a transaction commits. One request larger than the whole
/// cap is let through when nothing else is held, so a single huge entry cannot wedge the agent.
public final class MemoryBudget: Sendable {
    public let capacity: Int

    private struct State {
        var held = 0
        var waiters: [(id: UInt64, bytes: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextId: UInt64 = 0
        var waitingSince: ContinuousClock.Instant?
        var waitedSeconds: Double = 0
    }

    private let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var heldBytes: Int { state.withLock { $0.held } }

    /// Seconds sources have spent waiting for room, summed over time (a waiting period counts once,
    /// however many sources wait in it).
    public var waitedSeconds: Double {
        state.withLock { state in
            var total = state.waitedSeconds
            if let since = state.waitingSince { total += (ContinuousClock.now - since).seconds }
            return total
        }
    }

    public func acquire(_ bytes: Int) async throws {
        try Task.checkCancellation()
        let admitted = state.withLock { state -> Bool in
            if state.waiters.isEmpty, state.held + bytes <= capacity || state.held == 0 {
                state.held += bytes
                return true
            }
            return false
        }
        if admitted { return }
        let id = state.withLock { state -> UInt64 in
            state.nextId += 1
            return state.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { state -> Result<Bool, CancellationError> in
                    if state.waiters.isEmpty, state.held + bytes <= capacity || state.held == 0 {
                        state.held += bytes
                        return .success(true)
                    }
                    // Cancelled after the check above but before the handler was installed: the handler
                    // has already run and found no waiter, so nobody would ever remove this one.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.waiters.isEmpty { state.waitingSince = .now }
                    state.waiters.append((id, bytes, continuation))
                    return .success(false)
                }
                switch outcome {
                case .success(true): continuation.resume()
                case .success(false): break
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                let waiter = state.waiters.remove(at: index)
                if state.waiters.isEmpty, let since = state.waitingSince {
                    state.waitedSeconds += (ContinuousClock.now - since).seconds
                    state.waitingSince = nil
                }
                return waiter.continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    public func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        let admitted = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.held = max(0, state.held - bytes)
            var admitted: [CheckedContinuation<Void, any Error>] = []
            while let first = state.waiters.first, state.held + first.bytes <= capacity || state.held == 0 {
                state.held += first.bytes
                admitted.append(state.waiters.removeFirst().continuation)
            }
            if state.waiters.isEmpty, let since = state.waitingSince {
                state.waitedSeconds += (ContinuousClock.now - since).seconds
                state.waitingSince = nil
            }
            return admitted
        }
        for continuation in admitted { continuation.resume() }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
