import Foundation
import Logging
import NIOCore
import NIOPosix
import SkeinMetricsHTTP
import Testing

/// A connection that cannot be set up must leave an error in the log, not only a disconnect at the client.
@Suite struct AcceptErrorLoggerTests {
    struct RefusedPipeline: Error, CustomStringConvertible {
        var description: String { "pipeline refused for the test" }
    }

    @Test func aFailedConnectionSetupIsLoggedAndRepeatsAreFolded() async throws {
        let captured = CapturedLog()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in channel.eventLoop.makeFailedFuture(RefusedPipeline()) }
            .bind(host: "127.0.0.1", port: 0).get()
        try await AcceptErrorLogger.install(on: server, logger: captured.logger(), listener: "test listener")
        let port = try #require(server.localAddress?.port)

        for _ in 0..<3 {
            let client = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
            try await client.closeFuture.get()  // the server closes it: its pipeline could not be set up
        }
        let lines = captured.lines.filter { $0.contains("test listener: could not accept or set up a connection") }
        #expect(lines.count == 1, "\(captured.all)")
        #expect(
            lines.first?.contains("error") == true && lines.first?.contains("pipeline refused for the test") == true)
        try await server.close()
        try await group.shutdownGracefully()
    }
}
