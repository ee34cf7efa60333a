/// Why a batch handed to `PartitionLog.append` was refused. The log is unchanged whenever one is thrown.
public enum InvalidBatch: Error, Equatable, Sendable {
    /// Fewer bytes than the batch header or its declared length.
    case truncated(available: Int, needed: Int)
    /// The length field is negative or too small to hold a v2 batch header.
    case invalidLength(Int32)
    case invalidMagic(Int8)
    case crcMismatch(stored: UInt32, computed: UInt32)
    /// recordsCount must equal lastOffsetDelta + 1 and be positive for batches written by clients.
    case invalidRecordCount(recordsCount: Int32, lastOffsetDelta: Int32)
    /// The whole batch, header included, is larger than the partition's `max.message.bytes`.
    case tooLarge(size: Int, limit: Int)
    /// Control batches are written by transaction coordinators, never by producers.
    case controlBatchFromClient
    /// Stored batches must follow each other in offset order; found only by recovery.
    case offsetsNotIncreasing(baseOffset: Int64, expectedAtLeast: Int64)
    /// A produce request must carry at least one batch.
    case empty
    /// The CRC holds but the records inside do not parse: stored by a version that did not walk records, or
    /// written by a buggy producer through one. Found by recovery's record check.
    case unreadableRecords(String)
}

extension InvalidBatch: CustomStringConvertible {
    public var description: String {
        switch self {
        case .truncated(let available, let needed): "truncated batch: \(available) of \(needed) bytes"
        case .invalidLength(let length): "invalid batch length \(length)"
        case .invalidMagic(let magic): "magic \(magic), only 2 is supported"
        case .crcMismatch(let stored, let computed): "CRC mismatch: stored \(stored), computed \(computed)"
        case .invalidRecordCount(let count, let delta): "records count \(count) with last offset delta \(delta)"
        case .tooLarge(let size, let limit): "batch of \(size) bytes exceeds max.message.bytes \(limit)"
        case .controlBatchFromClient: "control batches are written by the broker, not by producers"
        case .offsetsNotIncreasing(let base, let expected):
            "batch at offset \(base) where at least \(expected) was expected"
        case .empty: "no record batch"
        case .unreadableRecords(let why): "unreadable records (\(why))"
        }
    }
}

public enum LogError: Error, Equatable, Sendable {
    case invalidBatch(InvalidBatch)
    /// The requested offset lies outside [logStartOffset, logEndOffset].
    case offsetOutOfRange(requested: Int64, logStartOffset: Int64, logEndOffset: Int64)
    /// A system call failed; `errno` is kept so callers can tell ENOSPC from EIO.
    case io(operation: String, path: String, errno: Int32)
    case logClosed(String)
    case logAlreadyExists(String)
    case invalidName(String)
    /// A stored batch that cannot be read where a read needed it: damage since the segment was last checked.
    case unreadableStoredBatch(path: String, position: Int64, InvalidBatch)
}

extension LogError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidBatch(let reason): return "invalid batch: \(reason)"
        case .offsetOutOfRange(let requested, let start, let end):
            return "offset \(requested) is outside the log's range [\(start), \(end)]"
        case .io(let operation, let path, let code): return "\(operation) \(path) failed: \(errnoDescription(code))"
        case .logClosed(let name): return "log \(name) is closed"
        case .logAlreadyExists(let name): return "log \(name) already exists"
        case .invalidName(let name): return "invalid log name \(name)"
        case .unreadableStoredBatch(let path, let position, let why):
            return "\(path): unreadable batch at position \(position) (\(why)); a restart's recovery truncates there"
        }
    }
}
