import Foundation
import SkeinClient
import SkeinCompression
import SkeinTestServers
import Testing

/// Produces keyed records concurrently (so they batch), then reads them back from the beginning and
/// checks offsets, per-partition order, key placement and content.
func roundTrip(
    bootstrap: [String], topic: String, configuration: ProducerConfiguration, recordCount: Int = 300
) async throws {
    let producer = try Producer(bootstrapServers: bootstrap, configuration: configuration)
    let sent = try await withThrowingTaskGroup(of: (Int, RecordMetadata).self) { group in
        for index in 0..<recordCount {
            group.addTask {
                let metadata = try await producer.send(
                    topic: topic, key: Array("key-\(index % 17)".utf8), value: Array("value-\(index)".utf8),
                    headers: [RecordHeader(key: "index", value: Array(String(index).utf8))])
                return (index, metadata)
            }
        }
        var sent: [Int: RecordMetadata] = [:]
        for try await (index, metadata) in group { sent[index] = metadata }
        return sent
    }
    await producer.close()
    #expect(sent.count == recordCount)
    let partitionCount = Set(sent.values.map(\.partition)).count
    for metadata in sent.values {
        if configuration.acks != .none { #expect(metadata.offset >= 0) }
        #expect(metadata.topicPartition.topic == topic)
    }
    if configuration.acks != .none {
        let offsets = sent.values.map { "\($0.topicPartition)@\($0.offset)" }
        #expect(Set(offsets).count == recordCount, "every record has its own offset")
    }

    let consumer = try Consumer(bootstrapServers: bootstrap)
    try await consumer.assign(topic: topic, from: .beginning)
    var received: [ConsumerRecord] = []
    let deadline = ContinuousClock.now + .seconds(30)
    while received.count < recordCount, ContinuousClock.now < deadline {
        received += try await consumer.poll()
    }
    await consumer.close()
    #expect(received.count == recordCount)

    let partitions = try await partitionCountOf(topic, bootstrap: bootstrap)
    var byPartition: [Int32: [ConsumerRecord]] = [:]
    for record in received { byPartition[record.partition, default: []].append(record) }
    for (partition, records) in byPartition {
        #expect(records.map(\.offset) == records.map(\.offset).sorted(), "partition \(partition) in offset order")
        let indices = records.map { Int(String(decoding: $0.headers.first!.value!, as: UTF8.self))! }
        for (record, index) in zip(records, indices) {
            #expect(record.value == Array("value-\(index)".utf8))
            let key = String(decoding: record.key!, as: UTF8.self)
            #expect(key == "key-\(index % 17)")
            #expect(
                record.partition == Murmur2Partitioner.partition(forKey: record.key!, partitionCount: partitions))
            if configuration.acks != .none {
                #expect(sent[index]?.offset == record.offset, "send returned the stored offset")
            }
        }
    }
    #expect(partitionCount > 1, "17 keys spread over several partitions")
}

func partitionCountOf(_ topic: String, bootstrap: [String]) async throws -> Int {
    let metadata = try ClusterMetadata(bootstrapServers: bootstrap)
    let count = try await metadata.partitionCount(of: topic)
    await metadata.close()
    return count
}

@Suite(.serialized) struct SkeindTests {
    @Test(arguments: CompressionCodec.allCases)
    func idempotentProduceThenConsume(codec: CompressionCodec) async throws {
        let broker = try await ServerProcess.skeind(settings: ["num.partitions": "3"])
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.compression = codec
        configuration.linger = .milliseconds(20)
        configuration.batchSize = 2048
        try await roundTrip(bootstrap: [broker.bootstrap], topic: "codec-\(codec)", configuration: configuration)
    }

    @Test(arguments: [ProducerConfiguration.Acks.none, .leader, .all])
    func nonIdempotentAcks(acks: ProducerConfiguration.Acks) async throws {
        let broker = try await ServerProcess.skeind(settings: ["num.partitions": "3"])
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.enableIdempotence = false
        configuration.acks = acks
        configuration.maxInFlightPerPartition = 1
        try await roundTrip(bootstrap: [broker.bootstrap], topic: "acks-\(acks.rawValue)", configuration: configuration)
    }

