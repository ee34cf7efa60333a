import Synchronization

/// The delivery queue: records in the order sources emitted them, kept as the chunks they arrived in.
///
/// A profile of the first version (one flat array) put 16 % of the agent's CPU into copying queued
/// items: out of the queue into each batch, and again when the consumed front was compacted away.
/// Whole chunks move by reference instead; a batch is a list of slices that share the chunks' storage.
/// Runs submitted by channels on their own threads, until the delivery actor takes them.
final class Inbox: Sendable {
    private let pending = Mutex<[[LogDelivery.Item]]>([])

    func push(_ items: [LogDelivery.Item]) {
        guard !items.isEmpty else { return }
        pending.withLock { $0.append(items) }
    }

    func takeAll() -> [[LogDelivery.Item]] {
        pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
    }
}

struct ItemQueue {
    private var chunks: [[LogDelivery.Item]] = []
    /// Items of `chunks[0]` already taken.
    private var taken = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    var first: LogDelivery.Item? { chunks.first.map { $0[taken] } }

    mutating func append(_ chunk: [LogDelivery.Item]) {
        guard !chunk.isEmpty else { return }
        chunks.append(chunk)
        count += chunk.count
    }

    /// The front of the queue, at least one item and at most `maxCost` beyond the first.
    func batch(maxCost: Int) -> (slices: [ArraySlice<LogDelivery.Item>], count: Int) {
        var slices: [ArraySlice<LogDelivery.Item>] = []
        var total = 0
        var cost = 0
        for (index, chunk) in chunks.enumerated() {
            let start = index == 0 ? taken : 0
            var end = start
            while end < chunk.count, total == 0 || cost + chunk[end].cost <= maxCost {
                cost += chunk[end].cost
                end += 1
                total += 1
            }
            if end > start { slices.append(chunk[start..<end]) }
            if end < chunk.count { break }
        }
        return (slices, total)
    }

    mutating func removeFirst(_ n: Int) {
        var remaining = n
        count -= n
        while remaining > 0, let front = chunks.first {
            let left = front.count - taken
            if remaining >= left {
                remaining -= left
                chunks.removeFirst()
                taken = 0
            } else {
                taken += remaining
                remaining = 0
            }
        }
    }

    /// Every queued item, in order (for the rare rebuild after a failure).
    var all: [LogDelivery.Item] {
        var items: [LogDelivery.Item] = []
        items.reserveCapacity(count)
        for (index, chunk) in chunks.enumerated() { items += chunk[(index == 0 ? taken : 0)...] }
        return items
    }

    mutating func replaceAll(with items: [LogDelivery.Item]) {
        chunks = items.isEmpty ? [] : [items]
        taken = 0
        count = items.count
    }
}
