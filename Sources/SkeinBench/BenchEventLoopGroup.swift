import NIOCore
import NIOPosix

/// Runs one benchmark phase on its own event loop group, shutting the group down whether the phase
/// succeeds or throws, so a failed run never leaves threads behind.
func withBenchEventLoopGroup<Result>(
    connections: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> Result
) async throws -> Result {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, min(connections, System.coreCount)))
    do {
        let result = try await body(group)
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}
