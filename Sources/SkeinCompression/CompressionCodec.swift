/// A RecordBatch compression codec, numbered as in the low three bits of the batch attributes.
public enum CompressionCodec: Int, Sendable, CaseIterable {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// The attribute bits that hold the codec; the rest are timestamp type, transactional and control flags.
    public static let attributeMask: Int16 = 0x07

    /// The codec named by a batch's attributes, or nil for the unassigned values 5, 6 and 7, which Kafka
    /// rejects as corrupt.
    public init?(attributes: Int16) {
        self.init(rawValue: Int(attributes & Self.attributeMask))
    }

    /// The codec for a `compression.type` value. Producers say "none" and topics say "uncompressed", so both
    /// are accepted. A topic's "producer" is not a codec (it means "keep what the producer sent") and is left
    /// to the caller, as is any unknown name. Kafka matches these names case-sensitively, and so does this.
    public init?(configName: String) {
        switch configName {
        case "none", "uncompressed": self = .none
        case "gzip": self = .gzip
        case "snappy": self = .snappy
        case "lz4": self = .lz4
        case "zstd": self = .zstd
        default: return nil
        }
    }

    /// The producer-side `compression.type` name, which is also how Kafka names the codec in logs.
    public var name: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }

    /// The levels Kafka's `compression.<codec>.level` settings accept, or nil for codecs without levels.
    public var levelRange: ClosedRange<Int>? {
        switch self {
        case .none, .snappy: nil
        case .gzip: 1...9
        case .lz4: 1...17
        case .zstd: ZstdCodec.levelRange
        }
    }

    /// Whether `compress` takes this level: anything in `levelRange`, and for gzip also -1, which is what
    /// Kafka's `compression.gzip.level` defaults to (zlib's "default level"), so that setting passes through.
    public func accepts(level: Int) -> Bool {
        if self == .gzip && level == -1 { return true }
        return levelRange?.contains(level) ?? false
    }

    /// The level used when the caller passes none, matching Kafka's defaults so recompressed batches come out
    /// as a Java producer's would.
    public var defaultLevel: Int? {
        switch self {
        case .none, .snappy: nil
        case .gzip: 6  // zlib's Z_DEFAULT_COMPRESSION, which Kafka's -1 selects
        case .lz4: LZ4Codec.kafkaDefaultLevel
        case .zstd: ZstdCodec.defaultLevel
        }
    }
}

extension CompressionCodec: CustomStringConvertible {
    public var description: String { name }
}
