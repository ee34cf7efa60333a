import CCRC32C
import NIOCore
import SkeinCompression
import SkeinProtocol

/// One RecordBatch v2 as a producer sends it. The bytes are checked as they are and again with the length
/// and CRC repaired, because libFuzzer cannot compute a CRC-32C and would otherwise never get past it to
/// the records.
enum RecordBatchTarget {
    /// Decompressed payloads beyond this are refused; the codecs' own bound is checked by DecompressTarget.
    static let maximumDecompressedBytes = 1 << 20

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        checkBatch(input, &violations)
        guard input.count >= RecordBatchHeader.size else { return }
        var repaired = Array(input)
        repairFraming(&repaired)
        repaired.withUnsafeBytes { checkBatch($0, &violations) }
    }

    /// Sets the length field to the bytes present and the CRC to what they hash to.
    static func repairFraming(_ batch: inout [UInt8]) {
        let length = UInt32(truncatingIfNeeded: batch.count - RecordBatchHeader.logOverhead)
        let crc = batch.withUnsafeBytes { raw in
            let covered = UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.crcCoverageStart...])
            return skein_crc32c(0, covered.baseAddress, covered.count)
        }
        for index in 0..<4 {
            batch[8 + index] = UInt8(truncatingIfNeeded: length >> (24 - 8 * index))
            batch[RecordBatchHeader.crcOffset + index] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * index))
        }
    }

    /// A Produce request's records field: whole batches back to back.
    static func checkRecordsField(_ records: UnsafeRawBufferPointer, _ violations: inout Violations) {
        let batches: [RecordBatch]
        do { batches = try RecordBatch.readAll(from: ByteBuffer(bytes: records)) } catch { return }
        for batch in batches {
            batch.bytes.withUnsafeReadableBytes { checkBatch($0, &violations) }
        }
    }

    /// Parses, verifies and decodes one batch; the two record decoders must agree on every input.
    static func checkBatch(_ bytes: UnsafeRawBufferPointer, _ violations: inout Violations) {
        var buffer = ByteBuffer(bytes: bytes)
        let batch: RecordBatch
        do {
            guard let whole = try RecordBatch.read(from: &buffer) else { return }
            batch = whole
        } catch {
            return
        }
        violations.expect(
            batch.bytes.readableBytes == batch.header.totalSize,
            "batch slice of \(batch.bytes.readableBytes) bytes, header says \(batch.header.totalSize)")
        guard (try? batch.verifyCRC()) != nil else { return }

        let payload: [UInt8]
        switch batch.header.compression {
        case nil: return
        case .some(.none): payload = Array(batch.recordsPayload.readableBytesView)
        case .some(let codec):
            let compressed = Array(batch.recordsPayload.readableBytesView)
            do {
                payload = try decompress(compressed, codec: codec, maxOutputBytes: maximumDecompressedBytes)
            } catch {
                return
            }
        }
        checkRecords(payload, count: Int(batch.header.recordsCount), &violations)
    }

    /// `Record.decodeAll` (ByteBuffer slices) and `RecordPayloadReader` (a byte cursor, the consumer's fast
    /// path) must accept the same payloads and read the same records from them.
    static func checkRecords(_ payload: [UInt8], count: Int, _ violations: inout Violations) {
        let viaBuffer = try? Record.decodeAll(from: ByteBuffer(bytes: payload), count: count)
        let viaReader = payload.withUnsafeBytes { try? RecordPayloadReader.decode($0, count: count) }
        guard let viaBuffer, let viaReader else {
            violations.expect(
                viaBuffer == nil && viaReader == nil,
                "record decoders disagree: Record.decodeAll \(viaBuffer == nil ? "refused" : "accepted"), "
                    + "RecordPayloadReader \(viaReader == nil ? "refused" : "accepted") \(count) records")
            return
        }
        violations.expect(viaBuffer.count == count, "\(viaBuffer.count) records decoded, batch says \(count)")
        for (record, raw) in zip(viaBuffer, viaReader) {
            let same =
                record.timestampDelta == raw.timestampDelta && record.offsetDelta == raw.offsetDelta
                && record.key.map { Array($0.readableBytesView) } == raw.key
                && record.value.map { Array($0.readableBytesView) } == raw.value
                && record.headers.count == raw.headers.count
                && zip(record.headers, raw.headers).allSatisfy {
                    $0.key == $1.key && $0.value.map { Array($0.readableBytesView) } == $1.value
                }
            if !same {
                violations.fail("record decoders disagree on the record at offset delta \(record.offsetDelta)")
                return
            }
        }
    }
}
