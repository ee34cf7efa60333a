import CSnappy

/// Snappy as Kafka clients use it, which comes in two shapes.
///
/// Raw snappy is one block: a varint of the uncompressed length, then the compressed stream. librdkafka (and
/// so kcat and rsyslog) writes this.
///
/// Xerial framing is what snappy-java's `SnappyOutputStream` writes, and so what the Java client, kafka-python
/// and aiokafka send:
///
///     0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   magic (8 bytes)
///     int32 version, int32 compatible    both 1, big-endian
///     then repeated: int32 chunk length (big-endian), that many bytes of one raw snappy block
///
/// Every maintained reader decodes both (snappy-java falls back to raw when the magic is missing, kafka-python
/// and librdkafka check for the magic), so either would work. We write xerial framing because it is what
/// Apache Kafka itself writes when a broker recompresses, so consumers get the bytes a Kafka broker would
/// serve, and the raw path in snappy-java is a fallback rather than the one its users exercise.
enum SnappyCodec {
    private static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]
    private static let xerialHeaderCount = 16
    private static let xerialVersion: UInt32 = 1
    private static let xerialCompatibleVersion: UInt32 = 1

    /// snappy-java's default block size, which the Java client uses; chunks stay far below snappy's 4 GiB
    /// block limit whatever the input size.
    private static let xerialChunkSize = 32 * 1024

    static func compress(_ input: UnsafeRawBufferPointer) throws(CompressionError) -> [UInt8] {
        // An empty input still gets one (empty) chunk: librdkafka only takes data longer than the header
        // plus one chunk length as framed, so a bare header would be misread as a raw block.
        let chunkCount = max(1, (input.count + xerialChunkSize - 1) / xerialChunkSize)
        let maxChunk = snappy_max_compressed_length(min(input.count, xerialChunkSize))
        let capacity = xerialHeaderCount + chunkCount * (4 + maxChunk)

        var failure: snappy_status?
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initializedCount in
            var offset = 0
            func put(_ bytes: [UInt8]) {
                for byte in bytes {
                    buffer[offset] = byte
                    offset += 1
                }
            }
            put(xerialMagic)
            put(bigEndianBytes(xerialVersion))
            put(bigEndianBytes(xerialCompatibleVersion))
            for chunkIndex in 0..<chunkCount {
                let start = chunkIndex * xerialChunkSize
                let chunk = UnsafeRawBufferPointer(rebasing: input[start..<min(start + xerialChunkSize, input.count)])
                let lengthOffset = offset
                offset += 4
                var compressedLength = capacity - offset
                let status = withCharPointer(chunk) { source in
                    snappy_compress(
                        source, chunk.count,
                        UnsafeMutableRawPointer(buffer.baseAddress! + offset).assumingMemoryBound(to: CChar.self),
                        &compressedLength)
                }
                guard status == SNAPPY_OK else {
                    failure = status
                    break
                }
                for (index, byte) in bigEndianBytes(UInt32(compressedLength)).enumerated() {
                    buffer[lengthOffset + index] = byte
                }
                offset += compressedLength
            }
            initializedCount = offset
        }
        if let failure { throw .libraryFailure(codec: .snappy, reason: "snappy_compress status \(failure.rawValue)") }
        return output
    }

    static func decompress(
        _ input: UnsafeRawBufferPointer, into output: inout BoundedOutput
    ) throws(CompressionError) {
        if input.starts(with: xerialMagic) {
            guard input.count >= xerialHeaderCount else { throw .truncated(codec: .snappy) }
            // The version fields are not checked: every writer puts 1 in both, and librdkafka ignores them too.
            var offset = xerialHeaderCount
            while offset < input.count {
                guard input.count - offset >= 4 else { throw .truncated(codec: .snappy) }
                let length = Int(Int32(bitPattern: readBigEndianUInt32(input, at: offset)))
                offset += 4
                guard length >= 0 else { throw .corrupt(codec: .snappy, reason: "negative xerial chunk length") }
                guard length <= input.count - offset else { throw .truncated(codec: .snappy) }
                try appendBlock(UnsafeRawBufferPointer(rebasing: input[offset..<offset + length]), to: &output)
                offset += length
            }
        } else {
            try appendBlock(input, to: &output)
        }
        return
    }

    /// Decodes one raw snappy block onto the end of `output`. The block states its decoded length up front,
    /// so the limit is checked before anything is allocated, and libsnappy never writes past that length.
    private static func appendBlock(
        _ block: UnsafeRawBufferPointer, to output: inout BoundedOutput
    ) throws(CompressionError) {
        guard !block.isEmpty else { throw .truncated(codec: .snappy) }
        var declaredLength = 0
        let lengthStatus = withCharPointer(block) { snappy_uncompressed_length($0, block.count, &declaredLength) }
        guard lengthStatus == SNAPPY_OK else {
            throw .corrupt(codec: .snappy, reason: "unreadable uncompressed length")
        }
        try output.append(byteCount: declaredLength) { destination throws(CompressionError) in
            var writtenLength = declaredLength
            let status = withCharPointer(block) { source in
                snappy_uncompress(
                    source, block.count, destination.baseAddress!.assumingMemoryBound(to: CChar.self), &writtenLength)
            }
            guard status == SNAPPY_OK, writtenLength == declaredLength else {
                throw .corrupt(codec: .snappy, reason: "invalid snappy block")
            }
        }
    }

    /// libsnappy reads through `const char *`; an empty buffer may have no address, so it gets a dummy one.
    private static func withCharPointer<T>(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<CChar>) -> T) -> T {
        if let base = bytes.baseAddress { return body(base.assumingMemoryBound(to: CChar.self)) }
        var placeholder: CChar = 0
        return body(&placeholder)
    }
}

private func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) }
}

private func readBigEndianUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
    (UInt32(bytes[offset]) << 24) | (UInt32(bytes[offset + 1]) << 16) | (UInt32(bytes[offset + 2]) << 8)
        | UInt32(bytes[offset + 3])
}
