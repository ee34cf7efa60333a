import CCRC32C
import Foundation
import SkeinCompression
import SkeinLog
import SkeinProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Storage recovery after a crash, over a segment file holding the input, opened as the broker opens its data
/// directory (with the record check and a decompressor): whatever the file holds, opening succeeds or throws a
/// `LogError`, every batch recovery keeps reads back whole with a valid CRC and records `BatchValidator`
/// accepts, and opening again (after a crash, then after a clean shutdown) agrees on the log's offsets.
enum RecoveryTarget {
    static let partition = TopicPartition("fuzz", 0)

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        let directory = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let partitionDirectory = directory + "/" + partition.directoryName
        let segmentPath = partitionDirectory + "/00000000000000000000.log"
        do {
            try FileManager.default.createDirectory(atPath: partitionDirectory, withIntermediateDirectories: true)
            try writeFile(segmentPath, input)
        } catch {
            violations.fail("cannot set up \(directory): \(error)")
            return
        }

        // No clean-shutdown marker and no checkpoint: the whole segment is rescanned. Each open is in its own
        // function so that its manager is released (as a crash leaves it, or after shutdown) before the next.
        guard let (offsets, readBack) = firstOpen(directory, segmentPath, &violations) else { return }
        guard reopenAfterCrash(directory, expecting: offsets, &violations) else { return }
        guard let third = open(directory, "reopen after a clean shutdown", &violations) else { return }
        violations.expect(
            (third.log.logStartOffset, third.log.logEndOffset) == offsets,
            "reopen after a clean shutdown: offsets \(third.log.logStartOffset)..\(third.log.logEndOffset), were \(offsets)"
        )
        let readAgain = readAll(third.log, &violations)
        violations.expect(readAgain == readBack, "batches changed across a clean reopen")
        try? third.manager.shutdown()
    }

    private static func firstOpen(_ directory: String, _ segmentPath: String, _ violations: inout Violations)
        -> (offsets: (Int64, Int64), batches: [[UInt8]])?
    {
        guard let first = open(directory, "first open", &violations) else { return nil }
        let offsets = (first.log.logStartOffset, first.log.logEndOffset)
        violations.expect(offsets.0 <= offsets.1, "log start \(offsets.0) is after log end \(offsets.1)")
        let readBack = readAll(first.log, &violations)
        if let stored = readFile(segmentPath) {
            let onDisk = batches(in: stored, &violations)
            violations.expect(
                onDisk == readBack,
                "read returned \(readBack.count) batches, the recovered segment holds \(onDisk.count)")
        }
        return (offsets, readBack)
    }

    /// Reopens without a shutdown, as after a crash, then shuts down cleanly.
    private static func reopenAfterCrash(
        _ directory: String, expecting offsets: (Int64, Int64), _ violations: inout Violations
    ) -> Bool {
        guard let second = open(directory, "reopen after a crash", &violations) else { return false }
        violations.expect(
            (second.log.logStartOffset, second.log.logEndOffset) == offsets,
            "reopen after a crash: offsets \(second.log.logStartOffset)..\(second.log.logEndOffset), were \(offsets)")
        do {
            try second.manager.shutdown()
            return true
        } catch {
            violations.fail("clean shutdown failed: \(error)")
            return false
        }
    }

    private static func open(_ directory: String, _ what: String, _ violations: inout Violations)
        -> (manager: LogManager, log: PartitionLog)?
    {
        do {
            let manager = try LogManager.open(
                directory: directory, decompressor: BrokerLikeRecords(), records: BrokerLikeRecords(), lockWaitMs: 0)
            guard let log = manager.log(for: partition) else {
                violations.fail("\(what): the partition is gone")
                return nil
            }
            return (manager, log)
        } catch is LogError {
            // Refusing to open is allowed; only the first open may refuse, since it repairs what it keeps.
            if what != "first open" { violations.fail("\(what) failed after the first open succeeded") }
            return nil
        } catch {
            violations.fail("\(what) threw \(error), which is not a LogError")
            return nil
        }
    }

    /// Every batch from the log start to the log end through `PartitionLog.read`, as a consumer would fetch.
    private static func readAll(_ log: PartitionLog, _ violations: inout Violations) -> [[UInt8]] {
        var next = log.logStartOffset
        let end = log.logEndOffset
        var result: [[UInt8]] = []
        // Each read returns at least one batch, and no batch is shorter than its header.
        let maximumReads = Int(log.sizeInBytes) / storedHeaderSize + 2
        for _ in 0..<maximumReads {
            guard next < end else { return result }
            let slice: FileSlice
            do {
                guard let found = try log.read(from: next, maxBytes: 1 << 16).slice else {
                    violations.fail("read from \(next) returned nothing before the log end \(end)")
                    return result
                }
                slice = found
            } catch {
                violations.fail("read from \(next) (log \(log.logStartOffset)..\(end)) threw \(error)")
                return result
            }
            guard let bytes = try? slice.readBytes(), bytes.count == slice.length else {
                violations.fail("read from \(next): the slice of \(slice.length) bytes cannot be read")
                return result
            }
            let found = batches(in: bytes, &violations)
            guard let last = found.last else {
                violations.fail("read from \(next) returned \(bytes.count) bytes without a whole batch")
                return result
            }
            for batch in found where lastOffset(batch) >= next {
                result.append(batch)
            }
            let following = lastOffset(last) + 1
            violations.expect(following > next, "read from \(next) did not advance")
            violations.expect(
                following <= end, "read from \(next) returned offsets up to \(following - 1), past \(end)")
            guard following > next else { return result }
            next = following
        }
        violations.fail("reading \(log.logStartOffset)..\(end) took more than \(maximumReads) reads")
        return result
    }

    static let storedHeaderSize = 61

    /// Splits stored bytes into whole batches, checking what a fetch relies on: magic 2, a length that fits,
    /// a valid CRC, offsets that increase.
    private static func batches(in bytes: [UInt8], _ violations: inout Violations) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var position = 0
        var previousLast = Int64.min
        while position < bytes.count {
            guard bytes.count - position >= storedHeaderSize else {
                violations.fail("\(bytes.count - position) bytes after the last whole batch")
                return result
            }
            let length = Int(Int32(bitPattern: UInt32(bigEndian: bytes, at: position + 8)))
            guard length >= storedHeaderSize - 12, position + 12 + length <= bytes.count else {
                violations.fail("a stored batch at byte \(position) has length \(length)")
                return result
            }
            let batch = Array(bytes[position..<position + 12 + length])
            violations.expect(batch[16] == 2, "a stored batch at byte \(position) has magic \(batch[16])")
            let crc = batch.withUnsafeBytes { skein_crc32c(0, $0.baseAddress! + 21, $0.count - 21) }
            violations.expect(
                crc == UInt32(bigEndian: batch, at: 17), "a stored batch at byte \(position) has a bad CRC")
            violations.expect(
                baseOffset(batch) > previousLast, "stored batch offsets do not increase at byte \(position)")
            do {
                _ = try batch.withUnsafeBytes { raw throws(BatchValidationError) in
                    try BrokerLikeRecords.validator.validate(raw)
                }
            } catch {
                violations.fail("a stored batch at byte \(position) fails validation: \(error)")
            }
            previousLast = lastOffset(batch)
            result.append(batch)
            position += batch.count
        }
        return result
    }

    private static func baseOffset(_ batch: [UInt8]) -> Int64 {
        Int64(bitPattern: UInt64(UInt32(bigEndian: batch, at: 0)) << 32 | UInt64(UInt32(bigEndian: batch, at: 4)))
    }

    private static func lastOffset(_ batch: [UInt8]) -> Int64 {
        baseOffset(batch) &+ Int64(Int32(bitPattern: UInt32(bigEndian: batch, at: 23)))
    }

    /// Files are read and written with plain system calls: Foundation's `Data(contentsOf:)` leaked its 4 KiB
    /// read buffer on some files here (LeakSanitizer, swift-foundation of Swift 6.3.1), which a leak-checking
    /// fuzzer run reports as a finding of its own.
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count >= 0 else { return nil }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    private static func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
            guard count > 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            written += count
        }
    }

    /// A fresh directory per input, on tmpfs when there is one: recovery syncs files, and on a disk those
    /// syncs would dominate the run.
    private static func makeTemporaryDirectory() -> String {
        let base =
            ProcessInfo.processInfo.environment["SKEIN_FUZZ_TMPDIR"]
            ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
        return base + "/skein-fuzz-recovery-" + UUID().uuidString
    }
}

/// The broker's record check and decompressor (SkeinBroker's Recompressor), rebuilt from the public pieces
/// it is made of, with the fuzzing bound on decompressed size.
struct BrokerLikeRecords: StoredRecordsValidator, RecordDecompressor {
    static var validator: BatchValidator {
        BatchValidator(maxDecompressedBytes: RecordBatchTarget.maximumDecompressedBytes)
    }

    func problem(inRecordsOf batch: UnsafeRawBufferPointer) -> String? {
        do {
            _ = try Self.validator.validate(batch, checkCRC: false)
            return nil
        } catch {
            return error.description
        }
    }

    func decompress(codec: Int, _ compressed: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let codec = CompressionCodec(rawValue: codec) else {
            throw CompressionError.corrupt(codec: .none, reason: "codec \(codec)")
        }
        return try SkeinCompression.decompress(
            compressed, codec: codec, maxOutputBytes: RecordBatchTarget.maximumDecompressedBytes)
    }
}

extension UInt32 {
    fileprivate init(bigEndian bytes: [UInt8], at position: Int) {
        self = bytes[position..<position + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
