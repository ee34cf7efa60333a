import SkeinProtocol

/// InitProducerId: issues producer ids for idempotent producers. A producer that presents its current
/// id and epoch (KIP-360, v3+) gets the epoch bumped, which resets its sequences on every partition.
enum InitProducerIdHandler {
    static func handle(_ request: InitProducerIdRequest, context: RequestContext, broker: Broker) {
        guard request.transactionalId == nil else {
            // Transactions need a transaction coordinator and markers this broker does not have.
            context.reply(InitProducerIdResponse(errorCode: .transactionalIdAuthorizationFailed))
            return
        }
        do {
            if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
                context.reply(
                    InitProducerIdResponse(producerId: request.producerId, producerEpoch: request.producerEpoch + 1))
            } else {
                context.reply(
                    InitProducerIdResponse(producerId: try broker.producers.allocateProducerId(), producerEpoch: 0))
            }
        } catch {
            broker.logger.error("allocating a producer id failed: \(error)")
            context.reply(InitProducerIdResponse(errorCode: .kafkaStorageError))
        }
    }
}
