import SkeinClient
import SkeinMetrics

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
    private let maxRecordBytes: Int
    private let staticHeaders: [RecordHeader]
    private let delivery: LogDelivery
    private let budget: MemoryBudget
    private let metrics: DeliveryMetrics
    private let emitted: Counter
    private let buffered: Gauge

    init(
        index: Int, sourceId: String, kind: String, topic: String, partition: Int32, settings: DeliverySettings,
        delivery: LogDelivery, budget: MemoryBudget, metrics: DeliveryMetrics
    ) {
        self.index = index
        self.sourceId = sourceId
        self.topic = topic
        self.partition = partition
        self.encoder = LogRecordEncoder(host: settings.hostName, sourceKind: kind)
        self.hostKey = Array(settings.hostName.utf8)
        self.maxRecordBytes = settings.maxRecordBytes
        self.staticHeaders = [
            RecordHeader(key: PositionHeaders.agent, value: Array(settings.transactionalId.utf8)),
            RecordHeader(key: PositionHeaders.source, value: Array(sourceId.utf8)),
        ]
        self.delivery = delivery
        self.budget = budget
        self.metrics = metrics
        self.emitted = metrics.recordsEmitted.labels(sourceId)
        self.buffered = metrics.bufferedBytes.labels(sourceId)
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
        var timestamps = RFC3339.Cache()
        // One scratch buffer for the whole batch, and one exact-size copy per record.
        var scratch = JSONBytes(capacity: 64 << 10)
        var values: [[UInt8]] = []
        values.reserveCapacity(events.count)
        for offset in events.indices {
            scratch.reset()
            encoder.write(events[offset], into: &scratch, timestamps: &timestamps)
            values.append(scratch.count > maxRecordBytes ? encodeFitting(events[offset]) : scratch.array)
        }
        // Events are read in place by index: copying a LogEvent retains each of its arrays and strings.
        var costs = [Int](repeating: 0, count: events.count)
        var cost = 0
        for offset in events.indices {
            costs[offset] = Self.cost(of: events[offset], encodedBytes: values[offset].count)
            cost += costs[offset]
        }
        try await budget.acquire(cost)
        let now = ContinuousClock.now
        // This batch's own copies of what every record shares (the key, the static headers' values, the
        // topic). Each stage retains and releases them once per record, on different threads; on one shared
        // object those atomics contend for its cache line. Per batch, the stages rarely touch one at a time.
        let key = hostKey.withUnsafeBufferPointer { [UInt8]($0) }
        let staticHeaders = self.staticHeaders.map { header in
            RecordHeader(
                key: header.key, value: header.value.map { value in value.withUnsafeBufferPointer { [UInt8]($0) } })
        }
        let topic = String(decoding: Array(self.topic.utf8), as: UTF8.self)
        var items: [LogDelivery.Item] = []
        items.reserveCapacity(events.count)
        for offset in events.indices {
            // The sequence number (and its header) is assigned by the delivery actor as it queues the
            // record, so concurrent emits on one sink can never queue out of sequence order.
            // Room for the sequence header too, so the delivery actor's append does not reallocate.
            var headers: [RecordHeader] = []
            headers.reserveCapacity(staticHeaders.count + 2)
            headers.append(contentsOf: staticHeaders)
            headers.append(
                RecordHeader(
                    key: PositionHeaders.position,
                    value: PositionHeaders.positionValue(
                        stream: events[offset].stream, position: events[offset].position)
                ))
            let record = ProducerRecord(
                topic: topic, partition: partition, key: key, value: values[offset], headers: headers,
                timestamp: events[offset].timestampMilliseconds)
            items.append(
                LogDelivery.Item(
                    source: index, sequence: 0, stream: events[offset].stream, position: events[offset].position,
                    record: record, cost: costs[offset], readAt: now))
        }
        emitted.increment(by: events.count)
        buffered.increment(by: cost)
        await delivery.enqueue(consume items)
    }

    /// The record's value, cut (and flagged `truncated`) when it would exceed `maxRecordBytes`: a record
    /// the broker refuses (`message.max.bytes`) would abort every transaction it is in, for good.
    func encodeFitting(_ event: LogEvent) -> [UInt8] {
        var timestamps = RFC3339.Cache()
        return encodeFitting(event, timestamps: &timestamps)
    }

    func encodeFitting(_ event: LogEvent, timestamps: inout RFC3339.Cache) -> [UInt8] {
        let value = encoder.encode(event, timestamps: &timestamps)
        guard value.count > maxRecordBytes else { return value }
        var cut = event
        cut.flags.insert(.truncated)
        var keep = max(0, event.message.count - (value.count - maxRecordBytes) - 1024)
        while true {
            cut.message = Array(event.message.prefix(keep))
            let shorter = encoder.encode(cut)
            if shorter.count <= maxRecordBytes || keep == 0 { return shorter }
            keep /= 2
        }
    }

    public func retire(stream: String) async {
        await delivery.enqueue([
            LogDelivery.Item(
                source: index, sequence: 0, stream: stream, position: "", record: nil, cost: 0,
                readAt: .now)
        ])
    }

    public func dropped(_ count: Int, reason: String) {
        metrics.dropped.labels(sourceId, reason).increment(by: count)
    }
}
