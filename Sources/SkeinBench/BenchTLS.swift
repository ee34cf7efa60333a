import NIOCore
import NIOSSL
import SkeinClient

/// The TLS side of a benchmark's connections: one context for the run (made from `-X` settings), a
/// client handler per connection.
struct BenchTLS: Sendable {
    let context: NIOSSLContext

    init?(_ security: ClientSecurity) throws {
        guard security.securityProtocol.usesTLS else { return nil }
        context = try security.makeTLSContext()
    }

    func addHandler(to channel: any Channel, host: String) throws {
        let name = (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
    }
}
