import Foundation
import SkeinProtocol

/// IncrementalAlterConfigs: SET and DELETE of single topic configs, leaving the others alone; APPEND and
/// SUBTRACT for list-valued configs (`cleanup.policy` and the replica throttle lists). Broker configs are read-only.
enum IncrementalAlterConfigsHandler {
    static let listConfigs: Set<String> = SingleNodeTopicConfigs.listNames.union(["cleanup.policy"])

    static func handle(_ request: IncrementalAlterConfigsRequest, context: RequestContext, broker: Broker) {
        let repeated = AlterConfigsHandler.repeatedResources(
            request.resources.map { ($0.resourceType, $0.resourceName) })
        let responses = request.resources.map { resource -> IncrementalAlterConfigsResponse.Result in
            let (code, message) = AlterConfigsHandler.outcome(
                resourceType: resource.resourceType, resourceName: resource.resourceName, repeated: repeated,
                validateOnly: request.validateOnly, context: context, broker: broker
            ) { current throws(Broker.TopicConfigChangeError) in
                try apply(resource.configs, to: current, broker: broker)
            }
            return .init(
                errorCode: code, errorMessage: message, resourceType: resource.resourceType,
                resourceName: resource.resourceName)
        }
        context.reply(IncrementalAlterConfigsResponse(responses: responses))
    }

    static func apply(
        _ operations: [IncrementalAlterConfigsRequest.Config], to current: [String: String], broker: Broker
    ) throws(Broker.TopicConfigChangeError) -> [String: String] {
        var overrides = current
        var named = Set<String>()
        for operation in operations {
            let name = operation.name
            guard named.insert(name).inserted else { throw .invalidRequest("config \(name) is listed twice") }
            guard TopicConfig.names.contains(name) else { throw .invalidConfig("unknown topic config \(name)") }
            switch operation.configOperation {
            case IncrementalAlterConfigsRequest.setOperation:
                guard let value = operation.value else { throw .invalidRequest("SET of \(name) has a null value") }
                overrides[name] = value
            case IncrementalAlterConfigsRequest.deleteOperation:
                overrides[name] = nil
            case IncrementalAlterConfigsRequest.appendOperation, IncrementalAlterConfigsRequest.subtractOperation:
                let verb =
                    operation.configOperation == IncrementalAlterConfigsRequest.appendOperation ? "APPEND" : "SUBTRACT"
                guard listConfigs.contains(name) else {
                    throw .invalidRequest("\(verb) needs a list config; \(name) is not one")
                }
                guard let value = operation.value else { throw .invalidRequest("\(verb) to \(name) has a null value") }
                let effective =
                    overrides[name]
                    ?? TopicConfig.describe(overrides: [:], broker: broker.config).first { $0.name == name }?.value
                    ?? ""
                var items = splitList(effective)
                for item in splitList(value) {
                    if verb == "APPEND" {
                        if !items.contains(item) { items.append(item) }
                    } else {
                        items.removeAll { $0 == item }
                    }
                }
                overrides[name] = items.joined(separator: ",")
            default:
                throw .invalidRequest("unknown config operation \(operation.configOperation) for \(name)")
            }
        }
        return overrides
    }

    private static func splitList(_ value: String) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
