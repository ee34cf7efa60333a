import NIOCore
import SkeinCompression
import SkeinProtocol

// Turning a batch into the bytes of a Produce request. Kept apart from Producer.swift so the actor's file
// stays about accepting, batching and sending.
extension Producer {
    /// Nonisolated and async, so encoding and compression run on the global executor while the actor
    /// goes on accepting records (the two overlap on a multi-core machine, as librdkafka's threads do).
    nonisolated static func produceRequest(
        for batch: ProducerBatch, identity: ProducerIdentity, configuration: ProducerConfiguration
    ) async throws -> ProduceRequest {
        let bytes = try encodeBatch(batch, identity: identity, configuration: configuration)
        return ProduceRequest(
            transactionalId: configuration.transactionalId, acks: configuration.acks.rawValue,
            timeoutMs: configuration.brokerTimeoutMs,
            topics: [
                .init(
                    name: batch.topicPartition.topic,
                    partitions: [.init(index: batch.topicPartition.partition, records: bytes)])
            ])
    }

    nonisolated static func encodeBatch(
        _ batch: ProducerBatch, identity: ProducerIdentity, configuration: ProducerConfiguration
    ) throws -> ByteBuffer {
        var baseTimestamp = Int64.max
        var maxTimestamp = Int64.min
        let records = batch.records
        for index in records.indices {
            baseTimestamp = min(baseTimestamp, records[index].timestamp)
            maxTimestamp = max(maxTimestamp, records[index].timestamp)
        }
        for run in batch.encoded {
            for timestamp in run.entries.lazy.map(\.timestamp) {
                baseTimestamp = min(baseTimestamp, timestamp)
                maxTimestamp = max(maxTimestamp, timestamp)
            }
        }
        var writer = RecordPayloadWriter(reservingCapacity: batch.estimatedBytes)
        for run in batch.encoded {
            writer.append(run, firstOffsetDelta: Int32(writer.count), baseTimestamp: baseTimestamp)
        }
        for index in records.indices {
            // Headers written in place: mapping them to byte arrays first cost an array per header per record.
            // Read by index, in place: `for header in headers` copied (retained) each header twice.
            let headers = records[index].headers
            var headersSize = 0
            for header in headers.indices {
                headersSize += RecordPayloadWriter.headerSize(
                    keyBytes: headers[header].key.utf8.count, value: headers[header].value)
            }
            writer.appendRecord(
                timestampDelta: records[index].timestamp &- baseTimestamp, offsetDelta: Int32(index),
                key: records[index].key, value: records[index].value, headerCount: headers.count,
                headersSize: headersSize)
            for header in headers.indices {
                writer.appendHeader(key: headers[header].key, value: headers[header].value)
            }
        }
        let codec = configuration.compression
        var payload = writer.bytes
        if codec != .none {
            payload = try compress(payload, codec: codec, level: configuration.compressionLevel)
        }
        var attributes = Int16(codec.rawValue)
        if configuration.transactionalId != nil { attributes |= RecordBatchHeader.transactionalFlag }
        let header = RecordBatchHeader(
            attributes: attributes, lastOffsetDelta: Int32(writer.count - 1),
            baseTimestamp: baseTimestamp, maxTimestamp: maxTimestamp,
            producerId: identity.producerId, producerEpoch: identity.producerEpoch,
            baseSequence: batch.baseSequence ?? -1, recordsCount: Int32(writer.count))
        return try RecordBatch.encode(header: header, recordsPayload: payload)
    }
}
