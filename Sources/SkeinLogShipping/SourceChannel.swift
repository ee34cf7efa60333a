import SkeinClient
import SkeinMetrics
import SkeinProtocol
import Synchronization

/// A source's `SourceSink`: turns its events into records with position headers, numbers them, and
/// queues them for delivery once the memory budget has room.
///
/// Encoding happens here, on the source's own task, so the delivery actor only moves finished records
/// and sources encode in parallel. Records leave here as the bytes the producer sends (`EncodedRecords`
/// runs of up to `runBytes`): one allocation per run instead of a value, a headers array, two header
/// values and a record per line, which the syslog benchmark's profile showed being built, copied
/// between three threads and freed.
public final class SourceChannel: SourceSink {
    public let sourceId: String
    public let topic: String
    let index: Int
    let partition: Int32
    /// The agent's host and this source's kind, for values written here or by the source itself.
    public let eventEncoding: LogEventEncoding
    private let hostKey: [UInt8]
    private let agentValue: [UInt8]
    private let sourceValue: [UInt8]
    /// The agent and source headers with their keys, and the other two headers' keys and length bytes.
    private let fixedHeaderBytes: Int
    /// The last sequence number handed out. A run is numbered and submitted to the delivery queue under this
    /// lock, so overlapping emits on one sink still queue in sequence order.
    private let sequence: Mutex<UInt64>
    private let delivery: LogDelivery
    private let budget: MemoryBudget
    private let metrics: DeliveryMetrics
    private let emitted: Counter
    private let buffered: Gauge

    init(
        index: Int, sourceId: String, kind: String, topic: String, partition: Int32, sequence: UInt64,
        settings: DeliverySettings, delivery: LogDelivery, budget: MemoryBudget, metrics: DeliveryMetrics
    ) {
        self.index = index
        self.sourceId = sourceId
        self.topic = topic
        self.partition = partition
        self.eventEncoding = delivery.eventEncoding(kind: kind)
        self.hostKey = Array(settings.hostName.utf8)
        let agentValue = Array(settings.transactionalId.utf8)
        let sourceValue = Array(sourceId.utf8)
        self.agentValue = agentValue
        self.sourceValue = sourceValue
        self.fixedHeaderBytes =
            EncodedRecords.headerSize(keyBytes: Self.agentKey.count, valueBytes: agentValue.count)
            + EncodedRecords.headerSize(keyBytes: Self.sourceKey.count, valueBytes: sourceValue.count)
            + Self.positionKey.count + Self.sequenceKey.count + 8 + 20 + 2 * settings.hostName.utf8.count
        self.sequence = Mutex(sequence)
        self.delivery = delivery
        self.budget = budget
        self.metrics = metrics
        self.emitted = metrics.recordsEmitted.labels(sourceId)
        self.buffered = metrics.bufferedBytes.labels(sourceId)
        // Counters that exist from the start read 0 rather than "no data", so rates and alerts work
        // before the first loss.
        for reason in Self.dropReasons[kind] ?? [] { metrics.dropped.labels(sourceId, reason).increment(by: 0) }
    }

    static let agentKey = Array(PositionHeaders.agent.utf8)
    static let sourceKey = Array(PositionHeaders.source.utf8)
    static let positionKey = Array(PositionHeaders.position.utf8)
    static let sequenceKey = Array(PositionHeaders.sequence.utf8)

    /// The ways each kind of source can lose entries for good.
    static let dropReasons: [String: [String]] = [
        "file": ["copytruncate"], "syslog": ["udp_overflow", "oversize"], "journald": ["vacuumed"],
    ]

    /// What a queued record holds in memory, so the cap bounds the process's memory rather than just its
    /// message bytes: its encoded body (the JSON value - the message escaped, a control byte six bytes
    /// there, an invalid byte three plus its base64 - with the schema, fields, key and headers), its end and
    /// timestamp in the run, and a share of the run's allocations.
    static func cost(bodyBytes: Int) -> Int { bodyBytes + 48 }

    /// Bodies per run at most: a run travels whole in one batch, which must stay under the producer's batch
    /// size and the broker's `message.max.bytes` (1 MiB by default).
    static let runBytes = 256 << 10

    public func emit(_ events: [LogEvent]) async throws {
        guard !events.isEmpty else { return }
        var writer = LogEventWriter(eventEncoding)
        for index in events.indices { writer.append(events[index]) }
        try await emit(
            encoded: writer.take(
                positions: .each(streams: events.map(\.stream), positions: events.map(\.position))))
    }

