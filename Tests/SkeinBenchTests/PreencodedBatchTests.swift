import NIOCore
import SkeinCompression
import SkeinProtocol
import Testing

@testable import SkeinBench

@Suite struct PreencodedBatchTests {
    @Test func batchesParseBackWithTheirRecordsAndCRC() throws {
        let templates = try BatchTemplates(
            recordSize: 100, recordsPerBatch: 1000, variants: 3, baseTimestamp: 1_700_000_000_000)
        #expect(templates.batches.count == 3)
        for bytes in templates.batches {
            let batches = try RecordBatch.readAll(from: bytes)
            #expect(batches.count == 1)
            let batch = try #require(batches.first)
            try batch.verifyCRC()
            #expect(batch.header.recordsCount == 1000)
            #expect(batch.header.lastOffsetDelta == 999)
            #expect(batch.header.baseOffset == 0)
            #expect(batch.header.compression == CompressionCodec.none)
            #expect(batch.header.baseTimestamp == 1_700_000_000_000)
            let records = try batch.records()
            #expect(records.count == 1000)
            #expect(records.map(\.offsetDelta) == Array(0..<1000))
            #expect(records.allSatisfy { $0.value?.readableBytes == 100 && $0.key == nil })
        }
        #expect(templates.batchBytes == templates.batches[0].readableBytes)
        // Variants differ, so a broker never sees one batch's bytes over and over.
        #expect(Set(templates.batches.map { RecordBatch.crc32c($0) }).count == 3)
    }

    @Test func oddSizesAndEmptyValues() throws {
        for recordSize in [0, 1, 7, 9, 1023] {
            let templates = try BatchTemplates(
                recordSize: recordSize, recordsPerBatch: 3, variants: 1, baseTimestamp: 0)
            let batch = try #require(try RecordBatch.readAll(from: templates.batches[0]).first)
            try batch.verifyCRC()
            #expect(try batch.records().map { $0.value?.readableBytes } == [recordSize, recordSize, recordSize])
        }
    }

    /// A frame is a 12-byte head written per send plus a shared tail; together with any
    /// correlation ID they must decode as the Produce request the codec would have written.
    @Test(arguments: [Int16(3), 7, 9])
    func produceFramesDecodeAsRequests(version: Int16) throws {
        let templates = try BatchTemplates(recordSize: 10, recordsPerBatch: 5, variants: 2, baseTimestamp: 42)
        let frames = try ProduceFrames(
            templates: templates, topic: "bench", partitions: [0, 3], acks: -1, timeoutMs: 1234, version: version,
            clientId: "skein-bench")
        #expect(frames.frames.count == 2)
        #expect(frames.frames.allSatisfy { $0.count == 2 })
        for (row, partition) in zip(frames.frames, [Int32(0), 3]) {
            for (variant, frame) in row.enumerated() {
                var wire = ProduceFrames.head(of: frame, correlationId: 77_001, allocator: ByteBufferAllocator())
                wire.writeImmutableBuffer(frame.tail)
                let payload = try #require(try FrameLength.readFrame(from: &wire))
                #expect(wire.readableBytes == 0)
                let decoded = try RequestFrame.decode(payload: payload)
                #expect(decoded.header.correlationId == 77_001)
                #expect(decoded.header.apiVersion == version)
                #expect(decoded.header.clientId == "skein-bench")
                guard case .produce(let request) = decoded.request else {
                    Issue.record("not a Produce request")
                    continue
                }
                #expect(request.acks == -1)
                #expect(request.timeoutMs == 1234)
                #expect(request.topics.map(\.name) == ["bench"])
                let sent = try #require(request.topics.first?.partitions.first)
                #expect(sent.index == partition)
                #expect(sent.records == templates.batches[variant])
                #expect(frame.partition == partition)
                #expect(frame.records == 5)
                #expect(frame.batchBytes == templates.batches[variant].readableBytes)
            }
        }
    }
}
