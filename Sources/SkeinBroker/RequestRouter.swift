import Dispatch
import Logging
import NIOCore
import SkeinProtocol

/// A decoded request's header and where it came from, with helpers to answer it.
struct RequestContext: Sendable {
    let header: RequestHeader
    let connection: ConnectionInfo
    let respond: Respond
    /// Set before responding when the response carries an error code (skein_requests_total outcome).
    var outcome = RequestOutcome()

    var version: Int16 { header.apiVersion }

    /// Encodes `response` with the header version its API and version call for, and sends it.
    func reply<Response: KafkaResponseMessage>(_ response: Response) {
        reply(response, thenClose: false)
    }

    /// Sends `response`, then closes the connection (a failed or out-of-order SASL exchange).
    func replyThenClose<Response: KafkaResponseMessage>(_ response: Response) {
        reply(response, thenClose: true)
    }

    private func reply<Response: KafkaResponseMessage>(_ response: Response, thenClose: Bool) {
        var buffer = ByteBufferAllocator().buffer(capacity: 128)
        do {
            try ResponseFrame.encode(response, version: version, correlationId: header.correlationId, into: &buffer)
            if ResponseErrors.containsError(response) { outcome.markFailed() }
            respond(thenClose ? .partsThenClose([.bytes(buffer)]) : .frame(buffer))
        } catch {
            respond(.closeConnection(reason: "cannot encode \(Response.apiKey) v\(version) response: \(error)"))
        }
    }
}

/// Reads the header of each frame, refuses what cannot be served (unknown APIs, unsupported versions,
/// malformed bodies) by closing the connection as Kafka does, and hands the rest to the handler for its
/// API.
final class RequestRouter: Sendable {
    let broker: Broker
    let warnings: LogRateLimiter

    /// The APIs this broker implements and advertises. Advertising an API makes clients use it, so an API
    /// joins this list only with its handler (librdkafka, for one, sends telemetry if key 71 is listed).
    static let implemented: [ApiKey] = [
        .produce, .fetch, .listOffsets, .metadata, .findCoordinator, .apiVersions, .createTopics, .deleteTopics,
        .initProducerId, .offsetForLeaderEpoch, .describeConfigs, .joinGroup, .syncGroup, .heartbeat, .leaveGroup,
        .offsetCommit, .offsetFetch, .describeGroups, .listGroups, .alterConfigs, .incrementalAlterConfigs,
        .deleteGroups, .offsetDelete, .addPartitionsToTxn, .addOffsetsToTxn, .endTxn, .txnOffsetCommit,
        .describeTransactions, .listTransactions,
        .createPartitions, .deleteRecords, .describeCluster, .describeLogDirs, .describeProducers,
        .describeClientQuotas, .alterClientQuotas,
        .describeAcls, .createAcls, .deleteAcls,
        .saslHandshake, .saslAuthenticate, .describeUserScramCredentials, .alterUserScramCredentials,
    ]

    /// What a connection on a SASL listener may send before it has logged in; anything else closes it,
    /// as in Kafka.
    static let beforeAuthentication: Set<Int16> = [
        ApiKey.apiVersions.rawValue, ApiKey.saslHandshake.rawValue, ApiKey.saslAuthenticate.rawValue,
    ]

    init(broker: Broker, warnings: LogRateLimiter) {
        self.broker = broker
        self.warnings = warnings
    }

