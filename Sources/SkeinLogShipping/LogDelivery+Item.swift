import SkeinClient
import SkeinProtocol

// The delivery queue's items and the timeout every broker call of a delivery attempt runs under. Kept apart
// from LogDelivery.swift so that file stays about the delivery loop.
extension LogDelivery {
    /// A run of one source's records, numbered up to `sequence`, or (no records) a retired stream.
    struct Item: Sendable {
        var source: Int
        /// The run's last sequence number; a retire marker: that of the record before it.
        var sequence: UInt64
        /// nil: the stream in `positions` was retired after the records before this item.
        var records: EncodedRecords?
        /// Each stream the run moves, with its position after the run, in order.
        var positions: [StreamPosition]
        var cost: Int
        var readAt: ContinuousClock.Instant

        var count: Int { records?.count ?? 0 }
    }

    struct StreamPosition: Sendable {
        var stream: String
        var position: String
    }

    /// `body`'s result, or a timeout error once `limit` has passed; the body is left to finish on its
    /// own, on a producer that is discarded anyway.
    static func within<T: Sendable>(
        _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let work = Task { try await body() }
        let once = OnceValue<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.install(continuation)
            let timer = Task {
                try await Task.sleep(for: limit)
                once.resume(with: .failure(KafkaClientError.timedOut("\(what) after \(limit)")))
            }
            Task {
                let result = await work.result
                timer.cancel()
                once.resume(with: result)
            }
        }
    }
}
