/// Why a compression or decompression failed. Input problems (`corrupt`, `truncated`, `outputLimitExceeded`)
/// come from the bytes a client sent and map to Kafka's CORRUPT_MESSAGE; the others are the caller's or the
/// machine's fault.
public enum CompressionError: Error, Equatable, Sendable {
    /// The level is outside `codec.levelRange`, or was given for a codec without levels.
    case invalidLevel(Int, codec: CompressionCodec)
    /// The input is not valid data for the codec; `reason` is for logs, not for matching.
    case corrupt(codec: CompressionCodec, reason: String)
    /// The input ended in the middle of a frame, member or chunk.
    case truncated(codec: CompressionCodec)
    /// Decompressing would produce more than the caller's limit, as a decompression bomb does.
    case outputLimitExceeded(codec: CompressionCodec, limit: Int)
    /// The library refused to work for a reason that has nothing to do with the input, such as allocation.
    case libraryFailure(codec: CompressionCodec, reason: String)
}

extension CompressionError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidLevel(let level, let codec):
            if let range = codec.levelRange {
                "\(codec) level \(level) is outside \(range.lowerBound)...\(range.upperBound)"
            } else {
                "\(codec) takes no compression level (got \(level))"
            }
        case .corrupt(let codec, let reason): "corrupt \(codec) data: \(reason)"
        case .truncated(let codec): "truncated \(codec) data"
        case .outputLimitExceeded(let codec, let limit): "\(codec) data decompresses to more than \(limit) bytes"
        case .libraryFailure(let codec, let reason): "\(codec) library failure: \(reason)"
        }
    }
}
