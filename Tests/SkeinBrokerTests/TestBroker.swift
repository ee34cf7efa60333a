import Foundation
import NIOCore
import NIOPosix
import SkeinProtocol

@testable import SkeinBroker

/// A real broker on a free loopback port with its own temporary data directory, in this process.
final class TestBroker: @unchecked Sendable {
    let directory: String
    let broker: Broker
    let server: KafkaServer
    let group: MultiThreadedEventLoopGroup
    var port: Int { server.localAddress!.port! }

    /// `directory` reopens the data of an earlier broker (a restart); nil starts empty.
    init(settings: [String: String] = [:], directory existing: String? = nil) async throws {
        directory = existing ?? NSTemporaryDirectory() + "skein-broker-test-" + UUID().uuidString
        var config = BrokerConfig()
        config.dataDirectory = directory
        config.listenPort = 0
        for (name, value) in settings { try config.apply(name, value) }
        broker = try Broker(config: config)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        server = try await KafkaServer.start(broker: broker, group: group, host: "127.0.0.1", port: 0)
        broker.advertisedPort = server.localAddress!.port!
    }

    func stop(keepingData: Bool = false) async throws {
        try await server.close()
        broker.shutdown()
        try await group.shutdownGracefully()
        if !keepingData { try? FileManager.default.removeItem(atPath: directory) }
    }

    func connect(from source: String? = nil) throws -> RawKafkaConnection {
        try RawKafkaConnection(port: port, from: source)
    }
}

/// A blocking socket that speaks raw frames, so tests can send exactly the bytes they mean, malformed
/// ones included, and read exactly what comes back.
final class RawKafkaConnection: @unchecked Sendable {
    private let socket: Int32
    var descriptor: Int32 { socket }
    private var correlationId: Int32 = 0

    /// `from`: a loopback source address (127.0.0.2, ...), for tests of per-address limits.
    init(port: Int, from source: String? = nil) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(socket) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            sent += n
        }
    }

    func send(_ buffer: ByteBuffer) { send(Array(buffer.readableBytesView)) }

    /// Reads one frame's payload, or nil if the broker closed the connection (or sent nothing for 10 s).
    func receiveFrame() -> ByteBuffer? {
        guard let sizeBytes = receive(4) else { return nil }
        let size = Int(sizeBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard let payload = receive(size) else { return nil }
        var buffer = ByteBuffer()
        buffer.writeBytes(payload)
        return buffer
    }

    private func receive(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + got, count - got, 0) }
            if n <= 0 { return nil }
            got += n
        }
        return bytes
    }

    /// Whether the broker closed the connection: a read returns end-of-file.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return recv(socket, &byte, 1, 0) == 0
    }

    /// Encodes a request frame without sending it, so tests can pipeline several in one write.
    func frame<Request: KafkaRequestMessage>(_ request: Request, version: Int16) throws -> ByteBuffer {
        correlationId += 1
        var frame = ByteBuffer()
        try RequestFrame.encode(
            request, version: version, correlationId: correlationId, clientId: "skein-test", into: &frame)
        return frame
    }

    /// Reads the next response, which the caller knows is for `Request` at `version`.
    func receive<Request: KafkaRequestMessage>(_: Request.Type, version: Int16) throws -> Request.Response {
        guard let payload = receiveFrame() else { throw POSIXError(.ECONNRESET) }
        let (_, response) = try ResponseFrame.decode(payload: payload, apiKey: Request.apiKey, version: version)
        guard let typed = response.message as? Request.Response else { throw POSIXError(.EPROTO) }
        return typed
    }

    /// Sends `request` and decodes the response to it.
    func roundTrip<Request: KafkaRequestMessage>(_ request: Request, version: Int16) throws -> Request.Response {
        correlationId += 1
        var frame = ByteBuffer()
        try RequestFrame.encode(
            request, version: version, correlationId: correlationId, clientId: "skein-test", into: &frame)
        send(frame)
        guard let payload = receiveFrame() else { throw POSIXError(.ECONNRESET) }
        let (header, response) = try ResponseFrame.decode(payload: payload, apiKey: Request.apiKey, version: version)
        guard header.correlationId == correlationId else { throw POSIXError(.EPROTO) }
        guard let typed = response.message as? Request.Response else { throw POSIXError(.EPROTO) }
        return typed
    }
}
