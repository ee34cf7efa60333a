import Foundation
import NIOCore
import SkeinProtocol
import Testing

@testable import SkeinBroker

/// DescribeClientQuotas and AlterClientQuotas through a real broker, the throttle in Produce and Fetch
/// answers, and the connection mute that follows it.
@Suite(.serialized) struct QuotaApiTests {
    static func entity(user: String?? = nil, client: String?? = nil) -> [ClientQuotaEntityPart] {
        var parts: [ClientQuotaEntityPart] = []
        if let user { parts.append(.init(entityType: "user", entityName: user)) }
        if let client { parts.append(.init(entityType: "client-id", entityName: client)) }
        return parts
    }

    static func set(_ entity: [ClientQuotaEntityPart], _ key: String, _ value: Double) -> AlterClientQuotasRequest {
        AlterClientQuotasRequest(entries: [.init(entity: entity, ops: [.init(key: key, value: value)])])
    }

    @Test(arguments: [Int16(0), 1])
    func alteredQuotasAreDescribedAndSurviveARestart(version: Int16) async throws {
        let first = try await TestBroker()
        let directory = first.directory
        do {
            let connection = try first.connect()
            let altered = try connection.roundTrip(
                AlterClientQuotasRequest(entries: [
                    .init(
                        entity: Self.entity(user: "alice"),
                        ops: [
                            .init(key: "producer_byte_rate", value: 1_048_576),
                            .init(key: "consumer_byte_rate", value: 2_097_152),
                        ]),
                    .init(
                        entity: Self.entity(user: .some(nil), client: "loader"),
                        ops: [.init(key: "producer_byte_rate", value: 4096)]),
                    .init(
                        entity: Self.entity(client: .some(nil)), ops: [.init(key: "consumer_byte_rate", value: 8192)]),
                ]), version: version)
            #expect(altered.entries.map(\.errorCode) == [.noError, .noError, .noError])
            let all = try connection.roundTrip(DescribeClientQuotasRequest(components: []), version: version)
            #expect(all.errorCode == .noError)
            #expect(all.entries?.count == 3)
            let alice = try #require(all.entries?.first { $0.entity == Self.entity(user: "alice") })
            #expect(Set(alice.values.map(\.key)) == ["producer_byte_rate", "consumer_byte_rate"])
            #expect(alice.values.first { $0.key == "producer_byte_rate" }?.value == 1_048_576)
            // Strict: only entities of exactly the filtered types; not strict: any entity with a user part.
            let defaultUsers = try connection.roundTrip(
                DescribeClientQuotasRequest(
                    components: [.init(entityType: "user", matchType: 1)], strict: false), version: version)
            #expect(defaultUsers.entries?.map(\.entity) == [Self.entity(user: .some(nil), client: "loader")])
            let strictUsers = try connection.roundTrip(
                DescribeClientQuotasRequest(components: [.init(entityType: "user", matchType: 2)], strict: true),
                version: version)
            #expect(strictUsers.entries?.map(\.entity) == [Self.entity(user: "alice")])
            let removed = try connection.roundTrip(
                AlterClientQuotasRequest(entries: [
                    .init(
                        entity: Self.entity(client: .some(nil)),
                        ops: [.init(key: "consumer_byte_rate", value: 0, remove: true)])
                ]), version: version)
            #expect(removed.entries.first?.errorCode == .noError)
        } catch {
            try await first.stop()
            throw error
        }
        try await first.stop(keepingData: true)
        let second = try await TestBroker(directory: directory)
        do {
            let connection = try second.connect()
            let all = try connection.roundTrip(DescribeClientQuotasRequest(components: []), version: version)
            #expect(all.entries?.count == 2)
            #expect(all.entries?.contains { $0.entity == Self.entity(client: .some(nil)) } == false)
            #expect(second.broker.quotas.store.resolve(.producerByteRate, user: "x", clientId: "loader")?.quota == 4096)
        } catch {
            try await second.stop()
            throw error
        }
        try await second.stop()
    }

