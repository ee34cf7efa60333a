import NIOCore
import NIOPosix
import SkeinClient
import SkeinProtocol
import Synchronization

/// A plain one-request-at-a-time Kafka client for the steps before and after a benchmark
/// (ApiVersions, Metadata, CreateTopics, ListOffsets), where convenience beats speed.
final class SetupClient: Sendable {
    static let clientId = "skein-bench"

    let channel: Channel
    private let nextCorrelationId = Atomic<Int32>(1)

    private init(channel: Channel) {
        self.channel = channel
    }

    static func connect(host: String, port: Int, group: EventLoopGroup, tls: BenchTLS? = nil) async throws
        -> SetupClient
    {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try tls.addHandler(to: channel, host: host) }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(ResponseMatchingHandler())
                }
            }
            .connect(host: host, port: port).get()
        return SetupClient(channel: channel)
    }

    func close() async {
        try? await channel.close()
    }

    /// Sends `request` and returns the decoded response body.
    func send<Request: KafkaRequestMessage>(_ request: Request, version: Int16) async throws -> KafkaResponse {
        let payload = try await exchange(request, version: version)
        let (header, response) = try ResponseFrame.decode(
            payload: payload.body, apiKey: Request.apiKey, version: version)
        guard header.correlationId == payload.correlationId else {
            throw BenchError("response correlation ID \(header.correlationId), expected \(payload.correlationId)")
        }
        return response
    }

    /// ApiVersions v3 as librdkafka sends it; a broker that does not know v3 answers in v0, which
    /// `decodeAllowingFallback` understands.
    func apiVersions() async throws -> ApiVersionsResponse {
        let version: Int16 = 3
        let request = ApiVersionsRequest(clientSoftwareName: "skein-bench", clientSoftwareVersion: "1")
        var payload = try await exchange(request, version: version)
        let header = try ResponseHeader.decode(from: &payload.body, headerVersion: 0)
        guard header.correlationId == payload.correlationId else {
            throw BenchError("response correlation ID \(header.correlationId), expected \(payload.correlationId)")
        }
        return try ApiVersionsResponse.decodeAllowingFallback(from: payload.body, version: version)
    }

    private func exchange<Request: KafkaRequestMessage>(_ request: Request, version: Int16) async throws
        -> (correlationId: Int32, body: ByteBuffer)
    {
        let correlationId = nextCorrelationId.add(1, ordering: .relaxed).oldValue
        var frame = channel.allocator.buffer(capacity: 256)
        try RequestFrame.encode(
            request, version: version, correlationId: correlationId, clientId: Self.clientId, into: &frame)
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        channel.writeAndFlush(PendingExchange(frame: frame, response: promise), promise: nil)
        let body = try await promise.futureResult.get()
        return (correlationId, body)
    }
}

struct PendingExchange: Sendable {
    var frame: ByteBuffer
    var response: EventLoopPromise<ByteBuffer>
}

/// Pairs responses with requests in order, which Kafka guarantees per connection.
final class ResponseMatchingHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = PendingExchange
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<EventLoopPromise<ByteBuffer>>()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        waiting.append(exchange.response)
        context.write(wrapOutboundOut(exchange.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard let promise = waiting.popFirst() else {
            context.fireErrorCaught(BenchError("unsolicited response from the broker"))
            return
        }
        promise.succeed(payload)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(BenchError("connection closed by the broker"))
        context.fireChannelInactive()
    }

    private func failAll(_ error: Error) {
        while let promise = waiting.popFirst() { promise.fail(error) }
    }
}

/// The versions this run will speak, chosen from the broker's ApiVersions answer.
struct NegotiatedVersions: Sendable {
    private let ranges: [Int16: ClosedRange<Int16>]

    init(_ response: ApiVersionsResponse) throws {
        guard response.errorCode == .noError else {
            throw BenchError("ApiVersions failed: \(response.errorCode)")
        }
        var ranges: [Int16: ClosedRange<Int16>] = [:]
        for entry in response.apiKeys where entry.minVersion <= entry.maxVersion {
            ranges[entry.apiKey] = entry.minVersion...entry.maxVersion
        }
        self.ranges = ranges
    }

    /// The highest version both sides speak, but not below `minimum` (what the benchmark needs,
    /// e.g. Produce v3 for RecordBatch v2) and not above `preferred`.
    func version(of api: ApiKey, minimum: Int16? = nil, preferred: Int16? = nil) throws -> Int16 {
        guard let broker = ranges[api.rawValue] else {
            throw BenchError("the broker does not support \(api.description)")
        }
        let ours = api.supportedVersions
        let low = max(broker.lowerBound, ours.lowerBound, minimum ?? Int16.min)
        let high = min(broker.upperBound, ours.upperBound, preferred ?? Int16.max)
        guard low <= high else {
            throw BenchError(
                "no common \(api.description) version: broker \(broker.lowerBound)–\(broker.upperBound), "
                    + "we need \(low)–\(min(ours.upperBound, preferred ?? Int16.max))")
        }
        return high
    }
}

/// Host and port from "host:port", "[v6]:port" or a bare host (port 9092).
public func parseHostPort(_ text: String, defaultPort: Int = 9092) throws -> (host: String, port: Int) {
    if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
        let host = String(text[text.index(after: text.startIndex)..<close])
        let rest = text[text.index(after: close)...]
        guard !rest.isEmpty else { return (host, defaultPort) }
        guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else {
            throw BenchError("invalid address '\(text)'")
        }
        return (host, port)
    }
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    switch parts.count {
    case 1 where !text.isEmpty:
        return (text, defaultPort)
    case 2 where !parts[0].isEmpty:
        guard let port = Int(parts[1]), (1...65535).contains(port) else {
            throw BenchError("invalid port in '\(text)'")
        }
        return (String(parts[0]), port)
    default:
        throw BenchError("invalid address '\(text)': use host:port")
    }
}
