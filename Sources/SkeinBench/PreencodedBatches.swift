import NIOCore
import SkeinProtocol

/// The RecordBatches a produce benchmark sends, built once before the clock starts so the load
/// generator measures the broker rather than its own encoding.
public struct BatchTemplates: Sendable {
    /// Whole v2 RecordBatches, uncompressed, base offset 0, ready to put in a Produce request.
    public let batches: [ByteBuffer]
    public let recordsPerBatch: Int
    public let recordSize: Int

    /// Builds `variants` batches of `recordsPerBatch` records, each record a `recordSize`-byte
    /// value and no key. Values are pseudo-random (seeded, so runs are repeatable): constant
    /// bytes would flatter any broker that recompresses, and several variants keep a broker
    /// from ever seeing the same batch twice in a row.
    public init(recordSize: Int, recordsPerBatch: Int, variants: Int, baseTimestamp: Int64, seed: UInt64 = 0x5EED)
        throws(ProtocolError)
    {
        precondition(recordSize >= 0 && recordsPerBatch > 0 && variants > 0)
        var generator = SplitMix64(seed: seed)
        var built: [ByteBuffer] = []
        built.reserveCapacity(variants)
        for _ in 0..<variants {
            var records: [Record] = []
            records.reserveCapacity(recordsPerBatch)
            for offsetDelta in 0..<recordsPerBatch {
                var value = ByteBufferAllocator().buffer(capacity: recordSize)
                generator.fill(&value, count: recordSize)
                records.append(Record(offsetDelta: Int32(offsetDelta), value: value))
            }
            built.append(try RecordBatch.encode(records: records, baseTimestamp: baseTimestamp))
        }
        batches = built
        self.recordsPerBatch = recordsPerBatch
        self.recordSize = recordSize
    }

    public var batchBytes: Int { batches.first?.readableBytes ?? 0 }
}

/// Produce request frames for every (partition, batch variant), encoded once by the codec.
///
/// Sending one costs no copy: the connection writes a fresh 12-byte head carrying its own
/// correlation ID (size, api key, version, correlation ID are the frame's first 12 bytes) and then
/// `tail`, a shared read-only slice of everything after it.
public struct ProduceFrames: Sendable {
    public struct Frame: Sendable {
        /// Frame size prefix, api key and api version: the head minus the correlation ID.
        public let leadingBytes: ByteBuffer
        /// Everything after the correlation ID: client ID, tagged fields, body with the batch.
        public let tail: ByteBuffer
        public let partition: Int32
        public let records: Int
        /// Record batch bytes in this frame (the figure MB/s is computed from).
        public let batchBytes: Int
    }

    public static let correlationIdOffset = 8
    public static let headLength = 12

    /// Indexed `[partitionPosition][variant]`.
    public let frames: [[Frame]]

    public init(
        templates: BatchTemplates, topic: String, partitions: [Int32], acks: Int16, timeoutMs: Int32,
        version: Int16, clientId: String
    ) throws(ProtocolError) {
        var frames: [[Frame]] = []
        frames.reserveCapacity(partitions.count)
        for partition in partitions {
            var row: [Frame] = []
            for batch in templates.batches {
                let request = ProduceRequest(
                    acks: acks, timeoutMs: timeoutMs,
                    topics: [.init(name: topic, partitions: [.init(index: partition, records: batch)])])
                var buffer = ByteBufferAllocator().buffer(capacity: batch.readableBytes + 128)
                try RequestFrame.encode(request, version: version, correlationId: 0, clientId: clientId, into: &buffer)
                let start = buffer.readerIndex
                row.append(
                    Frame(
                        leadingBytes: buffer.getSlice(at: start, length: Self.correlationIdOffset)!,
                        tail: buffer.getSlice(
                            at: start + Self.headLength, length: buffer.readableBytes - Self.headLength)!,
                        partition: partition, records: templates.recordsPerBatch, batchBytes: batch.readableBytes))
            }
            frames.append(row)
        }
        self.frames = frames
    }

    /// Writes the 12-byte head of `frame` with `correlationId` into a new buffer.
    public static func head(of frame: Frame, correlationId: Int32, allocator: ByteBufferAllocator) -> ByteBuffer {
        var head = allocator.buffer(capacity: headLength)
        head.writeImmutableBuffer(frame.leadingBytes)
        head.writeInteger(correlationId)
        return head
    }
}

/// SplitMix64: tiny, fast and seedable, which is all payload filler needs.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func fill(_ buffer: inout ByteBuffer, count: Int) {
        var remaining = count
        while remaining >= 8 {
            buffer.writeInteger(next())
            remaining -= 8
        }
        if remaining > 0 {
            let last = next()
            for index in 0..<remaining { buffer.writeInteger(UInt8(truncatingIfNeeded: last >> (8 * UInt64(index)))) }
        }
    }
}
