import NIOCore
import SkeinProtocol

extension RequestContext {
    /// The quota user and client id of this request's connection.
    var quotaUser: String { QuotaEnforcer.user(of: connection.session.principal) }
    var quotaClientId: String { header.clientId ?? "" }

    /// Like `reply`, then mutes the connection for `throttleMs` (KIP-219): the response is not delayed,
    /// the client's next requests are.
    func reply<Response: KafkaResponseMessage>(_ response: Response, throttleMs: Int32) {
        guard throttleMs > 0 else {
            reply(response)
            return
        }
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        do {
            try ResponseFrame.encode(response, version: version, correlationId: header.correlationId, into: &buffer)
            if ResponseErrors.containsError(response) { outcome.markFailed() }
            respond(.parts([.bytes(buffer), .throttle(milliseconds: throttleMs)]))
        } catch {
            respond(.closeConnection(reason: "cannot encode \(Response.apiKey) v\(version) response: \(error)"))
        }
    }
}
