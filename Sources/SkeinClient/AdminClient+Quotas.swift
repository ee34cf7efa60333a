import SkeinProtocol

extension AdminClient {
    /// A quota entity and its values as DescribeClientQuotas reports them.
    public struct ClientQuota: Equatable, Sendable {
        /// User first, then client id; a nil name is the type's default.
        public var entity: [ClientQuotaEntityPart]
        public var values: [String: Double]
    }

    /// The quotas of the entities matching `components` (DescribeClientQuotas); no components and not
    /// `strict` lists every entity with a quota.
    public func describeClientQuotas(
        _ components: [DescribeClientQuotasRequest.Component] = [], strict: Bool = false
    ) async throws -> [ClientQuota] {
        let response = try await metadata.anyConnection().send(
            DescribeClientQuotasRequest(components: components, strict: strict))
        try Self.check(response.errorCode, response.errorMessage, context: "describe client quotas")
        return (response.entries ?? []).map { entry in
            ClientQuota(
                entity: entry.entity,
                values: Dictionary(entry.values.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }))
        }
    }

    /// Sets and removes quota values of one entity (AlterClientQuotas), as `kafka-configs --alter
    /// --entity-type users|clients --add-config/--delete-config` does.
    public func alterClientQuotas(
        _ entity: [ClientQuotaEntityPart], set: [String: Double], remove: [String] = [], validateOnly: Bool = false
    ) async throws {
        let ops =
            set.sorted { $0.key < $1.key }.map { AlterClientQuotasRequest.Op(key: $0.key, value: $0.value) }
            + remove.map { AlterClientQuotasRequest.Op(key: $0, value: 0, remove: true) }
        let response = try await metadata.anyConnection().send(
            AlterClientQuotasRequest(entries: [.init(entity: entity, ops: ops)], validateOnly: validateOnly))
        guard let result = response.entries.first else {
            throw KafkaClientError.unexpectedResponse("AlterClientQuotas did not answer")
        }
        try Self.check(result.errorCode, result.errorMessage, context: "alter client quotas")
    }
}
