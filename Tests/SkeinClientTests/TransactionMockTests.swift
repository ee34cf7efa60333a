import Foundation
import SkeinClient
import SkeinTestServers
import Testing

/// The transactional producer against librdkafka's mock cluster: an independent implementation of
/// the transaction coordinator's wire side (FindCoordinator key type 1, InitProducerId with an id,
/// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn), so the codecs and the call
/// sequence are checked against something Skein did not write.
@Suite(
    .serialized,
    .enabled(
        if: ServerProcess.mockClusterAvailable,
        "librdkafka's mock cluster needs librdkafka-dev (pkg-config rdkafka) and \(ServerProcess.mockBrokerSource)"))
struct TransactionMockTests {
    static func configuration(_ transactionalId: String) -> ProducerConfiguration {
        var configuration = ProducerConfiguration()
        configuration.transactionalId = transactionalId
        configuration.linger = .milliseconds(1)
        configuration.maxBlock = .seconds(20)
        return configuration
    }

    @Test func commitAbortAndOffsetsOnMock() async throws {
        let cluster = try await ServerProcess.mockCluster()
        defer { cluster.stop() }
        let bootstrap = cluster.bootstrap.split(separator: ",").map(String.init)
        let producer = try Producer(bootstrapServers: bootstrap, configuration: Self.configuration("mock-tx"))
        try await producer.initTransactions()

        try await producer.beginTransaction()
        var offsets: [Int64] = []
        for index in 0..<6 {
            let metadata = try await producer.send(
                topic: "txn-out", partition: Int32(index % 2), value: Array("committed-\(index)".utf8))
            offsets.append(metadata.offset)
        }
        let input = TopicPartition(topic: "txn-in", partition: 0)
        try await producer.sendOffsetsToTransaction([input: 42], groupMetadata: ConsumerGroupMetadata(groupId: "txn-g"))
        try await producer.commitTransaction()
        #expect(offsets.allSatisfy { $0 >= 0 })

        try await producer.beginTransaction()
        _ = try await producer.send(topic: "txn-out", partition: 0, value: Array("aborted".utf8))
        try await producer.abortTransaction()

        // An empty transaction commits without asking the coordinator anything.
        try await producer.beginTransaction()
        try await producer.commitTransaction()
        await #expect(
            throws: KafkaClientError.invalidTransactionState("no transaction is open: call beginTransaction first")
        ) {
            try await producer.commitTransaction()
        }
        await producer.close()
        // librdkafka 2.0.2's mock answers TxnOffsetCommit without storing the offsets, so only the
        // exchange is checked here, not OffsetFetch afterwards. Nor does it fence an older epoch,
        // so fencing is tested against skeind.
    }
}
