import NIOCore
import SkeinCompression
import SkeinLog
import SkeinProtocol

/// What a topic's `compression.type` asks the broker to store.
enum CompressionChoice: Equatable {
    /// `producer`: store batches exactly as sent.
    case asProduced
    case codec(SkeinCompression.CompressionCodec)

    init(configValue: String) {
        if let codec = SkeinCompression.CompressionCodec(configName: configValue) {
            self = .codec(codec)
        } else {
            self = .asProduced
        }
    }
}

/// Recovery walks the records of every batch it rescans with the same validator Produce uses, so a batch that
/// a consumer could not parse is cut off at startup rather than served.
extension Recompressor: StoredRecordsValidator {
    func problem(inRecordsOf batch: UnsafeRawBufferPointer) -> String? {
        do {
            _ = try BatchValidator().validate(batch, checkCRC: false)
            return nil
        } catch {
            return error.description
        }
    }
}

/// Re-encodes batches whose codec differs from the topic's `compression.type`, and decompresses records
/// for timestamp lookups. Batches are otherwise stored as sent, so this is off the common path.
struct Recompressor: RecordDecompressor {
    /// No records section may inflate beyond this: it bounds what a small malicious batch can cost.
    static let maxDecompressedBytes = 256 * 1024 * 1024

    enum Failure: Error, Equatable {
        case unsupportedCodec(Int16)
        case corrupt(String)
    }

    func decompress(codec: Int, _ compressed: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let codec = SkeinCompression.CompressionCodec(rawValue: codec) else {
            throw Failure.unsupportedCodec(Int16(codec))
        }
        return try SkeinCompression.decompress(compressed, codec: codec, maxOutputBytes: Self.maxDecompressedBytes)
    }

    /// Returns the batches of `records` re-encoded with `target`, or nil when every batch already uses it.
    func recompress(_ records: ByteBuffer, to target: SkeinCompression.CompressionCodec) throws(Failure) -> ByteBuffer?
    {
        var remaining = records
        var output = ByteBuffer()
        var changed = false
        while remaining.readableBytes > 0 {
            let header: RecordBatchHeader
            do { header = try RecordBatchHeader(parsing: remaining) } catch { throw .corrupt("\(error)") }
            guard header.totalSize <= remaining.readableBytes, header.totalSize >= RecordBatchHeader.size else {
                throw .corrupt("batch length \(header.batchLength) does not fit the request")
            }
            let batch = remaining.readSlice(length: header.totalSize)!
            guard let source = SkeinCompression.CompressionCodec(attributes: header.attributes) else {
                throw .unsupportedCodec(header.attributes & 0x07)
            }
            if source == target {
                output.writeImmutableBuffer(batch)
                continue
            }
            changed = true
            let body = batch.getSlice(
                at: batch.readerIndex + RecordBatchHeader.size, length: header.totalSize - RecordBatchHeader.size)!
            let plain: [UInt8]
            let encoded: [UInt8]
            do {
                plain = try body.withUnsafeReadableBytes { raw throws(CompressionError) in
                    try SkeinCompression.decompress(raw, codec: source, maxOutputBytes: Self.maxDecompressedBytes)
                }
                encoded = try SkeinCompression.compress(plain, codec: target)
            } catch {
                throw .corrupt("\(error)")
            }
            var rewritten = header
            rewritten.attributes = (header.attributes & ~0x07) | Int16(target.rawValue)
            var payload = ByteBuffer()
            payload.writeBytes(encoded)
            var rebuilt: ByteBuffer
            do { rebuilt = try RecordBatch.encode(header: rewritten, recordsPayload: payload) } catch {
                throw .corrupt("\(error)")
            }
            output.writeBuffer(&rebuilt)
        }
        return changed ? output : nil
    }
}
