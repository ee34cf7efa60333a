import Dispatch
import Foundation
import NIOCore
import SkeinLog
import SkeinMetrics
import SkeinProtocol

/// Tails the host-metrics topic straight from the local partition logs (no client, no network) and keeps
/// the newest sample set of each host in a `HostMetricsTable` for `/metrics/hosts`.
///
/// The topic may not exist yet (the first agent's produce creates it), may gain partitions, or be deleted
/// and recreated; each poll looks it up again. A new partition log is read from `now - ttl`, found with the
/// time index, so a restarted broker serves the hosts that were current before it stopped.
public final class HostMetricsExporter: @unchecked Sendable {
    public let table: HostMetricsTable
    public let topic: String
    private weak var broker: Broker?
    private let queue = DispatchQueue(label: "skein.host-metrics")
    private var timer: (any DispatchSourceTimer)?
    /// Read position per partition, tied to the log object it belongs to; touched only on `queue`.
    private var positions: [Int32: (log: ObjectIdentifier, next: Int64)] = [:]

    /// Bounds one poll's work per partition, so a large backlog is caught up over several polls.
    static let readBytes = 1 << 20
    static let readsPerPoll = 16

    public init(broker: Broker, topic: String, ttlMs: Int64) {
        self.broker = broker
        self.topic = topic
        self.table = HostMetricsTable(ttlMs: ttlMs)
    }

    public func start(pollIntervalMs: Int = 500) {
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now(), repeating: .milliseconds(pollIntervalMs))
        timer.setEventHandler { [weak self] in self?.poll() }
        self.timer = timer
        timer.resume()
    }

    public func stop() {
        timer?.cancel()
    }

    /// Reads whatever arrived since the last poll. Runs on `queue`; tests call it through `pollNow`.
    func poll() {
        guard let broker else { return }
        guard let metadata = broker.topics.topic(topic) else {
            positions.removeAll()
            return
        }
        for partition in 0..<metadata.partitionCount {
            guard let log = broker.log(topic, partition) else { continue }
            var next: Int64
            if let known = positions[partition], known.log == ObjectIdentifier(log) {
                next = known.next
            } else {
                next = startingOffset(log)
            }
            next = readAvailable(log, from: next, broker: broker)
            positions[partition] = (ObjectIdentifier(log), next)
        }
        table.expire(nowMs: nowMs())
    }

    public func pollNow() {
        queue.sync { poll() }
    }

    private func startingOffset(_ log: PartitionLog) -> Int64 {
        let since = nowMs() - table.ttlMs
        if let found = try? log.offset(forTimestamp: since) { return found.offset }
        return log.logStartOffset == log.logEndOffset ? log.logStartOffset : log.logEndOffset
    }

    /// Ingests records from `offset` on and returns the offset to continue from. Whatever the bytes are,
    /// progress is made: an unreadable batch is counted as malformed and skipped.
    private func readAvailable(_ log: PartitionLog, from offset: Int64, broker: Broker) -> Int64 {
        var next = offset
        for _ in 0..<Self.readsPerPoll {
            let slice: FileSlice
            do {
                guard let found = try log.read(from: next, maxBytes: Self.readBytes, minOneBatch: true).slice else {
                    return next
                }
                slice = found
            } catch LogError.offsetOutOfRange(_, let start, let end) {
                // Retention passed us, or the log was truncated: continue from what exists.
                next = next < start ? start : end
                continue
            } catch {
                return next
            }
            let bytes: [UInt8]
            do { bytes = try slice.readBytes() } catch { return next }
            var buffer = ByteBuffer(bytes: bytes)
            let before = next
            while true {
                let batch: RecordBatch
                do {
                    guard let read = try RecordBatch.read(from: &buffer) else { break }
                    batch = read
                } catch {
                    table.malformedTotal.increment()
                    next = max(next, slice.nextOffset)
                    break
                }
                defer { next = max(next, batch.header.lastOffset + 1) }
                guard batch.header.lastOffset >= next, !batch.header.isControl else { continue }
                guard let records = decodeRecords(batch, broker: broker) else {
                    table.recordsTotal.increment(by: Int(batch.header.recordsCount))
                    table.malformedTotal.increment(by: Int(batch.header.recordsCount))
                    continue
                }
                let now = nowMs()
                for record in records where batch.header.baseOffset + Int64(record.offsetDelta) >= next {
                    guard let value = record.value else {
                        table.recordsTotal.increment()
                        table.malformedTotal.increment()
                        continue
                    }
                    if case .failure(let error) = table.ingest(value: value.readableBytesView, nowMs: now) {
                        broker.logger.debug(
                            "\(log.topicPartition) offset \(batch.header.baseOffset + Int64(record.offsetDelta)): \(error)"
                        )
                    }
                }
            }
            if next <= before { next = max(before + 1, slice.nextOffset) }
        }
        return next
    }

    private func decodeRecords(_ batch: RecordBatch, broker: Broker) -> [Record]? {
        guard let codec = batch.header.compression else { return nil }
        do {
            if codec == .none { return try batch.records() }
            let compressed = Array(batch.recordsPayload.readableBytesView)
            let decompressed = try compressed.withUnsafeBytes {
                try broker.recompressor.decompress(codec: codec.rawValue, $0)
            }
            return try Record.decodeAll(from: ByteBuffer(bytes: decompressed), count: Int(batch.header.recordsCount))
        } catch {
            return nil
        }
    }
}
