import Foundation
import SkeinClient
import Testing

/// The transactional producer and read_committed consumer against skeind: what commits is read once,
/// what aborts is never read by read_committed (and is by read_uncommitted), offsets sent to a
/// transaction become the group's only on commit, and a second producer with the same
/// transactional id fences the first.
@Suite(.serialized) struct TransactionTests {
    static func producerConfiguration(_ transactionalId: String) -> ProducerConfiguration {
        var configuration = ProducerConfiguration()
        configuration.transactionalId = transactionalId
        configuration.linger = .milliseconds(1)
        configuration.maxBlock = .seconds(20)
        return configuration
    }

    static func consumer(_ bootstrap: [String], _ isolation: IsolationLevel) throws -> Consumer {
        var configuration = ConsumerConfiguration()
        configuration.isolationLevel = isolation
        configuration.maxWait = .milliseconds(100)
        return try Consumer(bootstrapServers: bootstrap, configuration: configuration)
    }

    /// Values read from every partition of `topic` from the beginning until the consumer has caught
    /// up with its isolation level's end on each, bounded by `timeout`.
    static func readAll(
        _ topic: String, _ bootstrap: [String], _ isolation: IsolationLevel, timeout: Duration = .seconds(20)
    )
        async throws -> [String]
    {
        let consumer = try consumer(bootstrap, isolation)
        try await consumer.assign(topic: topic, from: .beginning)
        let ends = try await consumer.offsets(for: await consumer.assignment, .end)
        var values: [String] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            values += try await consumer.poll().map { String(decoding: $0.value ?? [], as: UTF8.self) }
            var caughtUp = true
            for (partition, end) in ends where (await consumer.position(of: partition) ?? 0) < end { caughtUp = false }
            if caughtUp { break }
        }
        await consumer.close()
        return values
    }

    @Test func committedOnceAbortedNeverOffsetsOnCommit() async throws {
        let server = try await ServerProcess.skeind()
        defer { server.stop() }
        let bootstrap = [server.bootstrap]
        let admin = try AdminClient(bootstrapServers: bootstrap)
        try await admin.createTopic("tx-out", partitions: 2)
        try await admin.createTopic("tx-in", partitions: 1)
        let producer = try Producer(bootstrapServers: bootstrap, configuration: Self.producerConfiguration("tx-a"))
        try await producer.initTransactions()
        let group = ConsumerGroupMetadata(groupId: "tx-group")
        let input = TopicPartition(topic: "tx-in", partition: 0)

        try await producer.beginTransaction()
        for index in 0..<10 {
            _ = try await producer.send(topic: "tx-out", partition: Int32(index % 2), value: Array("c1-\(index)".utf8))
        }
        try await producer.sendOffsetsToTransaction([input: 10], groupMetadata: group)
        try await producer.commitTransaction()
        #expect(try await admin.committedOffsets(group: "tx-group", partitions: [input])[input] == 10)

        try await producer.beginTransaction()
        try await producer.enqueue((0..<7).map { ProducerRecord(topic: "tx-out", value: Array("ab-\($0)".utf8)) })
        try await producer.sendOffsetsToTransaction([input: 17], groupMetadata: group)
        try await producer.abortTransaction()
        #expect(try await admin.committedOffsets(group: "tx-group", partitions: [input])[input] == 10)

        try await producer.beginTransaction()
        for index in 0..<5 {
            _ = try await producer.send(topic: "tx-out", partition: Int32(index % 2), value: Array("c2-\(index)".utf8))
        }
        // Open: read_committed must not see these yet, and stops at the last stable offset.
        let whileOpen = try await Self.readAll("tx-out", bootstrap, .readCommitted)
        #expect(Set(whileOpen) == Set((0..<10).map { "c1-\($0)" }))
        try await producer.commitTransaction()
        await producer.close()

        let committed = (0..<10).map { "c1-\($0)" } + (0..<5).map { "c2-\($0)" }
        let readCommitted = try await Self.readAll("tx-out", bootstrap, .readCommitted)
        #expect(readCommitted.sorted() == committed.sorted(), "each committed record exactly once, no aborted one")
        let readUncommitted = try await Self.readAll("tx-out", bootstrap, .readUncommitted)
        #expect(readUncommitted.sorted() == (committed + (0..<7).map { "ab-\($0)" }).sorted())
        await admin.close()
    }

    @Test func secondProducerWithTheSameIdFencesTheFirst() async throws {
        let server = try await ServerProcess.skeind()
        defer { server.stop() }
        let bootstrap = [server.bootstrap]
        let first = try Producer(bootstrapServers: bootstrap, configuration: Self.producerConfiguration("tx-fence"))
        try await first.initTransactions()
        try await first.beginTransaction()
        _ = try await first.send(topic: "fence", partition: 0, value: Array("zombie-1".utf8))

        let second = try Producer(bootstrapServers: bootstrap, configuration: Self.producerConfiguration("tx-fence"))
        try await second.initTransactions()  // aborts the first one's open transaction

        var fenced = false
        do {
            _ = try await first.send(topic: "fence", partition: 0, value: Array("zombie-2".utf8))
            try await first.commitTransaction()
        } catch KafkaClientError.producerFenced {
            fenced = true
        }
        #expect(fenced, "the first producer's later send or commit fails as fenced")
        await #expect(throws: KafkaClientError.self) { try await first.beginTransaction() }

        try await second.beginTransaction()
        _ = try await second.send(topic: "fence", partition: 0, value: Array("live".utf8))
        try await second.commitTransaction()
        await first.close()
        await second.close()
        #expect(try await Self.readAll("fence", bootstrap, .readCommitted) == ["live"])
    }
}
