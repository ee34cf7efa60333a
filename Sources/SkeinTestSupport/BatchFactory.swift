import CCRC32C

/// Builds uncompressed RecordBatch v2 bytes for storage tests, the crash writer and benchmarks, without
/// depending on the protocol module (the storage engine must not, and neither should its tests).
public enum BatchFactory {
    public struct Record: Sendable {
        public var timestampDelta: Int64
        public var key: [UInt8]?
        public var value: [UInt8]?

        public init(timestampDelta: Int64 = 0, key: [UInt8]? = nil, value: [UInt8]?) {
            self.timestampDelta = timestampDelta
            self.key = key
            self.value = value
        }
    }

    /// A batch with baseOffset 0, as a producer sends it.
    public static func batch(
        records: [Record], baseTimestamp: Int64 = 1_700_000_000_000, attributes: Int16 = 0,
        producerId: Int64 = -1, producerEpoch: Int16 = -1, baseSequence: Int32 = -1
    ) -> [UInt8] {
        var body: [UInt8] = []
        for (index, record) in records.enumerated() {
            var encoded: [UInt8] = [0]
            appendZigZag(record.timestampDelta, to: &encoded)
            appendZigZag(Int64(index), to: &encoded)
            appendBytes(record.key, to: &encoded)
            appendBytes(record.value, to: &encoded)
            appendZigZag(0, to: &encoded)
            appendZigZag(Int64(encoded.count), to: &body)
            body += encoded
        }
        let maxTimestamp = baseTimestamp + (records.map(\.timestampDelta).max() ?? 0)
        var batch: [UInt8] = []
        batch.reserveCapacity(61 + body.count)
        appendBigEndian(Int64(0), to: &batch)
        appendBigEndian(Int32(49 + body.count), to: &batch)
        appendBigEndian(Int32(-1), to: &batch)  // partitionLeaderEpoch
        batch.append(2)  // magic
        appendBigEndian(UInt32(0), to: &batch)  // crc, filled below
        appendBigEndian(attributes, to: &batch)
        appendBigEndian(Int32(records.count - 1), to: &batch)
        appendBigEndian(baseTimestamp, to: &batch)
        appendBigEndian(maxTimestamp, to: &batch)
        appendBigEndian(producerId, to: &batch)
        appendBigEndian(producerEpoch, to: &batch)
        appendBigEndian(baseSequence, to: &batch)
        appendBigEndian(Int32(records.count), to: &batch)
        batch += body
        let crc = batch.withUnsafeBytes { skein_crc32c(0, $0.baseAddress! + 21, $0.count - 21) }
        withUnsafeBytes(of: crc.bigEndian) { batch.replaceSubrange(17..<21, with: $0) }
        return batch
    }

    /// One batch of `recordCount` records whose values together are about `payloadBytes` long, filled with a
    /// pattern derived from `seed` so a reader can verify content without keeping a copy.
    public static func patterned(
        seed: UInt64, recordCount: Int = 1, payloadBytes: Int, timestamp: Int64 = 1_700_000_000_000
    )
        -> [UInt8]
    {
        let perRecord = max(1, payloadBytes / max(1, recordCount))
        let records = (0..<recordCount).map { index in
            Record(timestampDelta: 0, key: nil, value: pattern(seed: seed &+ UInt64(index), count: perRecord))
        }
        return batch(records: records, baseTimestamp: timestamp)
    }

    public static func pattern(seed: UInt64, count: Int) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func appendZigZag(_ value: Int64, to bytes: inout [UInt8]) {
        var raw = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while raw >= 0x80 {
            bytes.append(UInt8(raw & 0x7F) | 0x80)
            raw >>= 7
        }
        bytes.append(UInt8(raw))
    }

    static func appendBytes(_ value: [UInt8]?, to bytes: inout [UInt8]) {
        guard let value else {
            appendZigZag(-1, to: &bytes)
            return
        }
        appendZigZag(Int64(value.count), to: &bytes)
        bytes += value
    }

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
    }
}
