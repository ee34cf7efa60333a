import NIOCore

/// A 128-bit topic identifier as Kafka writes it: the most significant 64 bits first, big-endian.
///
/// Kept as two integers rather than Foundation's `UUID` so the codec needs no Foundation and the
/// all-zero value, which Kafka uses to mean "no topic ID", stays cheap to compare.
public struct KafkaUUID: Hashable, Sendable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// Kafka's `Uuid.ZERO_UUID`: the placeholder for "unknown" or "not given".
    public static let zero = KafkaUUID(mostSignificantBits: 0, leastSignificantBits: 0)

    public var description: String {
        let hex = String(mostSignificantBits, radix: 16) + "/" + String(leastSignificantBits, radix: 16)
        return "KafkaUUID(\(hex))"
    }
}

extension ByteBuffer {
    public mutating func readKafkaUUID() throws(ProtocolError) -> KafkaUUID {
        let high = try readKafkaInteger(as: UInt64.self)
        let low = try readKafkaInteger(as: UInt64.self)
        return KafkaUUID(mostSignificantBits: high, leastSignificantBits: low)
    }

    public mutating func writeKafkaUUID(_ uuid: KafkaUUID) {
        writeInteger(uuid.mostSignificantBits)
        writeInteger(uuid.leastSignificantBits)
    }
}
