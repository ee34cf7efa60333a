import SkeinProtocol

/// DescribeClientQuotas (KIP-546): the quota entities matching a filter, with their values. A filter
/// component names an entity type and matches one name, the default, or any; `strict` drops entities that
/// have types the filter does not name. Skein has no `ip` entities, so a filter on `ip` matches nothing.
enum DescribeClientQuotasHandler {
    static func handle(_ request: DescribeClientQuotasRequest, context: RequestContext, broker: Broker) {
        // DESCRIBE_CONFIGS on the cluster, as in Kafka.
        guard context.authorizedOnCluster(broker, .describeConfigs) else {
            context.reply(
                DescribeClientQuotasResponse(
                    errorCode: .clusterAuthorizationFailed,
                    errorMessage: "DescribeClientQuotas needs DESCRIBE_CONFIGS on the cluster", entries: nil))
            return
        }
        switch matches(request, in: broker.quotas.store.all) {
        case .success(let entries):
            context.reply(DescribeClientQuotasResponse(entries: entries))
        case .failure(let refusal):
            context.reply(
                DescribeClientQuotasResponse(errorCode: .invalidRequest, errorMessage: refusal.message, entries: nil))
        }
    }

    struct Refusal: Error {
        var message: String
    }

    static func matches(
        _ request: DescribeClientQuotasRequest, in table: [QuotaEntity: [QuotaKey: Double]]
    ) -> Result<[DescribeClientQuotasResponse.Entry], Refusal> {
        var seen: Set<String> = []
        for component in request.components {
            guard [QuotaEntity.userType, QuotaEntity.clientIdType, "ip"].contains(component.entityType) else {
                return .failure(Refusal(message: "unknown quota entity type \"\(component.entityType)\""))
            }
            guard seen.insert(component.entityType).inserted else {
                return .failure(Refusal(message: "entity type \"\(component.entityType)\" named twice in the filter"))
            }
            switch DescribeClientQuotasRequest.MatchType(rawValue: component.matchType) {
            case .exact where component.match == nil:
                return .failure(Refusal(message: "an exact match of \"\(component.entityType)\" needs a name"))
            case .defaultEntity where component.match != nil, .any where component.match != nil:
                return .failure(Refusal(message: "only an exact match of \"\(component.entityType)\" takes a name"))
            case nil:
                return .failure(Refusal(message: "unknown match type \(component.matchType)"))
            default: break
            }
        }
        var entries: [DescribeClientQuotasResponse.Entry] = []
        for (entity, quotas) in table where matches(entity, request) {
            entries.append(
                .init(
                    entity: entity.parts.map { ClientQuotaEntityPart(entityType: $0.type, entityName: $0.name) },
                    values: quotas.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                        .init(key: $0.key.rawValue, value: $0.value)
                    }))
        }
        entries.sort { "\($0.entity)" < "\($1.entity)" }
        return .success(entries)
    }

    private static func matches(_ entity: QuotaEntity, _ request: DescribeClientQuotasRequest) -> Bool {
        let names: [String: QuotaName] = Dictionary(
            uniqueKeysWithValues: [
                entity.user.map { (QuotaEntity.userType, $0) }, entity.clientId.map { (QuotaEntity.clientIdType, $0) },
            ].compactMap { $0 })
        for component in request.components {
            guard let name = names[component.entityType] else { return false }
            switch DescribeClientQuotasRequest.MatchType(rawValue: component.matchType) {
            case .exact: if name != .named(component.match ?? "") { return false }
            case .defaultEntity: if name != .defaultEntity { return false }
            case .any, nil: break
            }
        }
        return !request.strict || names.count == request.components.count
    }
}
