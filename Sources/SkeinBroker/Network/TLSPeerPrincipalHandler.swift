import NIOCore
import NIOSSL
import NIOTLS
import SkeinTLS

/// The principal a client certificate names, sent down the pipeline when the TLS handshake completes, so
/// the connection's session acts as it before the first request is read (NIOSSL hands on no application
/// data before the handshake is done).
struct TLSPeerPrincipal {
    var name: String

    /// A certificate subject that no `ssl.principal.mapping.rules` rule matches: refused, as in Kafka.
    struct Unmapped: Error {}
}

/// Reads the verified peer certificate after the handshake and maps its subject to a principal name.
/// Without a client certificate (`ssl.client.auth=none`, or `requested` and none sent) the connection
/// stays `User:ANONYMOUS`.
final class TLSPeerPrincipalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let mapping: PrincipalMapping

    init(mapping: PrincipalMapping) {
        self.mapping = mapping
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
        if let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate() {
            guard let name = mapping.name(for: certificate.subjectDistinguishedName) else {
                context.fireErrorCaught(TLSPeerPrincipal.Unmapped())
                return
            }
            context.fireUserInboundEventTriggered(TLSPeerPrincipal(name: name))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
