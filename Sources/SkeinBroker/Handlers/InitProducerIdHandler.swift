import SkeinProtocol

/// InitProducerId: issues producer ids. Without a transactional id, an idempotent producer gets a fresh id,
/// or its epoch bumped when it presents its current id and epoch (KIP-360, v3+), which resets its sequences.
/// With one, the transaction coordinator answers: a stable id per transactional id and a bumped epoch that
/// fences every older incarnation.
enum InitProducerIdHandler {
    static func handle(_ request: InitProducerIdRequest, context: RequestContext, broker: Broker) {
        if let transactionalId = request.transactionalId {
            guard !transactionalId.isEmpty else {
                context.reply(InitProducerIdResponse(errorCode: .invalidRequest))
                return
            }
            guard context.authorized(broker, .write, .transactionalId, transactionalId) else {
                context.reply(InitProducerIdResponse(errorCode: .transactionalIdAuthorizationFailed))
                return
            }
            let coordinator = broker.transactions
            coordinator.queue.async {
                let result = coordinator.initProducerId(
                    transactionalId: transactionalId, timeoutMs: request.transactionTimeoutMs,
                    producerId: request.producerId, producerEpoch: request.producerEpoch)
                switch result {
                case .success(let granted):
                    context.reply(InitProducerIdResponse(producerId: granted.producerId, producerEpoch: granted.epoch))
                case .failure(let error):
                    if case .storage(let why) = error {
                        broker.logger.error("InitProducerId for \(transactionalId.quotedForLog) failed: \(why)")
                    }
                    let fenced = InitProducerIdResponse.producerFencedError(version: context.version)
                    context.reply(InitProducerIdResponse(errorCode: error.code(fencedCode: fenced)))
                }
            }
            return
        }
        // An idempotent producer needs IDEMPOTENT_WRITE on the cluster, or since KIP-679 WRITE on some topic.
        guard context.authorizedOnCluster(broker, .idempotentWrite) || context.authorizedOnAny(broker, .write, .topic)
        else {
            context.reply(InitProducerIdResponse(errorCode: .clusterAuthorizationFailed))
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