    @Test func invalidEntriesAreRefusedOneByOne() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            let response = try connection.roundTrip(
                AlterClientQuotasRequest(entries: [
                    .init(entity: Self.entity(user: "a"), ops: [.init(key: "request_percentage", value: 50)]),
                    .init(entity: [.init(entityType: "ip", entityName: "10.0.0.1")], ops: []),
                    .init(
                        entity: Self.entity(user: "a") + Self.entity(user: "b"),
                        ops: [.init(key: "producer_byte_rate", value: 1)]),
                    .init(entity: Self.entity(user: "a"), ops: [.init(key: "producer_byte_rate", value: 0.5)]),
                    .init(entity: Self.entity(user: "a"), ops: [.init(key: "producer_byte_rate", value: -.infinity)]),
                    .init(entity: [], ops: [.init(key: "producer_byte_rate", value: 10)]),
                    .init(entity: Self.entity(user: "ok"), ops: [.init(key: "producer_byte_rate", value: 10)]),
                ]), version: 1)
            #expect(response.entries.map(\.errorCode) == Array(repeating: .invalidRequest, count: 6) + [.noError])
            #expect(response.entries.first?.errorMessage?.contains("request_percentage") == true)
            let validateOnly = try connection.roundTrip(
                AlterClientQuotasRequest(
                    entries: [.init(entity: Self.entity(user: "b"), ops: [.init(key: "producer_byte_rate", value: 5)])],
                    validateOnly: true), version: 1)
            #expect(validateOnly.entries.first?.errorCode == .noError)
            #expect(Array(broker.broker.quotas.store.all.keys) == [QuotaEntity(user: .named("ok"))])
            let badFilter = try connection.roundTrip(
                DescribeClientQuotasRequest(components: [.init(entityType: "user", matchType: 0, match: nil)]),
                version: 1)
            #expect(badFilter.errorCode == .invalidRequest)
            #expect(badFilter.entries == nil)
        }
    }

    /// With a 1,000 bytes/s produce quota and a window of 2 × 1 s, a client may burst 1,000 bytes; a batch of
    /// about 3,070 bytes after that is about 2.1 s over. The answer says so at once, and the connection's
    /// next request is answered only after the throttle (a lower bound on time; nothing here waits on a
    /// clock).
    @Test func aProducerOverItsQuotaIsToldAndMuted() async throws {
        try await withBroker(settings: ["quota.window.num": "2", "quota.window.size.seconds": "1"]) { broker in
            let connection = try broker.connect()
            let set = try connection.roundTrip(
                Self.set(Self.entity(client: "skein-test"), "producer_byte_rate", 1000), version: 1)
            #expect(set.entries.first?.errorCode == .noError)
            let small = try connection.roundTrip(produce("limited", try batch(["x"])), version: 9)
            #expect(small.throttleTimeMs == 0)
            let big = try connection.roundTrip(
                produce("limited", try batch([String(repeating: "y", count: 3000)])), version: 9)
            #expect((1900...2200).contains(big.throttleTimeMs), "\(big.throttleTimeMs) ms")
            #expect(big.topics.first?.partitions.first?.errorCode == .noError)
            let started = Date()
            _ = try connection.roundTrip(ApiVersionsRequest(), version: 0)
            #expect(Date().timeIntervalSince(started) >= Double(big.throttleTimeMs) / 1000 - 0.05)
            let rendered = broker.broker.metrics.render()
            #expect(rendered.contains("skein_quota_throttled_requests_total{type=\"produce\"} 1"))
            #expect(
                rendered.contains(
                    "skein_quota_throttle_seconds_total{type=\"produce\"} \(Double(big.throttleTimeMs) / 1000)"))
            #expect(rendered.contains("skein_quota_throttled_requests_total{type=\"fetch\"} 0"))
        }
    }

    /// acks=0 gets no answer to carry a throttle: the pause alone holds the producer back.
    @Test func anAcksZeroProducerOverItsQuotaIsMuted() async throws {
        try await withBroker(settings: ["quota.window.num": "2", "quota.window.size.seconds": "1"]) { broker in
            let connection = try broker.connect()
            _ = try connection.roundTrip(
                Self.set(Self.entity(client: .some(nil)), "producer_byte_rate", 1000), version: 1)
            let started = Date()
            connection.send(
                try connection.frame(
                    produce("unanswered", try batch([String(repeating: "y", count: 3000)]), acks: 0), version: 9))
            _ = try connection.roundTrip(ApiVersionsRequest(), version: 0)
            // About 2.07 s of debt (3,070 bytes less the 1,000-byte burst, at 1,000 bytes/s).
            #expect(Date().timeIntervalSince(started) >= 1.9)
            #expect(broker.broker.log("unanswered", 0)?.logEndOffset == 1)
            #expect(
                broker.broker.metrics.render().contains("skein_quota_throttled_requests_total{type=\"produce\"} 1"))
        }
    }

    @Test func aConsumerOverItsQuotaIsToldAndMuted() async throws {
        try await withBroker(settings: ["quota.window.num": "2", "quota.window.size.seconds": "1"]) { broker in
            let connection = try broker.connect()
            _ = try connection.roundTrip(
                produce("read", try batch([String(repeating: "z", count: 3000)])), version: 9)
            _ = try connection.roundTrip(
                Self.set(Self.entity(user: "ANONYMOUS"), "consumer_byte_rate", 1000), version: 0)
            let fetched = try connection.roundTrip(fetch("read", offset: 0), version: 12)
            #expect((1900...2200).contains(fetched.throttleTimeMs), "\(fetched.throttleTimeMs) ms")
            // The answer carries the records all the same (not more than a burst of quota is asked for, but
            // the first batch always comes whole).
            let partition = try #require(fetched.topics.first?.partitions.first)
            #expect(partition.errorCode == .noError)
            #expect(partition.records.byteCount > 3000)
            let started = Date()
            _ = try connection.roundTrip(ApiVersionsRequest(), version: 0)
            #expect(Date().timeIntervalSince(started) >= Double(fetched.throttleTimeMs) / 1000 - 0.05)
        }
    }

    @Test func withoutQuotasNothingIsMeasured() async throws {
        try await withBroker { broker in
            let connection = try broker.connect()
            #expect(!broker.broker.quotas.isActive)
            let response = try connection.roundTrip(
                produce("free", try batch([String(repeating: "y", count: 50_000)])), version: 9)
            #expect(response.throttleTimeMs == 0)
            #expect(broker.broker.metrics.render().contains("skein_quota_throttled_requests_total{type=\"produce\"} 0"))
        }
    }
}
