import SkeinClient
import SkeinCompression
import SkeinProtocol
import SkeinTestServers
import Testing

@Suite(.serialized) struct EncodedEnqueueTests {
    /// Runs encoded ahead, interleaved with records sent one by one to the same partition, in a
    /// transaction: every record is stored once, in the order it was handed over, with its key, value,
    /// headers and timestamp, and runs share batches up to `batchSize`.
    @Test(arguments: [CompressionCodec.none, .lz4])
    func encodedRunsAndRecordsKeepTheirOrder(codec: CompressionCodec) async throws {
        let broker = try await ServerProcess.skeind(settings: ["num.partitions": "2"])
        defer { broker.stop() }
        var configuration = ProducerConfiguration()
        configuration.compression = codec
        configuration.batchSize = 8_192
        configuration.transactionalId = "encoded-\(codec)"
        let producer = try Producer(bootstrapServers: [broker.bootstrap], configuration: configuration)
        try await producer.initTransactions()
        try await producer.beginTransaction()
        let target = TopicPartition(topic: "runs", partition: 1)
        var expected: [(value: String, timestamp: Int64, header: String?)] = []
        var next = 0
        for round in 0..<6 {
            var runs: [EncodedRecords] = []
            for _ in 0..<3 {
                var run = EncodedRecords()
                for _ in 0..<40 {
                    let value = "run-\(next)"
                    let timestamp = 1_700_000_000_000 + Int64(next % 7) * 1_000 - Int64(round)
                    run.beginRecord(
                        timestamp: timestamp, key: Array("k".utf8), value: Array(value.utf8), headerCount: 1)
                    run.appendHeader(key: "seq", value: Array(String(next).utf8))
                    expected.append((value, timestamp, String(next)))
                    next += 1
                }
                runs.append(run)
            }
            try await producer.enqueue(encoded: runs, to: target)
            let single = "single-\(round)"
            try await producer.enqueue([
                ProducerRecord(topic: "runs", partition: 1, value: Array(single.utf8), timestamp: 42)
            ])
            expected.append((single, 42, nil))
        }
        await producer.flush()
        try await producer.commitTransaction()
        let statistics = await producer.statistics
        #expect(statistics.recordsDelivered == expected.count)
        #expect(statistics.recordsFailed == 0)
        // 120 records of ~30 bytes per round share batches: fewer batches than runs plus singles.
        #expect(statistics.batchesDelivered < 6 * 4)
        await producer.close()

        let consumer = try Consumer(bootstrapServers: [broker.bootstrap])
        try await consumer.assign([target], from: .beginning)
        var received: [ConsumerRecord] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < expected.count, ContinuousClock.now < deadline { received += try await consumer.poll() }
        await consumer.close()
        #expect(received.count == expected.count)
        for (record, want) in zip(received, expected) {
            #expect(String(decoding: record.value ?? [], as: UTF8.self) == want.value)
            #expect(record.timestamp == want.timestamp)
            #expect(record.headers.first.map { String(decoding: $0.value ?? [], as: UTF8.self) } == want.header)
            if want.header != nil { #expect(record.key == Array("k".utf8)) }
        }
        #expect(received.map(\.offset) == received.map(\.offset).sorted())
    }
}
