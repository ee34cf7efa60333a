import NIOCore
import SkeinLog
import SkeinProtocol

extension PartitionLog {
    /// Calls `body` with every record at or after `offset`, in order. The broker's internal logs (committed
    /// offsets, transaction state) are small and replayed this way at start.
    func forEachRecord(from offset: Int64, _ body: (Record) throws -> Void) throws {
        var from = max(offset, logStartOffset)
        while from < logEndOffset {
            guard let slice = try read(from: from, maxBytes: 1 << 20).slice else { break }
            let batches = try RecordBatch.readAll(from: ByteBuffer(bytes: try slice.readBytes()))
            guard let last = batches.last else { break }
            for batch in batches where batch.header.lastOffset >= from {
                for record in try batch.records() where batch.header.baseOffset + Int64(record.offsetDelta) >= from {
                    try body(record)
                }
            }
            from = last.header.lastOffset + 1
        }
    }
}
