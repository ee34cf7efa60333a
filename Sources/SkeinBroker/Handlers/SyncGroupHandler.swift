import SkeinProtocol

/// SyncGroup: the leader's call carries every member's assignment; the others wait for it.
enum SyncGroupHandler {
    static func handle(_ request: SyncGroupRequest, context: RequestContext, broker: Broker) {
        broker.groups.sync(request) { response in context.reply(response) }
    }
}
