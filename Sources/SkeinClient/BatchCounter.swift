import Synchronization

/// Process-wide unique ids, so a batch can be found again after its queue changed around it.
final class BatchCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    func next() -> UInt64 { value.add(1, ordering: .relaxed).newValue }
}