    func route(_ payload: ByteBuffer, connection: ConnectionInfo, respond handOver: @escaping Respond) {
        let startedNanos = DispatchTime.now().uptimeNanoseconds
        let outcome = RequestOutcome()
        let metrics = broker.metrics
        let apiKey = payload.getInteger(at: payload.readerIndex, as: Int16.self)
        let respond: Respond = { result in
            switch result {
            case .parts, .partsThenClose:
                metrics.requestFinished(apiKey: apiKey, startedNanos: startedNanos, failed: outcome.failed)
            case .nothing: metrics.requestFinished(apiKey: apiKey, startedNanos: startedNanos, failed: false)
            case .closeConnection, .refused:
                metrics.requestFinished(apiKey: apiKey, startedNanos: startedNanos, failed: true)
            }
            handOver(result)
        }
        let session = connection.session
        if !session.authenticated, session.saslBareTokens.withLock({ $0 }) {
            SaslAuthenticateHandler.handleBareToken(payload, connection: connection, broker: broker, respond: respond)
            return
        }
        var buffer = payload
        let header: RequestHeader
        do {
            header = try RequestHeader.decode(from: &buffer)
        } catch {
            refuse(.malformed, "unreadable request header: \(error)", connection: connection, respond: respond)
            return
        }
        let client = "client \(header.clientId.quotedForLog), correlation \(header.correlationId)"
        guard connection.session.authenticated || Self.beforeAuthentication.contains(header.apiKey) else {
            refuse(
                .unauthenticated, "API key \(header.apiKey) before SASL authentication (\(client))",
                connection: connection, respond: respond)
            return
        }
        guard let api = header.api, Self.implemented.contains(api) else {
            refuse(
                .unsupported, "unknown API key \(header.apiKey) v\(header.apiVersion) (\(client))",
                connection: connection, respond: respond)
            return
        }
        guard api.isSupported(header.apiVersion) else {
            if api == .apiVersions {
                // The client retries with a version from this list (KIP-511).
                let context = RequestContext(
                    header: header, connection: connection, respond: respond, outcome: outcome)
                ApiVersionsHandler.rejectVersion(context: context)
            } else {
                refuse(
                    .unsupported, "\(api) v\(header.apiVersion) is outside \(api.supportedVersions) (\(client))",
                    connection: connection, respond: respond)
            }
            return
        }
        let request: KafkaRequest
        do {
            request = try KafkaRequest.decode(apiKey: api, version: header.apiVersion, from: &buffer)
        } catch {
            refuse(
                .malformed, "malformed \(api) v\(header.apiVersion) request (\(client)): \(error)",
                connection: connection, respond: respond)
            return
        }
        let context = RequestContext(header: header, connection: connection, respond: respond, outcome: outcome)
        switch request {
        case .apiVersions(let request): ApiVersionsHandler.handle(request, context: context)
        case .metadata(let request): MetadataHandler.handle(request, context: context, broker: broker)
        case .produce(let request): ProduceHandler.handle(request, context: context, broker: broker)
        case .fetch(let request): FetchHandler.handle(request, context: context, broker: broker)
        case .listOffsets(let request): ListOffsetsHandler.handle(request, context: context, broker: broker)
        case .createTopics(let request): CreateTopicsHandler.handle(request, context: context, broker: broker)
        case .deleteTopics(let request): DeleteTopicsHandler.handle(request, context: context, broker: broker)
        case .describeConfigs(let request): DescribeConfigsHandler.handle(request, context: context, broker: broker)
        case .initProducerId(let request): InitProducerIdHandler.handle(request, context: context, broker: broker)
        case .offsetForLeaderEpoch(let request):
            OffsetForLeaderEpochHandler.handle(request, context: context, broker: broker)
        case .findCoordinator(let request): FindCoordinatorHandler.handle(request, context: context, broker: broker)
        case .joinGroup(let request): JoinGroupHandler.handle(request, context: context, broker: broker)
        case .syncGroup(let request): SyncGroupHandler.handle(request, context: context, broker: broker)
        case .heartbeat(let request): HeartbeatHandler.handle(request, context: context, broker: broker)
        case .leaveGroup(let request): LeaveGroupHandler.handle(request, context: context, broker: broker)
        case .offsetCommit(let request): OffsetCommitHandler.handle(request, context: context, broker: broker)
        case .offsetFetch(let request): OffsetFetchHandler.handle(request, context: context, broker: broker)
        case .describeGroups(let request): DescribeGroupsHandler.handle(request, context: context, broker: broker)
        case .listGroups(let request): ListGroupsHandler.handle(request, context: context, broker: broker)
        case .alterConfigs(let request): AlterConfigsHandler.handle(request, context: context, broker: broker)
        case .incrementalAlterConfigs(let request):
            IncrementalAlterConfigsHandler.handle(request, context: context, broker: broker)
        case .deleteGroups(let request): DeleteGroupsHandler.handle(request, context: context, broker: broker)
        case .offsetDelete(let request): OffsetDeleteHandler.handle(request, context: context, broker: broker)
        case .addPartitionsToTxn(let request):
            AddPartitionsToTxnHandler.handle(request, context: context, broker: broker)
        case .addOffsetsToTxn(let request): AddOffsetsToTxnHandler.handle(request, context: context, broker: broker)
        case .endTxn(let request): EndTxnHandler.handle(request, context: context, broker: broker)
        case .txnOffsetCommit(let request): TxnOffsetCommitHandler.handle(request, context: context, broker: broker)
        case .describeTransactions(let request):
            DescribeTransactionsHandler.handle(request, context: context, broker: broker)
        case .listTransactions(let request): ListTransactionsHandler.handle(request, context: context, broker: broker)
        case .createPartitions(let request): CreatePartitionsHandler.handle(request, context: context, broker: broker)
        case .deleteRecords(let request): DeleteRecordsHandler.handle(request, context: context, broker: broker)
        case .describeCluster(let request): DescribeClusterHandler.handle(request, context: context, broker: broker)
        case .describeLogDirs(let request): DescribeLogDirsHandler.handle(request, context: context, broker: broker)
        case .describeProducers(let request):
            DescribeProducersHandler.handle(request, context: context, broker: broker)
        case .describeAcls(let request): DescribeAclsHandler.handle(request, context: context, broker: broker)
        case .createAcls(let request): CreateAclsHandler.handle(request, context: context, broker: broker)
        case .deleteAcls(let request): DeleteAclsHandler.handle(request, context: context, broker: broker)
        case .saslHandshake(let request): SaslHandshakeHandler.handle(request, context: context, broker: broker)
        case .saslAuthenticate(let request): SaslAuthenticateHandler.handle(request, context: context, broker: broker)
        case .describeUserScramCredentials(let request):
            DescribeUserScramCredentialsHandler.handle(request, context: context, broker: broker)
        case .alterUserScramCredentials(let request):
            AlterUserScramCredentialsHandler.handle(request, context: context, broker: broker)
        case .describeClientQuotas(let request):
            DescribeClientQuotasHandler.handle(request, context: context, broker: broker)
        case .alterClientQuotas(let request):
            AlterClientQuotasHandler.handle(request, context: context, broker: broker)
        }
    }

    private enum Refusal: String {
        case unsupported = "unsupported request"
        case malformed = "malformed request"
        case unauthenticated = "request before authentication"

        var metricReason: String {
            switch self {
            case .unsupported: "unsupported_request"
            case .malformed: "malformed_request"
            case .unauthenticated: "unauthenticated_request"
            }
        }
    }

    /// Closes the connection after earlier responses, as Kafka does for a request it cannot parse or
    /// serve. An error reply is no option: a response is only readable in the layout of its API and
    /// version, and a bare correlation id and error code makes clients report "not enough bytes"
    /// instead of the cause. A closed connection makes them log a disconnect and look at versions again.
    private func refuse(_ refusal: Refusal, _ what: String, connection: ConnectionInfo, respond: Respond) {
        broker.metrics.connectionClosedByBroker(reason: refusal.metricReason)
        warnings.warning(refusal.rawValue, "closing connection from \(connection.remote): \(what)")
        respond(.refused)
    }
}
