/// A FIFO that keeps at most `capacity` elements by dropping the oldest.
///
/// When the broker is unreachable the newest sample sets are the valuable ones (the re-exporter
/// serves the newest per host), so memory stays bounded by giving up history, never the present.
public struct BoundedRecordBuffer<Element> {
    public let capacity: Int
    private var elements: [Element?]
    private var head = 0
    public private(set) var count = 0
    /// Elements given up since creation.
    public private(set) var droppedCount = 0

    public init(capacity: Int) {
        precondition(capacity >= 1, "a buffer must hold at least one element")
        self.capacity = capacity
        self.elements = Array(repeating: nil, count: capacity)
    }

    public var isEmpty: Bool { count == 0 }

    /// Adds at the back, dropping the oldest when full.
    public mutating func append(_ element: Element) {
        if count == capacity {
            elements[head] = nil
            head = (head + 1) % capacity
            count -= 1
            droppedCount += 1
        }
        elements[(head + count) % capacity] = element
        count += 1
    }

    public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = elements[head]
        elements[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return element
    }

    /// Puts back an element taken with `popFirst` whose delivery failed. If newer elements filled
    /// the buffer meanwhile, it is the oldest of all and is the one dropped.
    public mutating func returnToFront(_ element: Element) {
        guard count < capacity else {
            droppedCount += 1
            return
        }
        head = (head + capacity - 1) % capacity
        elements[head] = element
        count += 1
    }

    /// Oldest first.
    public var contents: [Element] {
        (0..<count).map { elements[(head + $0) % capacity]! }
    }
}

extension BoundedRecordBuffer: Sendable where Element: Sendable {}
