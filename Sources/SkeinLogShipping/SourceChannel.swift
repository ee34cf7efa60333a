import SkeinClient
import SkeinMetrics
import Synchronization

/// A source's `SourceSink`: turns its events into records with position headers, numbers them, and
/// queues them for delivery once the memory budget has room.
///
/// Encoding happens here, on the source's own task, so the delivery actor only moves finished records
/// and sources encode in parallel.
public final class SourceChannel: SourceSink {
    public let sourceId: String
    public let topic: String
    let index: Int
    let partition: Int32
    private let encoder: LogRecordEncoder
    private let hostKey: [UInt8]
    private let staticHeaders: [RecordHeader]
    private let delivery: LogDelivery
    private let budget: MemoryBudget
    private let metrics: DeliveryMetrics
    private let emitted: Counter
    private let buffered: Gauge
    private let nextSequence: Mutex<UInt64>

    init(
        index: Int, sourceId: String, kind: String, topic: String, partition: Int32, settings: DeliverySettings,
        lastSequence: UInt64, delivery: LogDelivery, budget: MemoryBudget, metrics: DeliveryMetrics
    ) {
        self.index = index
        self.sourceId = sourceId
        self.topic = topic
        self.partition = partition
        self.encoder = LogRecordEncoder(host: settings.hostName, sourceKind: kind)
        self.hostKey = Array(settings.hostName.utf8)
        self.staticHeaders = [
            RecordHeader(key: PositionHeaders.agent, value: Array(settings.transactionalId.utf8)),
            RecordHeader(key: PositionHeaders.source, value: Array(sourceId.utf8)),
        ]
        self.delivery = delivery
        self.budget = budget
        self.metrics = metrics
        self.emitted = metrics.recordsEmitted.labels(sourceId)
        self.buffered = metrics.bufferedBytes.labels(sourceId)
        self.nextSequence = Mutex(lastSequence + 1)
        // Counters that exist from the start read 0 rather than "no data", so rates and alerts work
        // before the first loss.
        for reason in Self.dropReasons[kind] ?? [] { metrics.dropped.labels(sourceId, reason).increment(by: 0) }
    }

    /// The ways each kind of source can lose entries for good.
    static let dropReasons: [String: [String]] = [
        "file": ["copytruncate"], "syslog": ["udp_overflow", "oversize"], "journald": ["vacuumed"],
    ]

    /// What a queued record really holds in memory, so the cap bounds the process's memory rather than
    /// just its message bytes: the JSON value as encoded (the message escaped - a control byte is six
    /// bytes there, an invalid byte three plus its base64 - with the schema and fields), the position
    /// headers, and per record about 440 bytes of arrays, structs and allocator overhead (measured: with
    /// a cost of message + 256 the agent's RSS grew by 3.5 × the cap).
    static func cost(of event: LogEvent, encodedBytes: Int) -> Int {
        encodedBytes + 2 * (event.stream.utf8.count + event.position.utf8.count) + 440
    }

    public func emit(_ events: [LogEvent]) async throws {
        guard !events.isEmpty else { return }
        // Encoded before the budget is asked, so the cap counts what is really held; the sequence
        // numbers are taken only once room is granted, so a cancelled wait leaves no gap.
        let values = events.map { encoder.encode($0) }
        var cost = 0
        for (event, value) in zip(events, values) { cost += Self.cost(of: event, encodedBytes: value.count) }
        try await budget.acquire(cost)
        let first = nextSequence.withLock { next in
            defer { next += UInt64(events.count) }
            return next
        }
        let now = ContinuousClock.now
        var items: [LogDelivery.Item] = []
        items.reserveCapacity(events.count)
        for (offset, event) in events.enumerated() {
            let sequence = first + UInt64(offset)
            var headers = staticHeaders
            headers.append(RecordHeader(key: PositionHeaders.sequence, value: Array(String(sequence).utf8)))
            headers.append(
                RecordHeader(
                    key: PositionHeaders.position,
                    value: PositionHeaders.positionValue(stream: event.stream, position: event.position)))
            let record = ProducerRecord(
                topic: topic, partition: partition, key: hostKey, value: values[offset], headers: headers,
                timestamp: event.timestampMilliseconds)
            items.append(
                LogDelivery.Item(
                    source: index, sequence: sequence, stream: event.stream, position: event.position,
                    record: record, cost: Self.cost(of: event, encodedBytes: values[offset].count), readAt: now))
        }
        emitted.increment(by: events.count)
        buffered.increment(by: cost)
        await delivery.enqueue(items)
    }

    public func retire(stream: String) async {
        let sequence = nextSequence.withLock { $0 - 1 }
        await delivery.enqueue([
            LogDelivery.Item(
                source: index, sequence: sequence, stream: stream, position: "", record: nil, cost: 0,
                readAt: .now)
        ])
    }

    public func dropped(_ count: Int, reason: String) {
        metrics.dropped.labels(sourceId, reason).increment(by: count)
    }
}
