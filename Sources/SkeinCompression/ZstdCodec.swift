import CZstd

/// zstd: one standard frame, as zstd-jni (Java) and librdkafka write it.
enum ZstdCodec {
    static let defaultLevel = Int(ZSTD_CLEVEL_DEFAULT)
    static let levelRange = Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel())

    static func compress(_ input: UnsafeRawBufferPointer, level: Int) throws(CompressionError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        guard ZSTD_isError(bound) == 0 else { throw failure(bound, "ZSTD_compressBound") }
        var result = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initializedCount in
            var placeholder: UInt8 = 0
            result = withUnsafeMutablePointer(to: &placeholder) { placeholderPointer in
                ZSTD_compress(
                    buffer.baseAddress, bound, input.baseAddress ?? UnsafeRawPointer(placeholderPointer),
                    input.count, Int32(level))
            }
            initializedCount = ZSTD_isError(result) == 0 ? result : 0
        }
        guard ZSTD_isError(result) == 0 else { throw failure(result, "ZSTD_compress") }
        return output
    }

    /// Streams rather than calling ZSTD_decompress, because a frame written by a streaming compressor (as the
    /// Java client's is) need not record its content size, and the one-shot API cannot size its output then.
    ///
    /// The decoder keeps zstd's default window limit (128 MiB, windowLog 27): lower would reject frames that
    /// high-level streaming producers legitimately write, so a hostile frame can make it allocate that much.
    static func decompress(
        _ input: UnsafeRawBufferPointer, into output: inout BoundedOutput
    ) throws(CompressionError) {
        guard let base = input.baseAddress, !input.isEmpty else { throw .truncated(codec: .zstd) }
        guard let context = ZSTD_createDCtx() else {
            throw .libraryFailure(codec: .zstd, reason: "ZSTD_createDCtx failed")
        }
        defer { ZSTD_freeDCtx(context) }

        output.expect(ZSTD_getFrameContentSize(base, input.count))
        var source = ZSTD_inBuffer(src: base, size: input.count, pos: 0)
        while true {
            let consumedBefore = source.pos
            var remaining = 0
            let written = try output.fill { window throws(CompressionError) in
                var destination = ZSTD_outBuffer(dst: window.baseAddress, size: window.count, pos: 0)
                remaining = ZSTD_decompressStream(context, &destination, &source)
                guard ZSTD_isError(remaining) == 0 else {
                    throw .corrupt(codec: .zstd, reason: String(cString: ZSTD_getErrorName(remaining)))
                }
                return destination.pos
            }
            if remaining == 0 {
                // A frame is complete and flushed; the context starts on the next one by itself.
                if source.pos == source.size { return }
            } else if source.pos == consumedBefore && written == 0 {
                guard source.pos < source.size else { throw .truncated(codec: .zstd) }
                throw .corrupt(codec: .zstd, reason: "decoder made no progress")
            }
        }
    }

    private static func failure(_ code: Int, _ call: String) -> CompressionError {
        .libraryFailure(codec: .zstd, reason: "\(call): \(String(cString: ZSTD_getErrorName(code)))")
    }
}