    public func emit(encoded events: EncodedEvents) async throws {
        guard !events.isEmpty else { return }
        // Encoded before the budget is asked, so the cap counts what is really held; the sequence numbers are
        // taken only once room is granted, so a cancelled wait leaves no gap.
        var cost = 0
        var start = 0
        for index in 0..<events.count {
            let end = events.entries[index].end
            let positionBytes: Int
            switch events.positions {
            case .counter(let stream, _): positionBytes = stream.utf8.count + 21
            case .each(let streams, let positions):
                positionBytes = streams[index].utf8.count + 1 + positions[index].utf8.count
            }
            cost += Self.cost(bodyBytes: end - start + fixedHeaderBytes + positionBytes)
            start = end
        }
        try await budget.acquire(cost)
        let now = ContinuousClock.now
        // Numbered and handed to the delivery queue under one lock: concurrent emits on one sink (a test does
        // that) still queue in sequence order.
        sequence.withLock { last in
            let items = records(events, first: last + 1, cost: cost, readAt: now)
            last += UInt64(events.count)
            delivery.submit(items)
        }
        emitted.increment(by: events.count)
        buffered.increment(by: cost)
    }

    /// The records' bodies, in runs of up to `runBytes`, numbered from `first`.
    private func records(_ events: EncodedEvents, first: UInt64, cost: Int, readAt now: ContinuousClock.Instant)
        -> [LogDelivery.Item]
    {
        var items: [LogDelivery.Item] = []
        // Room for the values and about 190 bytes of key and headers each, so a run rarely grows.
        var run = EncodedRecords(reservingBytes: min(Self.runBytes, events.byteCount + events.count * 192))
        var positions: [LogDelivery.StreamPosition] = []
        var runCost = 0
        var positionValue: [UInt8] = []
        positionValue.reserveCapacity(256)
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        func closeRun(last: Int) {
            guard !run.isEmpty else { return }
            if case .counter(let stream, let firstPosition) = events.positions {
                positions = [.init(stream: stream, position: String(firstPosition + UInt64(last)))]
            }
            items.append(
                LogDelivery.Item(
                    source: index, sequence: first + UInt64(last), records: run, positions: positions, cost: runCost,
                    readAt: now))
            let rest = events.count - 1 - last
            run = EncodedRecords(
                reservingBytes: rest == 0 ? 0 : min(Self.runBytes, (events.byteCount / events.count + 192) * rest))
            positions = []
            runCost = 0
        }
        hostKey.withUnsafeBytes { key in
            agentValue.withUnsafeBytes { agent in
                sourceValue.withUnsafeBytes { source in
                    events.values.withUnsafeBytes { values in
                        for offset in 0..<events.count {
                            let before = run.byteCount
                            run.beginRecord(
                                timestamp: events.entries[offset].timestamp, key: key,
                                value: events.value(offset, in: values), headerCount: 4)
                            run.appendHeader(key: Self.agentKey, value: agent)
                            run.appendHeader(key: Self.sourceKey, value: source)
                            positionValue.removeAll(keepingCapacity: true)
                            switch events.positions {
                            case .counter(let stream, let firstPosition):
                                positionValue.append(contentsOf: stream.utf8)
                                positionValue.append(UInt8(ascii: "@"))
                                PositionHeaders.writeSequence(firstPosition + UInt64(offset), into: &digits)
                                positionValue.append(contentsOf: digits)
                            case .each(let streams, let eventPositions):
                                positionValue.append(contentsOf: streams[offset].utf8)
                                positionValue.append(UInt8(ascii: "@"))
                                positionValue.append(contentsOf: eventPositions[offset].utf8)
                                if let last = positions.last, last.stream == streams[offset] {
                                    positions[positions.count - 1].position = eventPositions[offset]
                                } else {
                                    positions.append(.init(stream: streams[offset], position: eventPositions[offset]))
                                }
                            }
                            positionValue.withUnsafeBytes { run.appendHeader(key: Self.positionKey, value: $0) }
                            PositionHeaders.writeSequence(first + UInt64(offset), into: &digits)
                            digits.withUnsafeBytes { run.appendHeader(key: Self.sequenceKey, value: $0) }
                            runCost += Self.cost(bodyBytes: run.byteCount - before)
                            if run.byteCount >= Self.runBytes { closeRun(last: offset) }
                        }
                    }
                }
            }
        }
        closeRun(last: events.count - 1)
        // What was granted is what the queue gives back as it commits: the estimate's difference goes to the
        // last run.
        items[items.count - 1].cost += cost - items.reduce(0) { $0 + $1.cost }
        return items
    }

    public func retire(stream: String) async {
        sequence.withLock { last in
            delivery.submit([
                LogDelivery.Item(
                    source: index, sequence: last, records: nil, positions: [.init(stream: stream, position: "")],
                    cost: 0, readAt: .now)
            ])
        }
    }

    public func dropped(_ count: Int, reason: String) {
        delivery.countDropped(count, source: sourceId, reason: reason)
    }
}
