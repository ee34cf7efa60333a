import Foundation
import SkeinClient
import SkeinTestServers
import Testing

/// What the members of a test group have read, by member.
actor ReadLog {
    private(set) var values: [String] = []
    private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    func add(_ records: [ConsumerRecord]) {
        values += records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
        let ready = waiters.filter { Set(values).count >= $0.count }
        waiters.removeAll { Set(values).count >= $0.count }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Returns once `count` distinct values have been read.
    func waitForDistinct(_ count: Int) async {
        if Set(values).count >= count { return }
        await withCheckedContinuation { waiters.append((count, $0)) }
    }
}

/// Checks `condition` until it holds or `timeout` passes; for state that has no event to await
/// (a group's assignment settles through the members' own heartbeats and polls).
func eventually(within timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Runs `body` but gives up after `timeout`, so a hung wait fails the test instead of the run.
func withTimeout(_ timeout: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await body()
            return true
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return false
        }
        let finished = await group.next() ?? false
        group.cancelAll()
        return finished
    }
}

@Suite struct GroupConsumerTests {
    static func configuration() -> GroupConsumerConfiguration {
        var configuration = GroupConsumerConfiguration()
        configuration.heartbeatInterval = .milliseconds(200)
        configuration.sessionTimeout = .seconds(6)
        configuration.rebalanceTimeout = .seconds(10)
        configuration.consumer.maxWait = .milliseconds(200)
        configuration.autoCommitInterval = .milliseconds(100)
        return configuration
    }

    static func pollForever(_ member: GroupConsumer, into log: ReadLog) -> Task<Void, any Error> {
        Task {
            while !Task.isCancelled {
                await log.add(try await member.poll())
            }
        }
    }

    @Test func membersSplitPartitionsOnSkeind() async throws {
        let broker = try await ServerProcess.skeind(settings: ["num.partitions": "4"])
        defer { broker.stop() }
        try await Self.membersSplitPartitionsAndHandOverCommittedPositions(
            bootstrap: [broker.bootstrap], acceptsCommitsDuringRebalance: true)
    }

    /// Opt-in (SKEIN_MOCK_GROUP_TEST=1): librdkafka 2.0.2's mock answers a follower's SyncGroup that
    /// arrives after the leader's with INVALID_REQUEST, so on a loaded machine this run fails for the
    /// mock's reasons, not the client's (seen once in CI-like runs: 54 s, then no split).
    @Test(
        .enabled(
            if: ServerProcess.mockClusterAvailable
                && ProcessInfo.processInfo.environment["SKEIN_MOCK_GROUP_TEST"] == "1",
            "opt-in: SKEIN_MOCK_GROUP_TEST=1, and librdkafka-dev for the mock cluster"))
    func membersSplitPartitionsOnMockCluster() async throws {
        let cluster = try await ServerProcess.mockCluster(brokers: 3)
        defer { cluster.stop() }
        try await Self.membersSplitPartitionsAndHandOverCommittedPositions(
            bootstrap: cluster.bootstrap.split(separator: ",").map(String.init), acceptsCommitsDuringRebalance: false)
    }

    /// Expects a topic "grouped" to get four partitions when first used. A broker that refuses
    /// commits once a rebalance has begun (librdkafka's mock answers REBALANCE_IN_PROGRESS; Kafka
    /// and skeind accept them) makes the next owner re-read a little: at-least-once, not exactly once.
    static func membersSplitPartitionsAndHandOverCommittedPositions(
        bootstrap: [String], acceptsCommitsDuringRebalance: Bool
    ) async throws {
        let producer = try Producer(bootstrapServers: bootstrap)
        for index in 0..<200 {
            _ = try await producer.send(topic: "grouped", key: Array("k\(index)".utf8), value: Array("a\(index)".utf8))
        }

        let log = ReadLog()
        let first = try GroupConsumer(
            bootstrapServers: bootstrap, groupId: "g", topics: ["grouped"], configuration: Self.configuration())
        let firstPolling = Self.pollForever(first, into: log)
        #expect(await withTimeout(.seconds(30)) { await log.waitForDistinct(200) }, "the only member reads everything")
        #expect(await first.assignment.count == 4)
        try await first.commit()

        let second = try GroupConsumer(
            bootstrapServers: bootstrap, groupId: "g", topics: ["grouped"], configuration: Self.configuration())
        let secondPolling = Self.pollForever(second, into: log)
        let split = await eventually(within: .seconds(30)) {
            let a = Set(await first.assignment)
            let b = Set(await second.assignment)
            return a.count == 2 && b.count == 2 && a.isDisjoint(with: b)
        }
        #expect(split, "two members share four partitions two and two")

        for index in 0..<100 {
            _ = try await producer.send(topic: "grouped", key: Array("k\(index)".utf8), value: Array("b\(index)".utf8))
        }
        #expect(await withTimeout(.seconds(30)) { await log.waitForDistinct(300) })
        if acceptsCommitsDuringRebalance {
            #expect(await log.values.count == 300, "committed positions hand over without re-reading")
        }

        secondPolling.cancel()
        _ = await secondPolling.result
        await second.close()
        let alone = await eventually(within: .seconds(30)) { await first.assignment.count == 4 }
        #expect(alone, "after the second member leaves the first owns every partition again")
        let partitions = (0..<4).map { TopicPartition(topic: "grouped", partition: Int32($0)) }
        let caughtUp = await eventually(within: .seconds(30)) {
            var total: Int64 = 0
            for partition in partitions { total += await first.position(of: partition) ?? 0 }
            return total == 300
        }
        #expect(caughtUp, "the remaining member reads to the end of every partition")

        firstPolling.cancel()
        _ = await firstPolling.result
        await first.close()
        await producer.close()

        // A new member of the same group starts from the committed offsets: nothing left to read.
        let third = try GroupConsumer(
            bootstrapServers: bootstrap, groupId: "g", topics: ["grouped"], configuration: Self.configuration())
        let committed = try await third.committedOffsets(for: partitions)
        #expect(committed.values.reduce(0, +) == 300)
        await third.close()
    }
}
