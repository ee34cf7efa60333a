import CCRC32C
import NIOCore
import SkeinCompression
import SkeinProtocol

/// One RecordBatch v2 as a producer sends it, through `BatchValidator` (what the broker stores) and both record
/// decoders (what consumers read). The bytes are checked as they are and again with the length and CRC
/// repaired, because libFuzzer cannot compute a CRC-32C and would otherwise never get past it to the records.
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

    /// Parses, validates and decodes one batch. What `BatchValidator` accepts (the broker stores nothing else)
    /// must be readable by both record decoders, with the counts and timestamps the validator reported.
    static func checkBatch(_ bytes: UnsafeRawBufferPointer, _ violations: inout Violations) {
        let validator = BatchValidator(maxDecompressedBytes: maximumDecompressedBytes)
        let summary = validate(bytes, validator)
        // The broker's produce path validates into a buffer its event loop keeps (see DecompressTarget).
        let reused = DecompressTarget.sharedBuffer.use { buffer in
            validate(bytes, BatchValidator(maxDecompressedBytes: maximumDecompressedBytes, reusing: buffer))
        }
        violations.expect(
            reused == summary, "validating with a reused buffer: \(reused as Any), without: \(summary as Any)")
        var buffer = ByteBuffer(bytes: bytes)
        let batch: RecordBatch
        do {
            guard let whole = try RecordBatch.read(from: &buffer), buffer.readableBytes == 0 else {
                violations.expect(summary == nil, "the validator accepted a batch that does not parse whole")
                return
            }
            batch = whole
        } catch {
            violations.expect(summary == nil, "the validator accepted a batch whose header does not parse: \(error)")
            return
        }
        let crcHolds = (try? batch.verifyCRC()) != nil
        guard crcHolds else {
            violations.expect(summary == nil, "the validator accepted a batch with a bad CRC")
            return
        }

        let payload: [UInt8]
        switch batch.header.compression {
        case nil:
            violations.expect(summary == nil, "the validator accepted an unknown codec")
            return
        case .some(.none): payload = Array(batch.recordsPayload.readableBytesView)
        case .some(let codec):
            let compressed = Array(batch.recordsPayload.readableBytesView)
            do {
                payload = try decompress(compressed, codec: codec, maxOutputBytes: maximumDecompressedBytes)
            } catch {
                violations.expect(summary == nil, "the validator accepted \(codec) records that do not decompress")
                return
            }
        }
        let records = checkRecords(payload, count: Int(batch.header.recordsCount), &violations)
        guard let summary else { return }
        guard let records else {
            violations.fail("the validator accepted records that neither decoder reads")
            return
        }
        violations.expect(
            summary.recordCount == records.count, "validator counted \(summary.recordCount), decoders \(records.count)")
        violations.expect(
            summary.recordBytes == payload.count, "validator walked \(summary.recordBytes) of \(payload.count) bytes")
        violations.expect(
            records.enumerated().allSatisfy { Int($0.element.offsetDelta) == $0.offset },
            "the validator accepted offset deltas that are not 0, 1, 2…")
        let maxTimestamp = records.map { batch.header.baseTimestamp &+ $0.timestampDelta }.max()
        violations.expect(
            summary.maxTimestamp == maxTimestamp,
            "validator max timestamp \(summary.maxTimestamp), records \(maxTimestamp.map(String.init) ?? "none")")

        // Correcting the header's max timestamp (as the broker does for CreateTime batches) keeps it valid.
        var corrected = Array(bytes)
        let changed = corrected.withUnsafeMutableBytes { raw -> Result<Bool, BatchValidationError> in
            do throws(BatchValidationError) {
                return .success(try BatchValidator.correctMaxTimestamp(raw, to: summary))
            } catch {
                return .failure(error)
            }
        }
        guard case .success(true) = changed else {
            // The CRC was checked above, so the only refusal there is (a damaged CRC) cannot happen.
            if case .failure(let error) = changed {
                violations.fail("correctMaxTimestamp refused a valid batch: \(error)")
            }
            return
        }
        let again = corrected.withUnsafeBytes { validate($0, validator) }
        violations.expect(again == summary, "a batch changed by correctMaxTimestamp no longer validates the same")
    }

    private static func validate(_ bytes: UnsafeRawBufferPointer, _ validator: BatchValidator) -> BatchSummary? {
        do throws(BatchValidationError) {
            return try validator.validate(bytes)
        } catch {
            return nil
        }
    }

    /// `Record.decodeAll` (ByteBuffer slices) and `RecordPayloadReader` (a byte cursor, the consumer's fast
    /// path) must accept the same payloads and read the same records from them.
    /// Returns the records when both decoders read them.
    static func checkRecords(_ payload: [UInt8], count: Int, _ violations: inout Violations) -> [Record]? {
        let viaBuffer = try? Record.decodeAll(from: ByteBuffer(bytes: payload), count: count)
        let viaReader = payload.withUnsafeBytes { try? RecordPayloadReader.decode($0, count: count) }
        guard let viaBuffer, let viaReader else {
            violations.expect(
                viaBuffer == nil && viaReader == nil,
                "record decoders disagree: Record.decodeAll \(viaBuffer == nil ? "refused" : "accepted"), "
                    + "RecordPayloadReader \(viaReader == nil ? "refused" : "accepted") \(count) records")
            return nil
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
                return nil
            }
        }
        return viaBuffer
    }
}
