/// Reads the zigzag varints of the Record format.
struct VarintReader {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func readByte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readZigZag() -> Int64? {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        while shift < 64 {
            guard let byte = readByte() else { return nil }
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1))) }
            shift += 7
        }
        return nil
    }

    /// Skips key, value and headers of a record whose length, attributes, timestamp and offset deltas were read.
    mutating func skipRestOfRecord() -> Bool {
        for _ in 0..<2 {  // key, value
            guard let length = readZigZag() else { return false }
            if length > 0 { position += Int(length) }
        }
        guard let headerCount = readZigZag(), headerCount >= 0 else { return false }
        for _ in 0..<headerCount {
            for _ in 0..<2 {
                guard let length = readZigZag() else { return false }
                if length > 0 { position += Int(length) }
            }
        }
        return position <= bytes.count
    }
}
