import SkeinClient
import Synchronization

/// Carries a transaction's records into the delivery task so that it holds the only reference to them.
final class RecordHandoff: Sendable {
    private let records: Mutex<[ProducerRecord]>

    init(_ records: consuming [ProducerRecord]) {
        self.records = Mutex(records)
    }

    func take() -> [ProducerRecord] {
        records.withLock { records in
            let taken = records
            records = []
            return taken
        }
    }
}
