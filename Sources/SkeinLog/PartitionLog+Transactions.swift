/// The transaction half of a partition log: recovery of the last stable offset and aborted list, and their
/// snapshot. Appends update them in `PartitionLog.append`; reads use them in `PartitionLog.read`.
extension PartitionLog {
    // MARK: Transactions

    /// Loads the transaction snapshot and replays the batches written after it; without a snapshot (a data
    /// directory from before transactions, or a lost file) the whole log is replayed once.
    func recoverTransactions() throws {
        let (start, end) = lock.withLock { (_logStartOffset, _logEndOffset) }
        var state = PartitionTransactions(coveredUpTo: start)
        if let loaded = PartitionTransactions.load(directory: directory), loaded.coveredUpTo <= end {
            state = loaded
            state.coveredUpTo = max(state.coveredUpTo, start)
        }
        let snapshotAt = state.coveredUpTo
        if state.coveredUpTo < end {
            let plan: [(Segment, Int64, Int64)] = try lock.withLock {
                let first = segmentIndex(containing: state.coveredUpTo)
                return try segments[first...].map { segment in
                    try loadIndexesReportingRepairs(segment)
                    let hint = segment.offsetIndex.lastEntry(
                        atMost: segment.relative(max(state.coveredUpTo, segment.baseOffset)), by: \.relativeOffset)
                    return (segment, Int64(hint?.position ?? 0), segment.size)
                }
            }
            for (segment, from, limit) in plan {
                let file = try segment.openFile()
                var scanner = BatchScanner(file: file, from: from, to: limit, mode: .headers)
                while case .batch(let header, let position) = try scanner.next() {
                    guard header.lastOffset >= state.coveredUpTo else { continue }
                    var marker: TransactionMarker?
                    if header.isControl {
                        var bytes = [UInt8](repeating: 0, count: header.totalSize)
                        _ = try bytes.withUnsafeMutableBytes {
                            try FileIO.read(file.descriptor, into: $0, at: position, path: file.path)
                        }
                        marker = bytes.withUnsafeBytes { PartitionTransactions.marker(inControlBatch: $0) }
                    }
                    state.apply(header, marker: marker)
                }
            }
        }
        state.prune(below: start)
        lock.withLock {
            transactions = state
            transactionsSnapshotAt = snapshotAt
        }
    }

    /// Writes the transaction snapshot if the log grew since the last one; the checkpoint calls it.
    public func writeTransactionSnapshot() throws {
        let state: PartitionTransactions? = lock.withLock {
            transactions.coveredUpTo = max(transactions.coveredUpTo, _logEndOffset)
            transactions.prune(below: _logStartOffset)
            guard transactions.coveredUpTo != transactionsSnapshotAt else { return nil }
            return transactions
        }
        guard let state else { return }
        try state.write(directory: directory)
        lock.withLock { transactionsSnapshotAt = max(transactionsSnapshotAt, state.coveredUpTo) }
    }

    /// The aborted transactions that overlap `[from, upTo)`.
    public func abortedTransactions(from: Int64, upTo: Int64) -> [AbortedTransaction] {
        lock.withLock { transactions.aborted(from: from, upTo: upTo) }
    }
}
