import SkeinProtocol

/// AddOffsetsToTxn: the group's offsets (sent next with TxnOffsetCommit) commit or abort with the
/// transaction. Kafka adds the group's `__consumer_offsets` partition to the transaction; here the
/// coordinator keeps the pending offsets itself.
enum AddOffsetsToTxnHandler {
    static func handle(_ request: AddOffsetsToTxnRequest, context: RequestContext, broker: Broker) {
        guard context.authorized(broker, .write, .transactionalId, request.transactionalId) else {
            context.reply(AddOffsetsToTxnResponse(errorCode: .transactionalIdAuthorizationFailed))
            return
        }
        guard context.authorized(broker, .read, .group, request.groupId) else {
            context.reply(AddOffsetsToTxnResponse(errorCode: .groupAuthorizationFailed))
            return
        }
        let coordinator = broker.transactions
        coordinator.queue.async {
            let result = coordinator.addOffsets(
                transactionalId: request.transactionalId, producerId: request.producerId,
                epoch: request.producerEpoch, groupId: request.groupId)
            switch result {
            case .success: context.reply(AddOffsetsToTxnResponse())
            case .failure(let error):
                let fenced = AddOffsetsToTxnResponse.producerFencedError(version: context.version)
                context.reply(AddOffsetsToTxnResponse(errorCode: error.code(fencedCode: fenced)))
            }
        }
    }
}
