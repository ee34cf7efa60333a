import CZlib

/// gzip (RFC 1952) through zlib, which is what Java's GZIPOutputStream and librdkafka both produce.
enum GzipCodec {
    static let defaultLevel = Int(Z_DEFAULT_COMPRESSION)

    /// zlib's windowBits: 15 is the largest window, and adding 16 selects the gzip wrapper instead of zlib's.
    /// Reading uses the same value, so zlib-wrapped or raw deflate data is rejected rather than guessed at.
    private static let gzipWindowBits: Int32 = 15 + 16

    /// zlib counts input and output in 32-bit `uInt`s; larger buffers are fed in slices.
    private static let maxSlice = Int(UInt32.max)

    static func compress(_ input: UnsafeRawBufferPointer, level: Int) throws(CompressionError) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        let status = skein_deflate_init2(stream, Int32(level), gzipWindowBits)
        guard status == Z_OK else { throw failure(status, stream, "deflateInit2") }
        defer { deflateEnd(stream) }

        // deflateBound covers the gzip header and trailer once the stream knows it writes gzip, so a single
        // pass into an exactly sized array never runs out of room.
        let bound = Int(deflateBound(stream, uLong(input.count)))
        var failureStatus: Int32?
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initializedCount in
            var inputOffset = 0
            var outputOffset = 0
            while true {
                let inputSlice = min(input.count - inputOffset, maxSlice)
                let outputSlice = min(bound - outputOffset, maxSlice)
                stream.pointee.next_in = input.baseAddress.map {
                    UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self) + inputOffset)
                }
                stream.pointee.avail_in = uInt(inputSlice)
                stream.pointee.next_out = buffer.baseAddress! + outputOffset
                stream.pointee.avail_out = uInt(outputSlice)
                let flush = inputOffset + inputSlice == input.count ? Z_FINISH : Z_NO_FLUSH
                let status = deflate(stream, flush)
                inputOffset += inputSlice - Int(stream.pointee.avail_in)
                outputOffset += outputSlice - Int(stream.pointee.avail_out)
                if status == Z_STREAM_END { break }
                // With room for the bound, every call makes progress; anything else would loop forever.
                guard status == Z_OK, outputOffset < bound else {
                    failureStatus = status
                    break
                }
            }
            initializedCount = outputOffset
        }
        if let failureStatus { throw failure(failureStatus, stream, "deflate") }
        return output
    }

    static func decompress(
        _ input: UnsafeRawBufferPointer, into output: inout BoundedOutput
    ) throws(CompressionError) {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        let status = skein_inflate_init2(stream, gzipWindowBits)
        guard status == Z_OK else { throw failure(status, stream, "inflateInit2") }
        defer { inflateEnd(stream) }

        var inputOffset = 0
        while true {
            let inputSlice = min(input.count - inputOffset, maxSlice)
            stream.pointee.next_in = input.baseAddress.map {
                UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self) + inputOffset)
            }
            stream.pointee.avail_in = uInt(inputSlice)
            var status: Int32 = Z_OK
            let written = try output.fill { window throws(CompressionError) in
                stream.pointee.next_out = window.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(window.count)
                status = inflate(stream, Z_NO_FLUSH)
                return window.count - Int(stream.pointee.avail_out)
            }
            let consumed = inputSlice - Int(stream.pointee.avail_in)
            inputOffset += consumed
            switch status {
            case Z_STREAM_END:
                // One member is complete. Anything after it must be another member: Kafka clients write
                // one, but concatenated members are valid gzip and `gzip -c a b` makes them.
                if inputOffset == input.count { return }
                guard inflateReset(stream) == Z_OK else { throw failure(Z_STREAM_ERROR, stream, "inflateReset") }
            case Z_OK, Z_BUF_ERROR:
                // Z_BUF_ERROR only means no progress was possible; with fresh room to write, that can only be
                // because the input ran out mid-member.
                if consumed == 0 && written == 0 {
                    guard inputOffset < input.count else { throw .truncated(codec: .gzip) }
                    throw .corrupt(codec: .gzip, reason: "decoder made no progress")
                }
            default:
                throw failure(status, stream, "inflate")
            }
        }
    }

    private static func failure(_ status: Int32, _ stream: UnsafeMutablePointer<z_stream>, _ call: String)
        -> CompressionError
    {
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
        switch status {
        case Z_DATA_ERROR, Z_NEED_DICT: return .corrupt(codec: .gzip, reason: message)
        default: return .libraryFailure(codec: .gzip, reason: "\(call): \(message)")
        }
    }
}
