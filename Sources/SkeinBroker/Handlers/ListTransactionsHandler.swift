import SkeinProtocol

/// ListTransactions: every transactional id, filtered by state, producer id and (v1) how long the
/// transaction has been open, for operators hunting a transaction that holds a partition's LSO back.
enum ListTransactionsHandler {
    static func handle(_ request: ListTransactionsRequest, context: RequestContext, broker: Broker) {
        let states = Set(request.stateFilters)
        let producers = Set(request.producerIdFilters)
        let now = nowMs()
        let listed = broker.transactions.all
            .filter { states.isEmpty || states.contains($0.state.kafkaName) }
            .filter { producers.isEmpty || producers.contains($0.producerId) }
            .filter {
                request.durationFilter < 0 || ($0.startedMs >= 0 && now - $0.startedMs >= request.durationFilter)
            }
            .filter { context.authorized(broker, .describe, .transactionalId, $0.transactionalId, countDenial: false) }
            .sorted { $0.transactionalId < $1.transactionalId }
            .map {
                ListTransactionsResponse.TransactionState(
                    transactionalId: $0.transactionalId, producerId: $0.producerId,
                    transactionState: $0.state.kafkaName)
            }
        let known: Set<String> = [
            "Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead",
            "PrepareEpochFence",
        ]
        context.reply(
            ListTransactionsResponse(
                unknownStateFilters: request.stateFilters.filter { !known.contains($0) }, transactionStates: listed))
    }
}
