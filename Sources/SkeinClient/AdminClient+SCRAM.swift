import SkeinProtocol
import SkeinSASL

/// SCRAM user management through Kafka's KIP-554 APIs, as `kafka-configs --entity-type users` does it:
/// the salted password is computed here, so the password itself never leaves this process.
extension AdminClient {
    public struct ScramUser: Sendable, Equatable {
        public var name: String
        public var iterations: [SCRAMMechanism: Int]

        public init(name: String, iterations: [SCRAMMechanism: Int]) {
            self.name = name
            self.iterations = iterations
        }
    }

    /// Every user with SCRAM credentials (or the named ones; an unknown name throws).
    public func scramUsers(_ names: [String]? = nil) async throws -> [ScramUser] {
        let connection = try await metadata.anyConnection()
        let response = try await connection.send(
            DescribeUserScramCredentialsRequest(users: names.map { $0.map { .init(name: $0) } }))
        guard response.errorCode == .noError else {
            throw KafkaClientError.broker(response.errorCode, context: response.errorMessage ?? "describe SCRAM users")
        }
        return try response.results.map { result in
            guard result.errorCode == .noError else {
                throw KafkaClientError.broker(result.errorCode, context: "\(result.user): \(result.errorMessage ?? "")")
            }
            var iterations: [SCRAMMechanism: Int] = [:]
            for info in result.credentialInfos {
                if let mechanism = SCRAMMechanism(kafkaType: info.mechanism) {
                    iterations[mechanism] = Int(info.iterations)
                }
            }
            return ScramUser(name: result.user, iterations: iterations)
        }
    }

    /// Sets `user`'s password for each mechanism, with a new random salt each.
    public func setScramPassword(
        user: String, password: String, mechanisms: [SCRAMMechanism], iterations: Int = SCRAMMechanism.defaultIterations
    ) async throws {
        let upsertions = mechanisms.map { mechanism in
            let salt = SASLBytes.random(count: 32)
            return AlterUserScramCredentialsRequest.Upsertion(
                name: user, mechanism: mechanism.kafkaType, iterations: Int32(clamping: iterations), salt: salt,
                saltedPassword: mechanism.saltedPassword(Array(password.utf8), salt: salt, iterations: iterations))
        }
        try await alterScram(AlterUserScramCredentialsRequest(upsertions: upsertions))
    }

    public func deleteScramCredentials(user: String, mechanisms: [SCRAMMechanism]) async throws {
        try await alterScram(
            AlterUserScramCredentialsRequest(deletions: mechanisms.map { .init(name: user, mechanism: $0.kafkaType) }))
    }

    private func alterScram(_ request: AlterUserScramCredentialsRequest) async throws {
        let connection = try await metadata.anyConnection()
        let response = try await connection.send(request)
        for result in response.results where result.errorCode != .noError {
            throw KafkaClientError.broker(result.errorCode, context: "\(result.userName): \(result.errorMessage ?? "")")
        }
    }
}
