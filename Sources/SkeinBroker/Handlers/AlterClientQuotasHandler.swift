import SkeinProtocol

/// AlterClientQuotas (KIP-546): sets and removes quota values of `user` and `client-id` entities and their
/// defaults. Each entry succeeds or fails on its own; the valid ones are saved together, durably, before
/// the answer, and apply to the next request of every connection.
enum AlterClientQuotasHandler {
    static func handle(_ request: AlterClientQuotasRequest, context: RequestContext, broker: Broker) {
        // ALTER_CONFIGS on the cluster, as in Kafka: every entry is refused without it.
        guard context.authorizedOnCluster(broker, .alterConfigs) else {
            context.reply(
                AlterClientQuotasResponse(
                    entries: request.entries.map {
                        .init(
                            errorCode: .clusterAuthorizationFailed,
                            errorMessage: "AlterClientQuotas needs ALTER_CONFIGS on the cluster", entity: $0.entity)
                    }))
            return
        }
        // The store fsyncs its file: off the event loop.
        broker.adminQueue.async {
            var changes: [(entity: QuotaEntity, key: QuotaKey, value: Double?)] = []
            var results: [AlterClientQuotasResponse.Entry] = []
            var applied: [Int] = []
            for entry in request.entries {
                switch validate(entry) {
                case .success(let entryChanges):
                    if !request.validateOnly {
                        applied.append(results.count)
                        changes += entryChanges
                    }
                    results.append(.init(entity: entry.entity))
                case .failure(let refusal):
                    results.append(
                        .init(errorCode: .invalidRequest, errorMessage: refusal.message, entity: entry.entity))
                }
            }
            if !changes.isEmpty {
                do {
                    try broker.quotas.store.apply(changes)
                    for change in changes {
                        broker.logger.info(
                            "client quota \(change.entity) \(change.key.rawValue) \(change.value.map { "set to \($0)" } ?? "removed")"
                        )
                    }
                } catch {
                    broker.logger.error("cannot save client quotas: \(error)")
                    for index in applied {
                        results[index].errorCode = .unknownServerError
                        results[index].errorMessage = "the quotas could not be saved"
                    }
                }
            }
            context.reply(AlterClientQuotasResponse(entries: results))
        }
    }

    struct Refusal: Error {
        var message: String
    }

    static func validate(_ entry: AlterClientQuotasRequest.Entry) -> Result<
        [(entity: QuotaEntity, key: QuotaKey, value: Double?)], Refusal
    > {
        var entity = QuotaEntity()
        for part in entry.entity {
            let name: QuotaName = part.entityName.map(QuotaName.named) ?? .defaultEntity
            switch part.entityType {
            case QuotaEntity.userType where entity.user == nil: entity.user = name
            case QuotaEntity.clientIdType where entity.clientId == nil: entity.clientId = name
            case QuotaEntity.userType, QuotaEntity.clientIdType:
                return .failure(Refusal(message: "entity type \"\(part.entityType)\" named twice"))
            case "ip": return .failure(Refusal(message: "ip quotas are not supported"))
            default: return .failure(Refusal(message: "unknown quota entity type \"\(part.entityType)\""))
            }
        }
        guard entity.user != nil || entity.clientId != nil else {
            return .failure(Refusal(message: "the entity names no user and no client-id"))
        }
        var changes: [(entity: QuotaEntity, key: QuotaKey, value: Double?)] = []
        for op in entry.ops {
            guard let key = QuotaKey(rawValue: op.key) else {
                let known = QuotaKey.allCases.map(\.rawValue).joined(separator: ", ")
                return .failure(Refusal(message: "unsupported quota key \"\(op.key)\" (supported: \(known))"))
            }
            if op.remove {
                changes.append((entity, key, nil))
                continue
            }
            // A byte rate is a whole, positive number of bytes per second (Kafka's LONG quota type).
            guard op.value.isFinite, op.value >= 1, op.value.rounded() == op.value, op.value < 9.0e18 else {
                return .failure(Refusal(message: "\(key.rawValue) must be a whole number of bytes/s of 1 or more"))
            }
            changes.append((entity, key, op.value))
        }
        return .success(changes)
    }
}
