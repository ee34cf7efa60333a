import Logging
import NIOCore

/// Logs the errors NIO reports on a listening channel: a failed accept (out of descriptors, say), and a
/// connection whose socket options or pipeline could not be set up. NIO closes such a connection and tells
/// only the listening channel's pipeline, so without this handler a client sees a bare disconnect and the
/// server's log is silent, which is how a `SO_DEBUG` refused to unprivileged users went unnoticed.
///
/// Repeats of one error are folded: the first is logged at once, later ones at most every ten seconds with
/// the count of those left out, so an accept loop failing on every wake-up cannot flood the log.
public final class AcceptErrorLogger: ChannelInboundHandler {
    public typealias InboundIn = NIOAny

    private let logger: Logger
    private let listener: String
    private var lastLogged: [String: NIODeadline] = [:]
    private var suppressed: [String: Int] = [:]
    static let interval = TimeAmount.seconds(10)

    init(logger: Logger, listener: String) {
        self.logger = logger
        self.listener = listener
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let key = String(describing: error)
        let now = NIODeadline.now()
        if let last = lastLogged[key], now - last < Self.interval {
            suppressed[key, default: 0] += 1
            return
        }
        let more = suppressed.removeValue(forKey: key).map { " (\($0) more since the last report)" } ?? ""
        lastLogged[key] = now
        logger.error("\(listener): could not accept or set up a connection: \(key)\(more)")
    }

    /// Appends the logger behind NIO's accept handler (errors travel towards the tail), once `channel` is bound.
    public static func install(on channel: any Channel, logger: Logger, listener: String) async throws {
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(AcceptErrorLogger(logger: logger, listener: listener))
        }.get()
    }
}