    /// Concurrent sends within one linger period travel together: far fewer batches than records.
    @Test func lingerGathersConcurrentSendsIntoBatches() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.linger = .milliseconds(200)
        configuration.batchSize = 1024 * 1024
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        _ = try await producer.send(topic: "linger", partition: 0, value: [0])
        let offsets = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<100 {
                group.addTask {
                    try await producer.send(topic: "linger", partition: 0, value: Array("\(index)".utf8)).offset
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(offsets.sorted() == Array(1...100))
        let statistics = await producer.statistics
        #expect(statistics.recordsDelivered == 101)
        #expect(statistics.batchesDelivered <= 5, "got \(statistics.batchesDelivered) batches for 101 records")
        await producer.close()
    }

    /// A full batch leaves without waiting for its linger.
    @Test func batchSizeSendsBeforeLinger() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.linger = .seconds(120)
        configuration.batchSize = 100
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        let metadata = try await producer.send(topic: "full", partition: 0, value: Array(repeating: 7, count: 200))
        #expect(metadata.offset == 0)
        await producer.close()
    }

    /// Keyless records fill one partition's batch before moving on (sticky), and `enqueue` with a small
    /// buffer still delivers everything in order per partition.
    @Test func enqueueWithBackPressureAndStickyPartitions() async throws {
        let broker = try await ServerProcess.skeind(settings: ["num.partitions": "4"])
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.batchSize = 4_096
        configuration.bufferMemory = 16_384
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        let count = 3_000
        for start in stride(from: 0, to: count, by: 250) {
            try await producer.enqueue(
                (start..<(start + 250)).map { ProducerRecord(topic: "sticky", value: Array("v\($0)".utf8)) })
        }
        await producer.flush()
        let statistics = await producer.statistics
        #expect(statistics.recordsDelivered == count)
        #expect(statistics.recordsFailed == 0)
        // ~4 KiB batches of ~20-byte records: far fewer batches than records, and several partitions used.
        #expect(statistics.batchesDelivered < count / 20)
        await producer.close()

        let consumer = try Consumer(bootstrapServers: [broker.bootstrap])
        try await consumer.assign(topic: "sticky", from: .beginning)
        var received: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < count, ContinuousClock.now < deadline { received += try await consumer.poll() }
        await consumer.close()
        #expect(received.count == count)
        #expect(Set(received.map(\.partition)).count > 1)
        for partition in Set(received.map(\.partition)) {
            let values = received.filter { $0.partition == partition }.map {
                Int(String(decoding: $0.value!.dropFirst(), as: UTF8.self))!
            }
            #expect(values == values.sorted(), "partition \(partition) keeps enqueue order")
        }
    }

    @Test func seekAndFollow() async throws {
        let broker = try await ServerProcess.skeind()
        defer { broker.stop() }
        let bootstrap = [broker.bootstrap]
        let topic = "follow"
        let partition = TopicPartition(topic: topic, partition: 0)
        let producer = try Producer(bootstrapServers: bootstrap)
        var timestamps: [Int64] = []
        for index in 0..<10 {
            let timestamp = Int64(1_700_000_000_000 + index * 1000)
            timestamps.append(timestamp)
            let metadata = try await producer.send(
                ProducerRecord(topic: topic, partition: 0, value: Array("old-\(index)".utf8), timestamp: timestamp))
            #expect(metadata.offset == Int64(index))
        }

        let consumer = try Consumer(bootstrapServers: bootstrap)
        try await consumer.assign([partition], from: .end)
        #expect(await consumer.position(of: partition) == 10)
        try await consumer.seek(partition, to: .beginning)
        #expect(await consumer.position(of: partition) == 0)
        try await consumer.seek(partition, to: .timestamp(timestamps[4]))
        #expect(await consumer.position(of: partition) == 4)
        try await consumer.seek(partition, to: .timestamp(timestamps[4] + 1))
        #expect(await consumer.position(of: partition) == 5)
        try await consumer.seek(partition, to: .timestamp(timestamps[9] + 1))
        #expect(await consumer.position(of: partition) == 10)
        try await consumer.seek(partition, to: .offset(7))
        let fromSeven = try await consumer.poll()
        #expect(fromSeven.map(\.offset) == [7, 8, 9])
        #expect(fromSeven.first?.timestamp == timestamps[7])

        // Follow mode: the stream waits at the end and delivers records produced later.
        try await consumer.seek(partition, to: .end)
        let stream = consumer.records()
        let reader = Task {
            var values: [String] = []
            for try await record in stream {
                values.append(String(decoding: record.value ?? [], as: UTF8.self))
                if values.count == 5 { break }
            }
            return values
        }
        for index in 0..<5 {
            _ = try await producer.send(topic: topic, partition: 0, value: Array("new-\(index)".utf8))
        }
        let watchdog = Task {
            try await Task.sleep(for: .seconds(30))
            reader.cancel()
        }
        let followed = try await reader.value
        watchdog.cancel()
        #expect(followed == (0..<5).map { "new-\($0)" })
        await producer.close()
        await consumer.close()
    }
}

