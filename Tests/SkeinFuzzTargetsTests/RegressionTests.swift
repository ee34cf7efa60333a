import Foundation
import NIOCore
import SkeinCompression
import SkeinFuzzTargets
import SkeinProtocol
import Testing

/// Inputs the issue named as hostile; each runs through the same entry function libFuzzer calls (see Fuzz/).
/// The bytes are the seeds committed in Fuzz/Corpus.
@Suite struct FuzzRegressionTests {
    /// Produce v7, one uncompressed batch with a valid CRC whose second record claims 200 bytes it does not have.
    static let produceWithShortRecord = corpusInput(.request, "issue-produce-v7-short-record")
    /// CreateTopics v4 asking for 100,000 partitions.
    static let createHundredThousandPartitions = corpusInput(.request, "issue-createtopics-100000-partitions")
    /// API key 99 (unknown) from a client whose ID holds a newline and a forged log line.
    static let unknownApiWithNewlineInClientId = corpusInput(.request, "issue-unknown-api-newline-client-id")

    @Test func produceBatchWithARecordLongerThanTheBatch() throws {
        #expect(FuzzTarget.request.check(Self.produceWithShortRecord) == [])
        let frame = try RequestFrame.decode(payload: payload(of: Self.produceWithShortRecord))
        guard case .produce(let produce) = frame.request else {
            Issue.record("decoded as \(frame.request.apiKey)")
            return
        }
        #expect(frame.header.apiVersion == 7)
        let records = try #require(produce.topics.first?.partitions.first?.records)
        let batches = try RecordBatch.readAll(from: records)
        #expect(batches.count == 1)
        let batch = try #require(batches.first)
        try batch.verifyCRC()
        #expect(batch.header.recordsCount == 3)
        #expect(throws: ProtocolError.self) { try batch.records() }
        let payload = Array(batch.recordsPayload.readableBytesView)
        #expect(throws: ProtocolError.self) {
            try payload.withUnsafeBytes { try RecordPayloadReader.decode($0, count: 3) }
        }
        // The broker's validator blames the second record.
        let bytes = Array(batch.bytes.readableBytesView)
        let refusal = bytes.withUnsafeBytes { raw -> BatchValidationError? in
            do throws(BatchValidationError) {
                _ = try BatchValidator().validate(raw)
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal?.kind == .invalidRecord)
        #expect(refusal?.recordIndex == 1)
        // The batch alone, through the batch target too.
        #expect(FuzzTarget.recordBatch.check(Array(batch.bytes.readableBytesView)) == [])
    }

    @Test func createTopicsAskingForAHundredThousandPartitions() throws {
        #expect(FuzzTarget.request.check(Self.createHundredThousandPartitions) == [])
        let frame = try RequestFrame.decode(payload: payload(of: Self.createHundredThousandPartitions))
        guard case .createTopics(let create) = frame.request else {
            Issue.record("decoded as \(frame.request.apiKey)")
            return
        }
        #expect(create.topics.map(\.name) == ["big"])
        #expect(create.topics.first?.numPartitions == 100_000)
    }

    @Test func unknownApiKeyWithANewlineInTheClientId() throws {
        #expect(FuzzTarget.request.check(Self.unknownApiWithNewlineInClientId) == [])
        var buffer = payload(of: Self.unknownApiWithNewlineInClientId)
        let header = try RequestHeader.decode(from: &buffer)
        #expect(header.apiKey == 99)
        #expect(header.api == nil)
        #expect(header.clientId?.hasPrefix("x\n2026-12-04T00:00:00") == true)
        #expect(throws: ProtocolError.unknownApiKey(99)) {
            try RequestFrame.decode(payload: payload(of: Self.unknownApiWithNewlineInClientId))
        }
    }
}

/// Found by fuzzing: a snappy records section that is one raw block stating length 0 (the byte 00), decompressed
/// into a reused buffer that has no storage yet (as each event loop's is at first, and again after a large
/// batch), trapped in SkeinCompression; one 62-byte Produce batch stopped the broker.
@Suite struct FuzzFindingTests {
    static let snappyEmptyBlockBatch = corpusInput(.recordBatch, "finding-snappy-empty-block-fresh-buffer")

    @Test func snappyEmptyBlockIntoAFreshReusedBuffer() throws {
        #expect(corpusInput(.decompress, "finding-snappy-empty-block-fresh-buffer") == [1, 0])
        #expect(FuzzTarget.decompress.check([1, 0]) == [])
        let output = try [UInt8(0)].withUnsafeBytes { raw throws(CompressionError) in
            try decompress(raw, codec: .snappy, maxOutputBytes: 16, reusing: DecompressionBuffer()) { Array($0) }
        }
        #expect(output == [])
    }

    @Test func producedSnappyBatchWithAnEmptyBlockIsRefusedNotFatal() {
        #expect(FuzzTarget.recordBatch.check(Self.snappyEmptyBlockBatch) == [])
        let refusal = Self.snappyEmptyBlockBatch.withUnsafeBytes { raw -> BatchValidationError? in
            do throws(BatchValidationError) {
                _ = try BatchValidator(reusing: DecompressionBuffer()).validate(raw)
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal != nil, "the validator accepted one record in zero bytes")
    }
}

/// Every committed seed and finding in Fuzz/Corpus goes through its target on every test run, so a fix
/// that regresses shows up without a fuzzing build.
@Suite struct FuzzCorpusTests {
    @Test(arguments: FuzzTarget.allCases)
    func everySeedKeepsEveryInvariant(_ target: FuzzTarget) throws {
        let directory = repositoryRoot + "/Fuzz/Corpus/" + target.rawValue
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.count >= 3, "the \(target.rawValue) corpus has only \(names.count) seeds")
        for name in names {
            let input = try #require(FileManager.default.contents(atPath: directory + "/" + name))
            #expect(target.check([UInt8](input)) == [], "\(target.rawValue)/\(name)")
        }
    }
}

/// The ACL seeds must reach the decoders' far ends, not stop at a refusal: each decodes whole, in the
/// API and version its selector byte names.
@Suite struct AclRequestSeedTests {
    @Test func everyAclSeedDecodesCompletely() throws {
        let directory = repositoryRoot + "/Fuzz/Corpus/" + FuzzTarget.aclRequest.rawValue
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(names.count == 12)
        let apis: [ApiKey] = [.createAcls, .describeAcls, .deleteAcls]
        for name in names {
            let input = corpusInput(.aclRequest, name)
            let api = apis[Int(input[0]) % 3]
            let version = Int16(Int(input[0]) / 3 % 4)
            var body = ByteBuffer(bytes: input.dropFirst())
            let request = try KafkaRequest.decode(apiKey: api, version: version, from: &body)
            #expect(request.apiKey == api, "\(name)")
            #expect(body.readableBytes == 0, "\(name)")
            #expect(name.hasPrefix(api.description.lowercased()) && name.hasSuffix("-v\(version)"), "\(name)")
        }
    }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A committed input from Fuzz/Corpus: the regression tests feed the same bytes the fuzzers start from.
func corpusInput(_ target: FuzzTarget, _ name: String) -> [UInt8] {
    let path = repositoryRoot + "/Fuzz/Corpus/" + target.rawValue + "/" + name
    guard let data = FileManager.default.contents(atPath: path) else { fatalError("missing \(path)") }
    return [UInt8](data)
}

/// The frame payload after the 4-byte size prefix.
func payload(of frame: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: frame.dropFirst(4))
}
