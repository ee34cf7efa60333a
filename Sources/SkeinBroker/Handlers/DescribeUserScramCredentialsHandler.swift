import SkeinProtocol
import SkeinSASL

/// DescribeUserScramCredentials (KIP-554): users, mechanisms and iteration counts; no salts, no keys.
enum DescribeUserScramCredentialsHandler {
    static func handle(_ request: DescribeUserScramCredentialsRequest, context: RequestContext, broker: Broker) {
        // DESCRIBE on the cluster, as in Kafka.
        guard context.authorizedOnCluster(broker, .describe) else {
            context.reply(
                DescribeUserScramCredentialsResponse(
                    errorCode: .clusterAuthorizationFailed,
                    errorMessage: "DescribeUserScramCredentials needs DESCRIBE on the cluster"))
            return
        }
        let store = broker.sasl.store
        func infos(_ mechanisms: [SCRAMMechanism: Int]) -> [DescribeUserScramCredentialsResponse.CredentialInfo] {
            mechanisms.sorted { $0.key.kafkaType < $1.key.kafkaType }.map {
                .init(mechanism: $0.key.kafkaType, iterations: Int32($0.value))
            }
        }
        guard let users = request.users, !users.isEmpty else {
            context.reply(
                DescribeUserScramCredentialsResponse(
                    results: store.list().map { .init(user: $0.user, credentialInfos: infos($0.mechanisms)) }))
            return
        }
        var counts: [String: Int] = [:]
        for user in users { counts[user.name, default: 0] += 1 }
        var results: [DescribeUserScramCredentialsResponse.Result] = []
        var answered: Set<String> = []
        for user in users.map(\.name) where answered.insert(user).inserted {
            if counts[user, default: 0] > 1 {
                results.append(
                    .init(
                        user: user, errorCode: .duplicateResource,
                        errorMessage: "Cannot describe SCRAM credentials for the same user twice in a single request"))
                continue
            }
            let mechanisms = store.credentials(user: user).mapValues(\.iterations)
            if mechanisms.isEmpty {
                results.append(
                    .init(
                        user: user, errorCode: .resourceNotFound, errorMessage: "Attempt to describe nonexistent user"))
            } else {
                results.append(.init(user: user, credentialInfos: infos(mechanisms)))
            }
        }
        context.reply(DescribeUserScramCredentialsResponse(results: results))
    }
}
