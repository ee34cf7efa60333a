import CLZ4

/// The LZ4 frame format, which is what Kafka's `lz4` means for RecordBatch v2.
///
/// Kafka clients before 0.10 (message format v0) computed the frame descriptor checksum over the wrong bytes,
/// and brokers still tolerate that for v0/v1 messages. This broker only accepts v2 batches, whose writers all
/// use the correct checksum, so liblz4's strict check is what we want.
enum LZ4Codec {
    /// Kafka's default `compression.lz4.level`. The Java client treats it specially, using LZ4's fast
    /// compressor instead of LZ4HC at level 9, so that the default stays as cheap as it was before levels
    /// existed; we do the same.
    static let kafkaDefaultLevel = 9

    static func compress(_ input: UnsafeRawBufferPointer, level: Int) throws(CompressionError) -> [UInt8] {
        // Mirror Kafka's own writer: 64 KiB independent blocks and no checksums or content size. Older Java
        // readers decode each block on its own and only know those options.
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum
        preferences.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum
        // LZ4F maps levels below 3 to the fast compressor and 3 and above to LZ4HC.
        preferences.compressionLevel = level == kafkaDefaultLevel ? 0 : Int32(level)

        let bound = LZ4F_compressFrameBound(input.count, &preferences)
        guard LZ4F_isError(bound) == 0 else { throw failure(bound, "LZ4F_compressFrameBound") }
        var result = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initializedCount in
            var placeholder: UInt8 = 0
            result = withUnsafeMutablePointer(to: &placeholder) { placeholderPointer in
                LZ4F_compressFrame(
                    buffer.baseAddress, bound, input.baseAddress ?? UnsafeRawPointer(placeholderPointer),
                    input.count, &preferences)
            }
            initializedCount = LZ4F_isError(result) == 0 ? result : 0
        }
        guard LZ4F_isError(result) == 0 else { throw failure(result, "LZ4F_compressFrame") }
        return output
    }

    static func decompress(
        _ input: UnsafeRawBufferPointer, into output: inout BoundedOutput
    ) throws(CompressionError) {
        guard let base = input.baseAddress, !input.isEmpty else { throw .truncated(codec: .lz4) }
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else { throw failure(created, "LZ4F_createDecompressionContext") }
        defer { LZ4F_freeDecompressionContext(context) }

        var offset = 0
        while true {
            var consumed = input.count - offset
            var hint = 0
            let written = try output.fill { window throws(CompressionError) in
                var produced = window.count
                hint = LZ4F_decompress(context, window.baseAddress, &produced, base + offset, &consumed, nil)
                guard LZ4F_isError(hint) == 0 else {
                    throw .corrupt(codec: .lz4, reason: String(cString: LZ4F_getErrorName(hint)))
                }
                return produced
            }
            offset += consumed
            if hint == 0 {
                // A frame ended and the context is ready for another; the lz4 tool concatenates frames too.
                if offset == input.count { return }
            } else if consumed == 0 && written == 0 {
                guard offset < input.count else { throw .truncated(codec: .lz4) }
                throw .corrupt(codec: .lz4, reason: "decoder made no progress")
            }
        }
    }

    private static func failure(_ code: Int, _ call: String) -> CompressionError {
        .libraryFailure(codec: .lz4, reason: "\(call): \(String(cString: LZ4F_getErrorName(code)))")
    }
}
