/// Timestamp lookups (ListOffsets by time and max timestamp), through the time index and, for the exact
/// record, the batch's records.
extension PartitionLog {
    // MARK: Timestamp lookup

    /// The first offset whose record timestamp is ≥ `timestamp`, as Kafka's ListOffsets answers it; nil when
    /// every record is older.
    public func offset(forTimestamp timestamp: Int64) throws -> TimestampLookup? {
        let (candidates, logStart): ([(Segment, Int64, Int64)], Int64) = try lock.withLock {
            var found: [(Segment, Int64, Int64)] = []
            for segment in segments where !segment.isEmpty {
                try loadIndexesReportingRepairs(segment)
                guard segment.maxTimestamp >= timestamp else { continue }
                // Every record up to an entry with a smaller timestamp is older, so the scan can start there.
                let entry = segment.timeIndex.lastEntry(atMost: timestamp, strictly: true, by: \.timestamp)
                let position = entry.flatMap {
                    segment.offsetIndex.lastEntry(atMost: $0.relativeOffset, by: \.relativeOffset)
                }
                found.append((segment, Int64(position?.position ?? 0), segment.size))
            }
            return (found, _logStartOffset)
        }
        for (segment, start, limit) in candidates {
            let file = try segment.openFile()
            var scanner = BatchScanner(file: file, from: start, to: limit, mode: .headers, chunkSize: 4096)
            while case .batch(let header, let position) = try scanner.next() {
                guard header.maxTimestamp >= timestamp, header.lastOffset >= logStart else { continue }
                let found = try firstRecord(atOrAfter: timestamp, in: header, file: file, at: position)
                if found.offset >= logStart { return found }
            }
        }
        return nil
    }

    /// The largest timestamp in the log and the offset of the batch that carried it (ListOffsets -3).
    public func offsetOfMaxTimestamp() throws -> TimestampLookup? {
        try lock.withLock {
            var best: TimestampLookup?
            for segment in segments where !segment.isEmpty {
                try loadIndexesReportingRepairs(segment)
                if segment.maxTimestamp > (best?.timestamp ?? -1) {
                    best = TimestampLookup(offset: segment.offsetOfMaxTimestamp, timestamp: segment.maxTimestamp)
                }
            }
            return best
        }
    }

    private func firstRecord(
        atOrAfter timestamp: Int64, in header: StoredBatchHeader, file: SegmentFile, at position: Int64
    )
        throws -> TimestampLookup
    {
        let batchAnswer = TimestampLookup(offset: header.baseOffset, timestamp: header.maxTimestamp)
        if header.usesLogAppendTime { return batchAnswer }
        var bytes = [UInt8](repeating: 0, count: header.totalSize)
        _ = try bytes.withUnsafeMutableBytes {
            try FileIO.read(file.descriptor, into: $0, at: position, path: file.path)
        }
        var records = Array(bytes[StoredBatchHeader.size...])
        if header.compressionCodec != 0 {
            // A batch that does not decompress (stored before records were validated) still has a usable
            // header; the lookup answers with it rather than failing the whole partition.
            guard let decompressor,
                let plain = try? records.withUnsafeBytes({
                    try decompressor.decompress(codec: header.compressionCodec, $0)
                })
            else { return batchAnswer }
            records = plain
        }
        let found = records.withUnsafeBytes { raw -> TimestampLookup? in
            var reader = VarintReader(bytes: raw)
            for _ in 0..<header.recordsCount {
                guard let length = reader.readZigZag(), let _ = reader.readByte(),
                    let timestampDelta = reader.readZigZag(), let offsetDelta = reader.readZigZag()
                else { return nil }
                let recordTimestamp = header.baseTimestamp + timestampDelta
                if recordTimestamp >= timestamp {
                    return TimestampLookup(offset: header.baseOffset + offsetDelta, timestamp: recordTimestamp)
                }
                _ = length
                guard reader.skipRestOfRecord() else { return nil }
            }
            return nil
        }
        return found ?? batchAnswer
    }
}
