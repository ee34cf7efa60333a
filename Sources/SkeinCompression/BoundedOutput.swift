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
    /// Where the storage came from and goes back to, when the caller reuses a buffer across calls.
    private let owner: DecompressionBuffer?

    /// Big enough that the per-call overhead of the C decoders is noise.
    private static let windowSize = 128 * 1024

    init(limit: Int, codec: CompressionCodec) {
        self.limit = limit
        self.codec = codec
        storage = .allocate(byteCount: Self.windowSize, alignment: 1)
        owner = nil
    }

    /// Writes into `buffer`'s storage, which goes back to it (grown, if it had to grow) when this ends.
    init(limit: Int, codec: CompressionCodec, reusing buffer: DecompressionBuffer) {
        self.limit = limit
        self.codec = codec
        storage = buffer.take()
        owner = buffer
    }

    deinit {
        if let owner {
            owner.give(back: storage)
        } else {
            storage.deallocate()
        }
    }

    /// The bytes written so far, valid while this output (or, after it ends, its buffer) is not written.
    var written: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

    /// Sizes the allocation for a decoded size a frame header states. It is untrusted, so it counts only when
    /// within the limit (a frame claiming more fails soon enough on its own).
    mutating func expect(_ expectedCount: UInt64) {
        // One byte more, for the call that finds the stream has ended.
        if expectedCount <= UInt64(limit) { reserve(Int(expectedCount) + 1 - count) }
    }

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
        // At least one byte: a reused buffer starts without storage, and an empty window of no storage has no
        // address to hand a C decoder (a snappy block stating length 0 trapped here; fuzzing finding).
        reserve(max(byteCount, 1))
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
        guard storage.count > 0 else {
            storage = .allocate(byteCount: max(extra, Self.windowSize), alignment: 1)
            return
        }
        let ceiling = limit < Int.max ? limit + 1 : limit
        let grown = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(count + extra, min(storage.count * 2, ceiling)), alignment: 1)
        grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[..<count]))
        storage.deallocate()
        storage = grown
    }
}

/// Decompression output kept between calls: a thread that decompresses many batches (an event loop
/// validating produce requests) allocates once instead of per batch. Not thread-safe; one per thread.
public final class DecompressionBuffer {
    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    /// A buffer grown past this by one large batch is not kept, so a zip bomb's allocation does not stay.
    public static let retainedBytesLimit = 8 << 20

    public init() {}

    deinit { storage.deallocate() }

    /// Bytes currently held for reuse.
    public var capacity: Int { storage.count }

    func take() -> UnsafeMutableRawBufferPointer {
        defer { storage = UnsafeMutableRawBufferPointer(start: nil, count: 0) }
        return storage
    }

    func give(back returned: UnsafeMutableRawBufferPointer) {
        storage.deallocate()
        if returned.count > Self.retainedBytesLimit {
            returned.deallocate()
            storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        } else {
            storage = returned
        }
    }
}
