/// Records encoded before anyone knows which batch they will travel in: each record's bytes from its
/// key on (key, value, header count, headers), back to back in one array, plus its timestamp.
///
/// A record's first fields (length, attributes, timestamp and offset deltas) depend on its place in the
/// batch, everything after them does not. A producer that is handed such runs writes those few bytes and
/// copies the rest: no key, value or header arrays per record, and one allocation per run instead of
/// several per record (the log shipper's profile had 9 % of its CPU in freeing per-record arrays).
public struct EncodedRecords: Sendable {
    /// Each record's bytes from its key on, written with plain stores (a profile of the first version, on
    /// `Array.append(contentsOf:)`, put 3 % of the log shipper's CPU into uniqueness and capacity checks).
    private var storage: ByteStorage
    /// Per record, where its body ends in the bodies (it starts where the one before ends) and its timestamp.
    public private(set) var entries: [Entry] = []
    /// Headers the record under construction was promised, and how many it has.
    private var headersExpected = 0
    private var headersWritten = 0

    public struct Entry: Sendable, Equatable {
        public var end: Int
        public var timestamp: Int64
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    /// Bytes of all bodies together.
    public var byteCount: Int { storage.count }

    public init(reservingBytes bytes: Int = 0, records: Int = 0) {
        storage = ByteStorage(capacity: bytes)
        entries.reserveCapacity(records)
    }

    /// The bytes a record with this key, value and headers adds to the bodies.
    public static func bodySize(keyBytes: Int?, valueBytes: Int?, headersBytes: Int, headerCount: Int) -> Int {
        nullableSize(keyBytes) + nullableSize(valueBytes) + varLongSize(Int64(headerCount)) + headersBytes
    }

    /// The bytes one header adds.
    public static func headerSize(keyBytes: Int, valueBytes: Int?) -> Int {
        varLongSize(Int64(keyBytes)) + keyBytes + nullableSize(valueBytes)
    }

    /// Starts a record; exactly `headerCount` `appendHeader` calls must follow before the next record
    /// (or before the run is used). nil key or value: Kafka's null (length -1).
    public mutating func beginRecord(
        timestamp: Int64, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, headerCount: Int
    ) {
        precondition(headersWritten == headersExpected, "the previous record is missing headers")
        let size = Self.bodySize(
            keyBytes: key?.count, valueBytes: value?.count, headersBytes: 0, headerCount: headerCount)
        let writer = unique()
        writer.reserve(size)
        writer.nullable(key)
        writer.nullable(value)
        writer.varLong(Int64(headerCount))
        headersExpected = headerCount
        headersWritten = 0
        entries.append(Entry(end: writer.count, timestamp: timestamp))
    }

    public mutating func appendHeader(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?) {
        precondition(headersWritten < headersExpected, "more headers than the record was begun with")
        let writer = unique()
        writer.reserve(Self.headerSize(keyBytes: key.count, valueBytes: value?.count))
        writer.varLong(Int64(key.count))
        writer.raw(key)
        writer.nullable(value)
        headersWritten += 1
        entries[entries.count - 1].end = writer.count
    }

    public mutating func appendHeader(key: [UInt8], value: UnsafeRawBufferPointer?) {
        key.withUnsafeBytes { appendHeader(key: $0, value: value) }
    }

    /// Convenience for keys and values held as arrays.
    public mutating func beginRecord(timestamp: Int64, key: [UInt8]?, value: [UInt8]?, headerCount: Int) {
        func withOptional<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
            guard let bytes else { return body(nil) }
            return bytes.withUnsafeBytes { body($0) }
        }
        withOptional(key) { key in
            withOptional(value) { value in
                beginRecord(timestamp: timestamp, key: key, value: value, headerCount: headerCount)
            }
        }
    }

    public mutating func appendHeader(key: String, value: [UInt8]?) {
        var key = key
        key.withUTF8 { key in
            guard let value else { return appendHeader(key: UnsafeRawBufferPointer(key), value: nil) }
            value.withUnsafeBytes { appendHeader(key: UnsafeRawBufferPointer(key), value: $0) }
        }
    }

    /// Every body, back to back.
    public func withUnsafeBodies<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
    }

    /// The body of record `index`.
    public func body(_ index: Int) -> [UInt8] {
        let start = index == 0 ? 0 : entries[index - 1].end
        return withUnsafeBodies { [UInt8]($0[start..<entries[index].end]) }
    }

    /// The storage, copied first if another value shares it (a run handed on is only read).
    private mutating func unique() -> ByteStorage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    private static func nullableSize(_ bytes: Int?) -> Int {
        guard let bytes else { return 1 }
        return varLongSize(Int64(bytes)) + bytes
    }

    static func varLongSize(_ value: Int64) -> Int { RecordPayloadWriter.varLongSize(value) }
}

/// Growable bytes written with plain stores after one capacity check per piece. Mutated only through a
/// uniquely referenced `EncodedRecords`, read-only once shared: hence `@unchecked Sendable`.
final class ByteStorage: @unchecked Sendable {
    // Unchecked: only a uniquely referenced `EncodedRecords` writes (see above), and the run-time exclusivity
    // checks of class properties cost the log shipper 3 % of its CPU on these, two per header written.
    @exclusivity(unchecked) private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private(set) var count = 0
    @exclusivity(unchecked) private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    func copy() -> ByteStorage {
        let copy = ByteStorage(capacity: count)
        copy.base.update(from: base, count: count)
        copy.count = count
        return copy
    }

    @inline(__always)
    func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        base = base.grown(keeping: count, capacity: &capacity, toAtLeast: needed)
    }

    /// The writers below assume `reserve` made room for what they store.
    @inline(__always)
    func raw(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    func nullable(_ field: UnsafeRawBufferPointer?) {
        guard let field else { return varLong(-1) }
        varLong(Int64(field.count))
        raw(field)
    }

    @inline(__always)
    func varLong(_ value: Int64) {
        var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while zigzag >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: zigzag) | 0x80
            count += 1
            zigzag >>= 7
        }
        base[count] = UInt8(zigzag)
        count += 1
    }
}

extension RecordPayloadWriter {
    /// Appends every record of `run` (attributes 0), numbering them from `firstOffsetDelta`, with
    /// timestamps relative to `baseTimestamp`.
    public mutating func append(_ run: EncodedRecords, firstOffsetDelta: Int32, baseTimestamp: Int64) {
        run.withUnsafeBodies { bodies in
            var start = 0
            for index in 0..<run.count {
                let end = run.entries[index].end
                let timestampDelta = run.entries[index].timestamp &- baseTimestamp
                let offsetDelta = Int64(firstOffsetDelta) + Int64(index)
                appendRecordPrefix(
                    bodySize: end - start, timestampDelta: timestampDelta, offsetDelta: offsetDelta)
                appendRaw(UnsafeRawBufferPointer(rebasing: bodies[start..<end]))
                start = end
            }
        }
    }
}

extension UnsafeMutablePointer where Pointee == UInt8 {
    /// A new buffer of at least `needed` bytes (twice `capacity` if that is more) that starts with this one's
    /// first `count` bytes; this one is freed. The growth step of the hand-managed byte buffers on the log
    /// shipper's hot paths (`EncodedRecords`, the JSON writer).
    public func grown(keeping count: Int, capacity: inout Int, toAtLeast needed: Int) -> UnsafeMutablePointer<UInt8> {
        capacity = Swift.max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: self, count: count)
        deallocate()
        return grown
    }
}