@Suite(
    .serialized,
    .enabled(
        if: ServerProcess.mockClusterAvailable,
        "librdkafka's mock cluster needs librdkafka-dev (pkg-config rdkafka) and \(ServerProcess.mockBrokerSource)"))
struct MockClusterTests {
    @Test(arguments: CompressionCodec.allCases)
    func idempotentProduceThenConsume(codec: CompressionCodec) async throws {
        let cluster = try await ServerProcess.mockCluster(brokers: 3)
        defer { cluster.stop() }
        var configuration = ProducerConfiguration()
        configuration.compression = codec
        configuration.linger = .milliseconds(20)
        configuration.batchSize = 2048
        let bootstrap = cluster.bootstrap.split(separator: ",").map(String.init)
        try await roundTrip(bootstrap: bootstrap, topic: "mock-\(codec)", configuration: configuration)
    }

    @Test func seekOnMock() async throws {
        let cluster = try await ServerProcess.mockCluster()
        defer { cluster.stop() }
        let bootstrap = cluster.bootstrap.split(separator: ",").map(String.init)
        let producer = try Producer(bootstrapServers: bootstrap)
        for index in 0..<5 {
            _ = try await producer.send(topic: "seek", partition: 1, value: Array("v\(index)".utf8))
        }
        await producer.close()
        let consumer = try Consumer(bootstrapServers: bootstrap)
        let partition = TopicPartition(topic: "seek", partition: 1)
        try await consumer.assign([partition], from: .end)
        #expect(await consumer.position(of: partition) == 5)
        try await consumer.seek(partition, to: .offset(2))
        var records: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while records.count < 3, ContinuousClock.now < deadline { records += try await consumer.poll() }
        #expect(records.map(\.offset) == [2, 3, 4])
        await consumer.close()
    }
}

@Suite struct RetryTests {
    /// The broker goes away and comes back on the same address: sends in between fail on the dead
    /// connection, are retried after reconnecting, and the idempotent sequence carries on (skeind
    /// saves producer state on a clean shutdown) so every record is stored once, in order.
    @Test func idempotentProducerSurvivesBrokerRestart() async throws {
        let directory = NSTemporaryDirectory() + "skein-client-restart-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await ServerProcess.skeind(dataDirectory: directory, listen: "127.0.0.1:0")
        let address = first.bootstrap
        var configuration = ProducerConfiguration()
        configuration.retries = 50
        configuration.retryBackoff = .milliseconds(20)
        configuration.retryBackoffMax = .milliseconds(200)
        let producer = try Producer(bootstrapServers: [address], configuration: configuration)
        for index in 0..<10 {
            let metadata = try await producer.send(topic: "restart", partition: 0, value: Array("a\(index)".utf8))
            #expect(metadata.offset == Int64(index))
        }
        first.stop()
        let sending = Task {
            try await withThrowingTaskGroup(of: RecordMetadata.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await producer.send(topic: "restart", partition: 0, value: Array("b\(index)".utf8))
                    }
                }
                var offsets: [Int64] = []
                for try await metadata in group { offsets.append(metadata.offset) }
                return offsets.sorted()
            }
        }
        // Restart only once the producer has met the dead broker, so the retry path is what is tested
        // (under load the sends could otherwise start after the new broker is up).
        let retryDeadline = ContinuousClock.now + .seconds(20)
        while await producer.statistics.retries == 0, ContinuousClock.now < retryDeadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let second = try await ServerProcess.skeind(dataDirectory: directory, listen: address)
        defer { second.stop() }
        let offsets = try await sending.value
        #expect(offsets == Array(10..<20))
        #expect(await producer.statistics.retries > 0, "the dead connection forced at least one retry")
        await producer.close()

        let consumer = try Consumer(bootstrapServers: [address])
        try await consumer.assign([TopicPartition(topic: "restart", partition: 0)], from: .beginning)
        var values: [String] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while values.count < 20, ContinuousClock.now < deadline {
            values += try await consumer.poll().map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
        await consumer.close()
        #expect(values.prefix(10) == ArraySlice((0..<10).map { "a\($0)" }))
        #expect(Set(values.dropFirst(10)) == Set((0..<10).map { "b\($0)" }))
        #expect(values.count == 20)
    }
}
