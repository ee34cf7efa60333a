import SkeinProtocol

/// EndTxn: commits or aborts the producer's open transaction. Answered once the outcome is durable and every
/// marker written, so a read_committed consumer that fetches after the answer sees the outcome.
enum EndTxnHandler {
    static func handle(_ request: EndTxnRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .write, .transactionalId, request.transactionalId) else {
            context.reply(EndTxnResponse(errorCode: .transactionalIdAuthorizationFailed))
            return
        }
        let coordinator = broker.transactions
        coordinator.queue.async {
            let result = coordinator.endTransaction(
                transactionalId: request.transactionalId, producerId: request.producerId,
                epoch: request.producerEpoch, commit: request.committed)
            switch result {
            case .success: context.reply(EndTxnResponse())
            case .failure(let error):
                if case .storage(let why) = error {
                    broker.logger.error("EndTxn for \(request.transactionalId.quotedForLog) failed: \(why)")
                }
                let fenced = EndTxnResponse.producerFencedError(version: context.version)
                context.reply(EndTxnResponse(errorCode: error.code(fencedCode: fenced)))
            }
        }
    }
}
