/// Compresses `bytes` (a RecordBatch's records section) the way Kafka clients do for `codec`.
///
/// - Parameter level: a level `codec` accepts (see `CompressionCodec.accepts(level:)`), or nil for
///   `codec.defaultLevel`. Codecs without levels (`none`, `snappy`) reject any level rather than ignore it,
///   so a misrouted setting shows up.
public func compress(
    _ bytes: UnsafeRawBufferPointer, codec: CompressionCodec, level: Int? = nil
) throws(CompressionError) -> [UInt8] {
    if let level, !codec.accepts(level: level) {
        throw .invalidLevel(level, codec: codec)
    }
    switch codec {
    case .none: return Array(bytes)
    case .gzip: return try GzipCodec.compress(bytes, level: level ?? GzipCodec.defaultLevel)
    case .snappy: return try SnappyCodec.compress(bytes)
    case .lz4: return try LZ4Codec.compress(bytes, level: level ?? LZ4Codec.kafkaDefaultLevel)
    case .zstd: return try ZstdCodec.compress(bytes, level: level ?? ZstdCodec.defaultLevel)
    }
}

/// Compresses `bytes` the way Kafka clients do for `codec`; see the buffer-pointer overload.
public func compress(
    _ bytes: [UInt8], codec: CompressionCodec, level: Int? = nil
) throws(CompressionError) -> [UInt8] {
    try withBytes(bytes) { buffer throws(CompressionError) in try compress(buffer, codec: codec, level: level) }
}

/// Decompresses a records section written by any Kafka client.
///
/// The output is capped because the input comes from the network: a few kilobytes of zeros compressed with
/// any of these codecs expand to gigabytes. Exceeding `maxOutputBytes` throws `outputLimitExceeded` after at
/// most that many bytes (plus one decoder step) have been produced, whatever the frame headers claim.
///
/// Every codec reads concatenated units (gzip members, lz4 and zstd frames, xerial chunks), as the reference
/// command-line tools do; bytes after the last unit that do not start a valid one are `corrupt`.
public func decompress(
    _ bytes: UnsafeRawBufferPointer, codec: CompressionCodec, maxOutputBytes: Int
) throws(CompressionError) -> [UInt8] {
    precondition(maxOutputBytes >= 0, "maxOutputBytes must not be negative")
    if codec == .none {
        guard bytes.count <= maxOutputBytes else { throw .outputLimitExceeded(codec: .none, limit: maxOutputBytes) }
        return Array(bytes)
    }
    var output = BoundedOutput(limit: maxOutputBytes, codec: codec)
    try decode(bytes, codec: codec, into: &output)
    return output.finish()
}

/// Decompresses into `buffer` and calls `body` with the result, which is valid only during the call; see the
/// overload above for the bound. Callers that decompress many batches on one thread keep one buffer.
public func decompress<Result>(
    _ bytes: UnsafeRawBufferPointer, codec: CompressionCodec, maxOutputBytes: Int, reusing buffer: DecompressionBuffer,
    _ body: (UnsafeRawBufferPointer) -> Result
) throws(CompressionError) -> Result {
    precondition(maxOutputBytes >= 0, "maxOutputBytes must not be negative")
    if codec == .none {
        guard bytes.count <= maxOutputBytes else { throw .outputLimitExceeded(codec: .none, limit: maxOutputBytes) }
        return body(bytes)
    }
    var output = BoundedOutput(limit: maxOutputBytes, codec: codec, reusing: buffer)
    try decode(bytes, codec: codec, into: &output)
    return body(output.written)
}

private func decode(_ bytes: UnsafeRawBufferPointer, codec: CompressionCodec, into output: inout BoundedOutput)
    throws(CompressionError)
{
    switch codec {
    case .none: preconditionFailure("uncompressed input is not decoded")
    case .gzip: try GzipCodec.decompress(bytes, into: &output)
    case .snappy: try SnappyCodec.decompress(bytes, into: &output)
    case .lz4: try LZ4Codec.decompress(bytes, into: &output)
    case .zstd: try ZstdCodec.decompress(bytes, into: &output)
    }
}

/// Decompresses a records section written by any Kafka client; see the buffer-pointer overload.
public func decompress(
    _ bytes: [UInt8], codec: CompressionCodec, maxOutputBytes: Int
) throws(CompressionError) -> [UInt8] {
    try withBytes(bytes) { buffer throws(CompressionError) in
        try decompress(buffer, codec: codec, maxOutputBytes: maxOutputBytes)
    }
}

/// `Array.withUnsafeBytes` is rethrows, which erases the typed error; this keeps it.
private func withBytes<T>(
    _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CompressionError) -> T
) throws(CompressionError) -> T {
    let result: Result<T, CompressionError> = bytes.withUnsafeBytes { buffer in
        do throws(CompressionError) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}
