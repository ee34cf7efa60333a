/// Decoder output that may never grow past the caller's limit.
///
/// Streaming decoders are handed a window at the end of the output and report how much of it they filled.
/// The window never reaches more than one byte past the limit, so a bomb is caught after producing at most
/// `limit + 1` bytes, and a stream that ends exactly at the limit still gets the room to say it has ended.
///
/// The bytes live in a raw allocation rather than an `[UInt8]` because an array can only be grown by
/// initializing the new elements, which costs a pass over every window before the decoder writes it.
struct BoundedOutput: ~Copyable {
    let limit: Int
    let codec: CompressionCodec
    private(set) var count = 0
    private var storage: UnsafeMutableRawBufferPointer

    /// Big enough that the per-call overhead of the C decoders is noise.
    private static let windowSize = 128 * 1024

    /// - Parameter expectedCount: a size from a frame header. It is untrusted, so it only sizes the first
    ///   allocation, and only when within the limit (a frame claiming more fails soon enough on its own).
    init(limit: Int, codec: CompressionCodec, expectedCount: UInt64? = nil) {
        self.limit = limit
        self.codec = codec
        var initialCapacity = Self.windowSize
        if let expectedCount, expectedCount <= UInt64(limit) {
            // One byte more, for the call that finds the stream has ended.
            initialCapacity = max(initialCapacity, Int(expectedCount) + 1)
        }
        storage = .allocate(byteCount: initialCapacity, alignment: 1)
    }

    deinit { storage.deallocate() }

    /// Calls `decode` with a window at the end of the output; `decode` returns how many bytes it wrote there.
    mutating func fill(
        _ decode: (UnsafeMutableRawBufferPointer) throws(CompressionError) -> Int
    ) throws(CompressionError) -> Int {
        let room = limit - count >= Self.windowSize ? Self.windowSize : limit - count + 1
        reserve(room)
        let written = try decode(UnsafeMutableRawBufferPointer(rebasing: storage[count..<count + room]))
        precondition(written >= 0 && written <= room, "decoder reported writing outside its window")
        count += written
        if count > limit { throw .outputLimitExceeded(codec: codec, limit: limit) }
        return written
    }

    /// Appends exactly `byteCount` bytes written by `decode`, for formats that state the decoded size up
    /// front; the limit is checked before anything is allocated.
    mutating func append(
        byteCount: Int, _ decode: (UnsafeMutableRawBufferPointer) throws(CompressionError) -> Void
    ) throws(CompressionError) {
        guard byteCount <= limit - count else { throw .outputLimitExceeded(codec: codec, limit: limit) }
        reserve(byteCount)
        try decode(UnsafeMutableRawBufferPointer(rebasing: storage[count..<count + byteCount]))
        count += byteCount
    }

    consuming func finish() -> [UInt8] {
        let bytes = UnsafeRawBufferPointer(rebasing: storage[..<count])
        return [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initializedCount in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            initializedCount = bytes.count
        }
    }

    /// Doubles the allocation as needed, so the copies add up to less than the final size, but never past
    /// the most the limit lets the output reach.
    private mutating func reserve(_ extra: Int) {
        guard storage.count - count < extra else { return }
        let ceiling = limit < Int.max ? limit + 1 : limit
        let grown = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(count + extra, min(storage.count * 2, ceiling)), alignment: 1)
        grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[..<count]))
        storage.deallocate()
        storage = grown
    }
}
