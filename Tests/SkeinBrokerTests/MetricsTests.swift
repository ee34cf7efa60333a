import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker

@Suite struct MetricsTests {
    @Test func responseErrorsAreFoundAtTopLevelAndInNestedPartitions() {
        #expect(!ResponseErrors.containsError(HeartbeatResponse()))
        #expect(ResponseErrors.containsError(HeartbeatResponse(errorCode: .rebalanceInProgress)))
        let fine = ListOffsetsResponse(topics: [
            .init(name: "t", partitions: [.init(partitionIndex: 0, offset: 5), .init(partitionIndex: 1, offset: 7)])
        ])
        #expect(!ResponseErrors.containsError(fine))
        var nested = fine
        nested.topics[0].partitions[1].errorCode = .unknownTopicOrPartition
        #expect(ResponseErrors.containsError(nested))
        let produce = ProduceResponse(topics: [
            .init(name: "t", partitions: [.init(index: 0, errorCode: .notLeaderOrFollower, baseOffset: -1)])
        ])
        #expect(ResponseErrors.containsError(produce))
    }

    @Test func httpSettingsParse() throws {
        var config = BrokerConfig()
        #expect(config.httpListen == .init(host: "127.0.0.1", port: 9644))
        try config.apply("http.listen", "0.0.0.0:9100")
        #expect(config.httpListen == .init(host: "0.0.0.0", port: 9100))
        try config.apply("http.listen", "off")
        #expect(config.httpListen == nil)
        try config.apply("host.metrics.topic", "host-metrics")
        try config.apply("host.metrics.ttl.ms", "1500")
        #expect(config.hostMetricsTopic == "host-metrics")
        #expect(config.hostMetricsTtlMs == 1500)
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("host.metrics.ttl.ms", "0") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("host.metrics.topic", "bad topic") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("http.listen", "nowhere") }
    }

    /// Endpoints answer by path; /health follows readiness; the scrape of an in-process broker is
    /// well-formed and carries the partition gauges of a topic just created.
    @Test func endpointsAnswerByPathAndHealthFollowsReadiness() async throws {
        let test = try await TestBroker()
        let endpoints = MetricsEndpoints(broker: test.broker, hostExporter: nil)
        #expect(endpoints.respond(method: .GET, uri: "/health").status == .serviceUnavailable)
        endpoints.markReady()
        #expect(
            endpoints.respond(method: .GET, uri: "/health")
                == .init(status: .ok, contentType: "text/plain; charset=utf-8", body: "ready\n"))
        #expect(endpoints.respond(method: .GET, uri: "/nope").status == .notFound)
        #expect(endpoints.respond(method: .POST, uri: "/metrics").status == .methodNotAllowed)
        try test.broker.createTopic("gauged", partitions: 2)
        let metrics = endpoints.respond(method: .GET, uri: "/metrics?x=1")
        #expect(metrics.status == .ok)
        #expect(metrics.contentType == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.body.contains("kafka_topic_partitions{topic=\"gauged\"} 2\n"))
        #expect(metrics.body.contains("kafka_topic_partition_current_offset{topic=\"gauged\",partition=\"1\"} 0\n"))
        #expect(endpoints.respond(method: .HEAD, uri: "/metrics/hosts").body == "")
        try await test.stop()
    }
}
