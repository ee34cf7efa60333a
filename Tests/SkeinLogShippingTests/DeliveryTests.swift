import Foundation
import Logging
import SkeinClient
import SkeinMetrics
import SkeinTestServers
import Testing

@testable import SkeinLogShipping

/// The delivery core against a real skeind: records, headers, checkpoints, recovery, fencing.
@Suite(.serialized) struct DeliveryTests {
    static let logger = Logger(label: "delivery-test")

    func settings(_ broker: ServerProcess, state: String? = nil) -> DeliverySettings {
        var settings = DeliverySettings(bootstrapServers: [broker.bootstrap], hostName: "host-a")
        settings.batchLinger = .milliseconds(5)
        settings.checkpointInterval = .milliseconds(200)
        settings.stateDirectory = state
        settings.initialBackoff = .milliseconds(50)
        return settings
    }

    static func events(_ range: ClosedRange<Int>, stream: String = "s1") -> [SkeinLogShipping.LogEvent] {
        range.map {
            SkeinLogShipping.LogEvent(
                timestampMilliseconds: 1_700_000_000_000 + Int64($0), message: Array("line \($0)".utf8), unit: "u",
                stream: stream, position: String($0))
        }
    }

    /// A running delivery with one source, "files.test" on topic `topic`.
    struct Running {
        let delivery: LogDelivery
        let channel: SourceChannel
        let state: SourceState
        let loop: Task<Void, Never>
        let registry: MetricsRegistry

        func stop() async {
            await delivery.finish(deadline: .now + .seconds(10))
            await loop.value
        }
    }

    func start(_ settings: DeliverySettings, topic: String) async throws -> Running {
        let registry = MetricsRegistry()
        let delivery = LogDelivery(
            settings: settings, budget: MemoryBudget(capacity: 1 << 20), registry: registry, logger: Self.logger)
        let started = try await delivery.start(sources: [(id: "files.test", kind: "file", topic: topic)])
        let loop = Task { await delivery.run() }
        return Running(
            delivery: delivery, channel: started[0].0, state: started[0].1, loop: loop, registry: registry)
    }

    /// Every committed record of the topic: (sequence, message) of log records, and the checkpoint count.
    func readBack(_ broker: ServerProcess, topic: String) async throws -> (
        records: [(UInt64, String)], checkpoints: Int
    ) {
        var configuration = ConsumerConfiguration()
        configuration.isolationLevel = .readCommitted
        configuration.maxWait = .milliseconds(50)
        let consumer = try Consumer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        defer { Task { await consumer.close() } }
        try await consumer.assign(topic: topic, from: .beginning)
        let end = try await consumer.offsets(for: await consumer.assignment, .end)
        var records: [(UInt64, String)] = []
        var checkpoints = 0
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            var done = true
            for (partition, last) in end where (await consumer.position(of: partition) ?? 0) < last { done = false }
            if done { break }
            for record in try await consumer.poll() {
                if record.headers.contains(where: { $0.key == PositionHeaders.checkpoint }) {
                    checkpoints += 1
                    continue
                }
                let parsed = try #require(PositionHeaders.parse(record.headers))
                #expect(record.key == Array("host-a".utf8))
                let json = try #require(JSONSerialization.jsonObject(with: Data(record.value ?? [])) as? [String: Any])
                let message = try #require(json["message"] as? String)
                records.append((parsed.sequence, message))
            }
        }
        return (records, checkpoints)
    }

    func waitCommitted(_ running: Running, _ sequence: UInt64) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if running.registry.render().contains("skein_agent_source_sequence{source=\"files.test\"} \(sequence)") {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("sequence \(sequence) not committed within 20 s:\n\(running.registry.render())")
    }

    @Test func shipsRecordsAndResumesWhereItStopped() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let first = try await start(settings(broker), topic: "logs")
        #expect(first.state == SourceState())
        try await first.channel.emit(Self.events(1...300))
        try await first.channel.emit(Self.events(301...500))
        try await waitCommitted(first, 500)
        await first.stop()

        let second = try await start(settings(broker), topic: "logs")
        #expect(second.state.found)
        #expect(second.state.sequence == 500)
        #expect(second.state.positions == ["s1": "500"])
        try await second.channel.emit(Self.events(501...510))
        try await waitCommitted(second, 510)
        await second.stop()

        let (records, checkpoints) = try await readBack(broker, topic: "logs")
        #expect(records.map(\.0) == Array(1...510).map(UInt64.init))
        #expect(records.map(\.1) == (1...510).map { "line \($0)" })
        #expect(checkpoints >= 2)
    }

    @Test func anAbandonedIncarnationIsFencedAndNothingIsLostOrDoubled() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let state = NSTemporaryDirectory() + "skein-delivery-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: state) }
        let first = try await start(settings(broker, state: state), topic: "logs")
        try await first.channel.emit(Self.events(1...200))
        try await waitCommitted(first, 200)
        // More records queued, then the process "dies": its loop is cancelled mid-flight, no finish.
        try await first.channel.emit(Self.events(201...400))
        first.loop.cancel()
        await first.loop.value

        // The cache file is garbage this time; positions must come from the log anyway.
        try Data("not json".utf8).write(to: URL(fileURLWithPath: state + "/checkpoints.json"))
        let second = try await start(settings(broker, state: state), topic: "logs")
        let resumed = second.state.sequence
        #expect(resumed >= 200 && resumed <= 400)
        #expect(second.state.positions["s1"] == String(resumed))
        if resumed < 400 { try await second.channel.emit(Self.events(Int(resumed) + 1...400)) }
        try await waitCommitted(second, 400)
        await second.stop()
        let (records, _) = try await readBack(broker, topic: "logs")
        #expect(records.map(\.0) == Array(1...400).map(UInt64.init))

        // A third start reads its offset hint from the (now rewritten) cache.
        let cache = try String(contentsOfFile: state + "/checkpoints.json", encoding: .utf8)
        #expect(cache.contains("logs\\/") || cache.contains("logs/"))
        let third = try await start(settings(broker, state: state), topic: "logs")
        #expect(third.state.sequence == 400)
        await third.stop()
    }

    @Test func retiredStreamsLeaveTheCheckpoint() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let first = try await start(settings(broker), topic: "logs")
        try await first.channel.emit(Self.events(1...3, stream: "a") + Self.events(4...6, stream: "b"))
        await first.channel.retire(stream: "a")
        try await first.channel.emit(Self.events(7...7, stream: "b"))
        try await waitCommitted(first, 7)
        await first.stop()
        let second = try await start(settings(broker), topic: "logs")
        #expect(second.state.positions == ["b": "7"])
        await second.stop()
    }
}
