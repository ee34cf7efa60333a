import NIOCore
import SkeinProtocol

/// Request frames as the broker's router sees them: the size prefix, the header, and for every API and
/// version the broker serves, the body. Produce bodies go on to their record batches.
enum RequestTarget {
    /// Small, so a mutated size prefix is refused like an oversized frame rather than waited for.
    static let maximumFrameSize: Int32 = 1 << 20
    /// Frames per input; each costs a full decode.
    static let maximumFrames = 32

    static func check(_ input: UnsafeRawBufferPointer, _ violations: inout Violations) {
        var buffer = ByteBuffer(bytes: input)
        for _ in 0..<maximumFrames {
            let frame: ByteBuffer?
            do {
                frame = try FrameLength.readFrame(from: &buffer, maximum: maximumFrameSize)
            } catch {
                return  // the broker closes the connection
            }
            if let frame {
                checkPayload(frame, &violations)
                continue
            }
            // An incomplete last frame would wait for more bytes on a socket. Decoding what is there
            // anyway keeps mutations of the size prefix from hiding the rest of the input from the decoders.
            if buffer.readableBytes > 4 {
                checkPayload(
                    buffer.getSlice(at: buffer.readerIndex + 4, length: buffer.readableBytes - 4)!, &violations)
            }
            return
        }
    }

    /// One frame payload: header, body, and the round trips both must survive.
    static func checkPayload(_ payload: ByteBuffer, _ violations: inout Violations) {
        var buffer = payload
        let header: RequestHeader
        do { header = try RequestHeader.decode(from: &buffer) } catch { return }
        checkHeaderRoundTrip(header, &violations)
        // The router answers unknown keys and versions without decoding a body.
        guard let api = header.api, api.isSupported(header.apiVersion) else { return }
        let version = header.apiVersion
        let request: KafkaRequest
        do { request = try KafkaRequest.decode(apiKey: api, version: version, from: &buffer) } catch { return }
        violations.expect(request.apiKey == api, "\(api) v\(version) decoded as \(request.apiKey)")

        // What was decoded must encode (or be refused with an error) and decode back to the same value.
        // Strings with invalid UTF-8 decode with replacement characters, which may no longer fit their
        // length prefix: `unrepresentable` is the one refusal allowed.
        RequestTarget.checkRoundTrip(request, api: api, version: version, &violations)

        if case .produce(let produce) = request {
            for topic in produce.topics {
                for partition in topic.partitions {
                    guard let records = partition.records else { continue }
                    records.withUnsafeReadableBytes { RecordBatchTarget.checkRecordsField($0, &violations) }
                }
            }
        }
    }

    /// What was decoded must encode (or be refused with `unrepresentable`) and decode back to the same value,
    /// using every byte; shared by the targets that decode requests.
    static func checkRoundTrip(_ request: KafkaRequest, api: ApiKey, version: Int16, _ violations: inout Violations) {
        var encoded = ByteBufferAllocator().buffer(capacity: 256)
        do {
            try request.encode(into: &encoded, version: version)
        } catch {
            if case .unrepresentable = error { return }
            violations.fail("\(api) v\(version) decoded, but encoding it fails: \(error)")
            return
        }
        do {
            let again = try KafkaRequest.decode(apiKey: api, version: version, from: &encoded)
            violations.expect(again == request, "\(api) v\(version) changed in a round trip")
            violations.expect(encoded.readableBytes == 0, "\(api) v\(version) left \(encoded.readableBytes) bytes")
        } catch {
            violations.fail("\(api) v\(version) re-encoded, but that does not decode: \(error)")
        }
    }

    static func checkHeaderRoundTrip(_ header: RequestHeader, _ violations: inout Violations) {
        var encoded = ByteBufferAllocator().buffer(capacity: 64)
        do {
            try header.encode(into: &encoded)
        } catch {
            if case .unrepresentable = error { return }
            violations.fail("request header decoded, but encoding it fails: \(error)")
            return
        }
        do {
            let again = try RequestHeader.decode(from: &encoded)
            violations.expect(again == header, "request header changed in a round trip: \(header) \(again)")
            violations.expect(encoded.readableBytes == 0, "request header left \(encoded.readableBytes) bytes")
        } catch {
            violations.fail("request header re-encoded, but that does not decode: \(error)")
        }
    }
}
