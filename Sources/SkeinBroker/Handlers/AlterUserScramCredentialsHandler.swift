import SkeinProtocol
import SkeinSASL

/// AlterUserScramCredentials (KIP-554): the client sends the salted password, never the password; the
/// broker derives and stores StoredKey and ServerKey. Checked per user as Kafka does: a user named twice
/// for one mechanism gets DUPLICATE_RESOURCE, too few or too many iterations UNACCEPTABLE_CREDENTIAL,
/// deleting a credential that is not there RESOURCE_NOT_FOUND. The file is written once for the request.
enum AlterUserScramCredentialsHandler {
    static func handle(_ request: AlterUserScramCredentialsRequest, context: RequestContext, broker: Broker) {
        // ALTER on the cluster, as in Kafka: every user named gets CLUSTER_AUTHORIZATION_FAILED.
        guard context.authorizedOnCluster(broker, .alter) else {
            var users: [String] = []
            for name in request.deletions.map(\.name) + request.upsertions.map(\.name) where !users.contains(name) {
                users.append(name)
            }
            context.reply(
                AlterUserScramCredentialsResponse(
                    results: users.map {
                        .init(
                            userName: $0, errorCode: .clusterAuthorizationFailed,
                            errorMessage: "AlterUserScramCredentials needs ALTER on the cluster")
                    }))
            return
        }
        let store = broker.sasl.store
        var errors: [String: (ErrorCode, String)] = [:]
        var order: [String] = []
        func note(_ user: String) { if !order.contains(user) { order.append(user) } }
        func refuse(_ user: String, _ code: ErrorCode, _ message: String) {
            if errors[user] == nil { errors[user] = (code, message) }
        }
        var seen: [String: Int] = [:]
        for key in request.deletions.map({ "\($0.name)\u{0}\($0.mechanism)" })
            + request.upsertions.map({ "\($0.name)\u{0}\($0.mechanism)" })
        {
            seen[key, default: 0] += 1
        }
        var sets: [(user: String, mechanism: SCRAMMechanism, credential: SCRAMCredential)] = []
        var deletes: [(user: String, mechanism: SCRAMMechanism)] = []
        for deletion in request.deletions {
            note(deletion.name)
            guard let mechanism = check(deletion.name, deletion.mechanism, seen: seen, refuse: refuse) else { continue }
            guard store.credential(user: deletion.name, mechanism: mechanism) != nil else {
                refuse(deletion.name, .resourceNotFound, "Attempt to delete a user credential that does not exist")
                continue
            }
            deletes.append((deletion.name, mechanism))
        }
        for upsertion in request.upsertions {
            note(upsertion.name)
            guard let mechanism = check(upsertion.name, upsertion.mechanism, seen: seen, refuse: refuse) else {
                continue
            }
            let iterations = Int(upsertion.iterations)
            guard iterations >= SCRAMMechanism.minimumIterations else {
                refuse(upsertion.name, .unacceptableCredential, "Too few iterations")
                continue
            }
            guard iterations <= SCRAMMechanism.maximumIterations else {
                refuse(upsertion.name, .unacceptableCredential, "Too many iterations")
                continue
            }
            guard !upsertion.salt.isEmpty, upsertion.saltedPassword.count == mechanism.hash([]).count else {
                refuse(upsertion.name, .unacceptableCredential, "Salt or salted password is empty or of the wrong size")
                continue
            }
            sets.append(
                (
                    upsertion.name, mechanism,
                    mechanism.credential(
                        saltedPassword: upsertion.saltedPassword, salt: upsertion.salt, iterations: iterations)
                ))
        }
        // A user with any refused change has none of its changes applied, as in Kafka.
        sets.removeAll { errors[$0.user] != nil }
        deletes.removeAll { errors[$0.user] != nil }
        save(sets: sets, deletes: deletes, order: order, refused: errors, context: context, broker: broker)
    }

    /// Writes the file off the event loop, then answers one result per user in request order.
    private static func save(
        sets: [(user: String, mechanism: SCRAMMechanism, credential: SCRAMCredential)],
        deletes: [(user: String, mechanism: SCRAMMechanism)], order: [String],
        refused: [String: (ErrorCode, String)], context: RequestContext, broker: Broker
    ) {
        let store = broker.sasl.store
        broker.adminQueue.async {
            var errors = refused
            do {
                if !sets.isEmpty || !deletes.isEmpty { try store.update(set: sets, delete: deletes) }
                for user in Set(sets.map(\.user) + deletes.map(\.user)) {
                    broker.logger.info("SCRAM credentials of User:\(user) changed")
                }
            } catch {
                broker.logger.error("cannot save SCRAM credentials: \(error)")
                for user in order where errors[user] == nil {
                    errors[user] = (.unknownServerError, "cannot save the credentials")
                }
            }
            context.reply(
                AlterUserScramCredentialsResponse(
                    results: order.map { user in
                        .init(userName: user, errorCode: errors[user]?.0 ?? .noError, errorMessage: errors[user]?.1)
                    }))
        }
    }

    private static func check(
        _ user: String, _ type: Int8, seen: [String: Int], refuse: (String, ErrorCode, String) -> Void
    ) -> SCRAMMechanism? {
        guard !user.isEmpty else {
            refuse(user, .unacceptableCredential, "Username must not be empty")
            return nil
        }
        guard let mechanism = SCRAMMechanism(kafkaType: type) else {
            refuse(user, .unsupportedSaslMechanism, "Unknown SCRAM mechanism")
            return nil
        }
        guard seen["\(user)\u{0}\(type)", default: 0] == 1 else {
            refuse(user, .duplicateResource, "A user credential cannot be altered twice in the same request")
            return nil
        }
        return mechanism
    }
}
