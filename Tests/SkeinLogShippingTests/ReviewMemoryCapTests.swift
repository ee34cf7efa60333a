import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): what the memory cap counts.
@Suite struct ReviewMemoryCapTests {
    /// The memory cap counted a line's raw bytes, but what waits in the queue is its JSON record: a
    /// control byte is six bytes there (`\u0000`), an invalid byte three plus its base64. A NUL-filled
    /// hole (copytruncate with a writer without O_APPEND) held six times the cap.
    @Test func theMemoryCapCountsTheEncodedRecord() async throws {
        let budget = MemoryBudget(capacity: 64 << 20)
        let settings = DeliverySettings(bootstrapServers: ["127.0.0.1:1"], hostName: "host-a")
        let registry = MetricsRegistry()
        let delivery = LogDelivery(settings: settings, budget: budget, registry: registry, logger: DeliveryTests.logger)
        let channel = SourceChannel(
            index: 0, sourceId: "files.test", kind: "file", topic: "logs", partition: 0, sequence: 0, settings: settings,
            delivery: delivery, budget: budget,
            metrics: DeliveryMetrics(registry: MetricsRegistry(), budget: budget))
        let hole = SkeinLogShipping.LogEvent(
            timestampMilliseconds: 1_700_000_000_000, message: [UInt8](repeating: 0, count: 100_000),
            stream: "s1", position: "100001")
        let encoded = LogRecordEncoder(host: "host-a", sourceKind: "file").encode(hole)
        try await channel.emit([hole])
        #expect(budget.heldBytes >= encoded.count)
    }
}
