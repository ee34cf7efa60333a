import Foundation
import NIOCore
import SkeinCompression
import SkeinProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// CPU seconds per GiB that BatchValidator spends on batches shaped like `skein bench produce`'s (100-byte
/// values, 1,000 records per batch, by default), per codec. This thread's CPU time is the figure: steadier
/// than wall time on a shared machine. `Benchmarks/validation-cost.sh` relates it to the broker's produce
/// path in the same run.
///
///   skein-validation-bench [--seconds S] [--record-size N] [--batch-records N] [--codecs none,gzip,...]
var seconds = 2.0
var recordSize = 100
var batchRecords = 1000
var codecs: [CompressionCodec] = CompressionCodec.allCases
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fatalError("\(flag) needs a value") }
    switch flag {
    case "--seconds": seconds = Double(value)!
    case "--record-size": recordSize = Int(value)!
    case "--batch-records": batchRecords = Int(value)!
    case "--codecs": codecs = value.split(separator: ",").map { CompressionCodec(configName: String($0))! }
    default: fatalError("unknown flag \(flag)")
    }
}

func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Values like the produce bench's: a counter and filler, so compressed batches compress realistically.
func batch(codec: CompressionCodec, recordSize: Int, batchRecords: Int) throws -> [UInt8] {
    let records = (0..<batchRecords).map { index in
        let text = String(format: "%010d ", index) + String(repeating: "abcdefghijklmnopqrstuvwxyz", count: 8)
        return Record(
            timestampDelta: Int64(index / 10), offsetDelta: Int32(index), key: nil,
            value: ByteBuffer(string: String(text.prefix(recordSize))))
    }
    let plain = Array(buffer: try Record.encodeAll(records))
    let payload = codec == .none ? plain : try compress(plain, codec: codec)
    let header = RecordBatchHeader(
        attributes: Int16(codec.rawValue), lastOffsetDelta: Int32(batchRecords - 1),
        baseTimestamp: 1_700_000_000_000, maxTimestamp: 1_700_000_000_000 + Int64((batchRecords - 1) / 10),
        recordsCount: Int32(batchRecords))
    return Array(buffer: try RecordBatch.encode(header: header, recordsPayload: payload))
}

print("record size \(recordSize) bytes, \(batchRecords) records per batch, \(seconds) s per codec")
let buffer = DecompressionBuffer()
for codec in codecs {
    let bytes = try batch(codec: codec, recordSize: recordSize, batchRecords: batchRecords)
    let validator = BatchValidator(reusing: buffer)
    var validated = 0
    var walked = 0
    let start = threadCPUSeconds()
    var elapsed = 0.0
    try bytes.withUnsafeBytes { raw in
        while elapsed < seconds {
            for _ in 0..<64 {
                // The produce path's call: the log checks the CRC, so validation skips it.
                walked += try validator.validate(raw, checkCRC: false).recordCount
                validated += raw.count
            }
            elapsed = threadCPUSeconds() - start
        }
    }
    let gib = Double(validated) / Double(1 << 30)
    print(
        "\(codec.name.padding(toLength: 7, withPad: " ", startingAt: 0)) batch \(bytes.count) bytes: "
            + String(
                format: "%.3f CPU s per GiB stored, %.1f ns per record", elapsed / gib, elapsed * 1e9 / Double(walked)))
}
