import Foundation
import Logging
import SkeinMetrics
import Testing

@testable import SkeinAgent

/// The agent's own listener, on a free loopback port, read with plain HTTP/1.1 over a socket.
@Suite struct AgentHTTPServiceTests {
    /// One request on a fresh connection (`Connection: close`), the whole response as text.
    static func get(_ path: String, port: Int, method: String = "GET") throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        struct Refused: Error {}
        guard connected == 0 else { throw Refused() }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        try #require(request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) } == request.count)
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        for _ in 0..<10_000 {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test func servesTheRegistryOnMetricsAndHealth() async throws {
        let registry = MetricsRegistry()
        registry.counterFamily("skein_agent_log_records_total", help: "Records emitted.", labelNames: ["source"])
            .labels("files.nginx").increment(by: 7)
        let service = try await AgentHTTPService.start(
            registry: registry, address: .init(host: "127.0.0.1", port: 0), logger: Logger(label: "test"))
        let port = try #require(service.localAddress?.port)
        #expect(service.localAddressText == "127.0.0.1:\(port)")

        let metrics = try Self.get("/metrics", port: port)
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK"))
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(metrics.contains("skein_agent_log_records_total{source=\"files.nginx\"} 7"))
        #expect(try Self.get("/health", port: port).contains("200 OK"))
        #expect(try Self.get("/nope", port: port).hasPrefix("HTTP/1.1 404"))
        #expect(try Self.get("/metrics", port: port, method: "POST").hasPrefix("HTTP/1.1 405"))
        await service.close()
        #expect(throws: (any Error).self) { try Self.get("/metrics", port: port) }
    }

    @Test func healthFollowsReadiness() async throws {
        let service = try await AgentHTTPService.start(
            registry: MetricsRegistry(), address: .init(host: "127.0.0.1", port: 0), logger: Logger(label: "test"),
            isReady: { false })
        let port = try #require(service.localAddress?.port)
        #expect(try Self.get("/health", port: port).hasPrefix("HTTP/1.1 503"))
        await service.close()
    }

    @Test func aTakenPortIsAStartupErrorNamingTheAddress() async throws {
        let first = try await AgentHTTPService.start(
            registry: MetricsRegistry(), address: .init(host: "127.0.0.1", port: 0), logger: Logger(label: "test"))
        let port = try #require(first.localAddress?.port)
        await #expect {
            _ = try await AgentHTTPService.start(
                registry: MetricsRegistry(), address: .init(host: "127.0.0.1", port: port),
                logger: Logger(label: "test"))
        } throws: { error in
            "\(error)".contains("cannot serve metrics on 127.0.0.1:\(port)")
        }
        await first.close()
    }
}
