import SkeinProtocol

extension AdminClient {
    /// Sets and removes topic settings without touching the others (IncrementalAlterConfigs), the way
    /// `kafka-configs --alter --add-config/--delete-config` does. A removed setting returns to its default.
    public func alterTopicConfigs(
        _ topic: String, set: [String: String], delete: [String] = [], validateOnly: Bool = false
    ) async throws {
        let configs =
            set.sorted { $0.key < $1.key }.map {
                IncrementalAlterConfigsRequest.Config(name: $0.key, configOperation: 0, value: $0.value)
            } + delete.map { IncrementalAlterConfigsRequest.Config(name: $0, configOperation: 1, value: nil) }
        let request = IncrementalAlterConfigsRequest(
            resources: [.init(resourceType: 2, resourceName: topic, configs: configs)], validateOnly: validateOnly)
        let response = try await metadata.anyConnection().send(request)
        guard let result = response.responses.first else {
            throw KafkaClientError.unexpectedResponse("IncrementalAlterConfigs did not answer for \(topic)")
        }
        if result.errorCode == .unknownTopicOrPartition {
            throw KafkaClientError.unknownTopicOrPartition(topic: topic, partition: nil)
        }
        try Self.check(result.errorCode, result.errorMessage, context: "alter configs of \(topic)")
    }

    /// Deletes a group without members, with its committed offsets.
    public func deleteGroup(_ groupId: String) async throws {
        let connection = try await coordinator(for: groupId)
        let response = try await connection.send(DeleteGroupsRequest(groupsNames: [groupId]))
        guard let result = response.results.first(where: { $0.groupId == groupId }) else {
            throw KafkaClientError.unexpectedResponse("DeleteGroups did not answer for \(groupId)")
        }
        try Self.check(result.errorCode, nil, context: "delete group \(groupId)")
    }
}
