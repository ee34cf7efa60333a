import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// Review of exactly-once shipping (issue #12): a retire marker and a commit whose answer was lost.
extension DeliveryTests {
    /// A retire marker queued before records that re-add the same stream (a short file's `ino-` name
    /// across copytruncate, or a reused inode) must not be applied after them when a failed attempt
    /// turns out to have committed those records: the stream's position would leave the checkpoint and
    /// a restart would read the file again from 0.
    @Test func aRetireCommittedByTheFailedAttemptIsNotAppliedAgain() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let x100 = SkeinLogShipping.LogEvent(
            timestampMilliseconds: 1_700_000_000_000, message: Array("old".utf8), stream: "X", position: "100")
        let x50 = SkeinLogShipping.LogEvent(
            timestampMilliseconds: 1_700_000_000_001, message: Array("new".utf8), stream: "X", position: "50")

        // Incarnation A queues X@100, retire(X), X@50 but does not get to deliver them yet.
        let registryA = MetricsRegistry()
        let a = LogDelivery(
            settings: settings(broker), budget: MemoryBudget(capacity: 1 << 20), registry: registryA,
            logger: Self.logger)
        let channelA = try await a.start(sources: [(id: "files.test", kind: "file", topic: "logs")])[0].0
        try await channelA.emit([x100])
        await channelA.retire(stream: "X")
        try await channelA.emit([x50])

        // The same records are committed meanwhile (as a commit whose answer A never saw would have).
        let b = try await start(settings(broker), topic: "logs")
        try await b.channel.emit([x100])
        try await b.channel.emit([x50])
        try await waitCommitted(b, 2)
        await b.stop()

        // A's attempt is fenced; it re-reads the committed state and goes on with what is left.
        let loopA = Task { await a.run() }
        await a.finish(deadline: .now + .seconds(15))
        await loopA.value

        let c = try await start(settings(broker), topic: "logs")
        #expect(c.state.sequence == 2)
        #expect(c.state.positions == ["X": "50"])
        await c.stop()
        let (records, _) = try await readBack(broker, topic: "logs")
        #expect(records.map(\.0) == [1, 2])
    }
}
