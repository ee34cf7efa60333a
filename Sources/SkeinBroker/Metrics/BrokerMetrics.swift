import Dispatch
import SkeinLog
import SkeinMetrics
import SkeinProtocol

/// The broker's own metrics (`/metrics`). Counters on the data path are updated where the work happens;
/// everything that can be read off existing state (offsets, sizes, groups, lag) is computed when scraped,
/// so producing and fetching pay nothing for it.
public final class BrokerMetrics: LogObserver, Sendable {
    public static let version = "0.1.0"

    public let registry = MetricsRegistry()

    struct ApiMetrics: Sendable {
        let ok: Counter
        let error: Counter
        let duration: Histogram
    }

    /// Fixed at init and only read afterwards, so finding a request's counters takes no lock.
    private let apis: [Int16: ApiMetrics]
    private let unknownApi: ApiMetrics
    let topicBytesIn: MetricFamily<Counter>
    let topicRecordsIn: MetricFamily<Counter>
    let topicBytesOut: MetricFamily<Counter>
    let topicRecordsOut: MetricFamily<Counter>
    let produceBatchSize: Histogram
    let batchesRefused: MetricFamily<Counter>
    let fsyncDuration: Histogram
    let retentionDeletedSegments: MetricFamily<Counter>
    let retentionDeletedBytes: MetricFamily<Counter>
    let connectionsOpen: Gauge
    let connectionsAccepted: Counter
    let connectionsRefused: MetricFamily<Counter>
    let connectionsClosedByBroker: MetricFamily<Counter>
    let requestQueueBytes: Gauge

    public init() {
        let requests = registry.counterFamily(
            "skein_requests_total", help: "Kafka requests answered, by API and outcome (error: any error code set).",
            labelNames: ["api", "outcome"])
        let durations = registry.histogramFamily(
            "skein_request_duration_seconds",
            help: "Time from receiving a request frame to handing its response to the connection.",
            labelNames: ["api"], upperBounds: Histogram.latencySeconds)
        func metrics(_ name: String) -> ApiMetrics {
            ApiMetrics(
                ok: requests.labels(name, "ok"), error: requests.labels(name, "error"), duration: durations.labels(name)
            )
        }
        var apis: [Int16: ApiMetrics] = [:]
        for api in RequestRouter.implemented { apis[api.rawValue] = metrics(api.description) }
        self.apis = apis
        unknownApi = metrics("Unknown")
        topicBytesIn = registry.counterFamily(
            "skein_topic_bytes_in_total", help: "Record batch bytes appended by Produce.", labelNames: ["topic"])
        topicRecordsIn = registry.counterFamily(
            "skein_topic_records_in_total", help: "Records appended by Produce.", labelNames: ["topic"])
        topicBytesOut = registry.counterFamily(
            "skein_topic_bytes_out_total", help: "Record batch bytes returned by Fetch.", labelNames: ["topic"])
        topicRecordsOut = registry.counterFamily(
            "skein_topic_records_out_total", help: "Records in the batches returned by Fetch.", labelNames: ["topic"])
        produceBatchSize = registry.histogram(
            "skein_produce_batch_size_bytes", help: "Size of each record batch appended by Produce.",
            upperBounds: Histogram.sizeBytes)
        batchesRefused = registry.counterFamily(
            "skein_produce_batches_refused_total",
            help: "Produce record sets refused by batch validation, nothing of them stored, by Kafka error name.",
            labelNames: ["topic", "error"])
        fsyncDuration = registry.histogram(
            "skein_log_fsync_duration_seconds", help: "Duration of one group-commit fsync round of a partition.",
            upperBounds: Histogram.latencySeconds)
        retentionDeletedSegments = registry.counterFamily(
            "skein_log_retention_deleted_segments_total", help: "Segments deleted by retention.", labelNames: ["topic"])
        retentionDeletedBytes = registry.counterFamily(
            "skein_log_retention_deleted_bytes_total", help: "Bytes deleted by retention.", labelNames: ["topic"])
        connectionsOpen = registry.gauge("skein_connections_open", help: "Kafka client connections open now.")
        connectionsAccepted = registry.counter(
            "skein_connections_accepted_total", help: "Kafka client connections accepted.")
        connectionsRefused = registry.counterFamily(
            "skein_connections_refused_total",
            help: "Kafka connections closed as soon as accepted, by the limit reached.", labelNames: ["reason"])
        connectionsClosedByBroker = registry.counterFamily(
            "skein_connections_closed_by_broker_total",
            help: "Kafka connections the broker closed, by reason (requests refused, bad frames, timeouts).",
            labelNames: ["reason"])
        requestQueueBytes = registry.gauge(
            "skein_request_queue_bytes",
            help: "Request bytes read and not yet answered, partial frames included (queued.max.request.bytes).")
        registry.register(
            CollectorFunction { writer in
                writer.family("skein_build_info", type: .gauge, help: "Always 1; the label carries the skeind version.")
                writer.sample("skein_build_info", [("version", Self.version)], 1)
                writer.family("kafka_brokers", type: .gauge, help: "Brokers in the cluster (kafka_exporter name).")
                writer.sample("kafka_brokers", [], 1)
            })
        registry.register(ProcessMetricsCollector())
    }

    // MARK: Data path

    /// Counts one answered request; `failed` when any error code in the response is set.
    func requestFinished(apiKey: Int16?, startedNanos: UInt64, failed: Bool) {
        let metrics = apiKey.flatMap { apis[$0] } ?? unknownApi
        (failed ? metrics.error : metrics.ok).increment()
        metrics.duration.observe(Double(DispatchTime.now().uptimeNanoseconds &- startedNanos) / 1_000_000_000)
    }

    func appended(topic: String, bytes: Int, records: Int64, batchSizes: [Int]) {
        topicBytesIn.labels(topic).increment(by: bytes)
        topicRecordsIn.labels(topic).increment(by: Int(records))
        for size in batchSizes { produceBatchSize.observe(Double(size)) }
    }

    func batchRefused(topic: String, error: ErrorCode) {
        batchesRefused.labels(topic, Self.refusalName(error)).increment()
    }

    /// Kafka's names for the codes batch validation answers with, as operators know them from client logs.
    static func refusalName(_ error: ErrorCode) -> String {
        switch error {
        case .corruptMessage: "CORRUPT_MESSAGE"
        case .invalidRecord: "INVALID_RECORD"
        case .recordListTooLarge: "RECORD_LIST_TOO_LARGE"
        case .unsupportedCompressionType: "UNSUPPORTED_COMPRESSION_TYPE"
        default: "\(error)"
        }
    }

    func fetched(topic: String, bytes: Int, records: Int64) {
        topicBytesOut.labels(topic).increment(by: bytes)
        topicRecordsOut.labels(topic).increment(by: Int(records))
    }

    /// A deleted topic's counters go with it, so a recreated topic starts from zero like a new series.
    func topicDeleted(_ topic: String) {
        for family in [
            topicBytesIn, topicRecordsIn, topicBytesOut, topicRecordsOut, retentionDeletedSegments,
            retentionDeletedBytes,
        ] {
            family.remove([topic])
        }
        for error: ErrorCode in [.corruptMessage, .invalidRecord, .recordListTooLarge, .unsupportedCompressionType] {
            batchesRefused.remove([topic, Self.refusalName(error)])
        }
    }

    func connectionOpened() {
        connectionsAccepted.increment()
        connectionsOpen.increment()
    }

    func connectionClosed() {
        connectionsOpen.decrement()
    }

    /// `reason` is one of a few fixed words from the connection code, never client text.
    func connectionRefused(reason: String) {
        connectionsRefused.labels(reason).increment()
    }

    func connectionClosedByBroker(reason: String) {
        connectionsClosedByBroker.labels(reason).increment()
    }

    // MARK: LogObserver

    public func logDidSync(_ topicPartition: TopicPartition, seconds: Double) {
        fsyncDuration.observe(seconds)
    }

    public func logDidDeleteSegments(_ topicPartition: TopicPartition, segments: Int, bytes: Int64) {
        retentionDeletedSegments.labels(topicPartition.topic).increment(by: segments)
        retentionDeletedBytes.labels(topicPartition.topic).increment(by: Int(bytes))
    }

    public func render() -> String { registry.render() }
}

extension Broker {
    /// Partition and group state, read at scrape time. Each partition costs one short lock hold on its
    /// log (no file access) and each group one copy of its committed offsets, whatever the data volume.
    func collectStateMetrics(into writer: inout PrometheusTextWriter) {
        let topicList = topics.allTopics.sorted { $0.name < $1.name }
        writer.family("kafka_topic_partitions", type: .gauge, help: "Partitions of each topic (kafka_exporter name).")
        for topic in topicList {
            writer.sample("kafka_topic_partitions", [("topic", topic.name)], Int(topic.partitionCount))
        }
        let partitions = logs.allLogs.map { ($0.topicPartition, $0.metricsSnapshot) }.sorted { $0.0 < $1.0 }
        func labels(_ topicPartition: TopicPartition) -> [(String, String)] {
            [("topic", topicPartition.topic), ("partition", String(topicPartition.partition))]
        }
        writer.family(
            "kafka_topic_partition_current_offset", type: .gauge,
            help: "Log end offset of each partition (kafka_exporter name).")
        for (topicPartition, snapshot) in partitions {
            writer.sample("kafka_topic_partition_current_offset", labels(topicPartition), snapshot.logEndOffset)
        }
        writer.family(
            "kafka_topic_partition_oldest_offset", type: .gauge,
            help: "Log start offset of each partition (kafka_exporter name).")
        for (topicPartition, snapshot) in partitions {
            writer.sample("kafka_topic_partition_oldest_offset", labels(topicPartition), snapshot.logStartOffset)
        }
        writer.family("skein_log_size_bytes", type: .gauge, help: "Bytes of segment files of each partition.")
        for (topicPartition, snapshot) in partitions {
            writer.sample("skein_log_size_bytes", labels(topicPartition), snapshot.sizeInBytes)
        }
        writer.family("skein_log_segments", type: .gauge, help: "Segments of each partition.")
        for (topicPartition, snapshot) in partitions {
            writer.sample("skein_log_segments", labels(topicPartition), snapshot.segments)
        }
        writer.family(
            "skein_log_unstable_offsets", type: .gauge,
            help: "High watermark minus last stable offset: records read_committed consumers cannot see yet.")
        for (topicPartition, snapshot) in partitions {
            let stable = logs.log(for: topicPartition)?.lastStableOffset ?? snapshot.logEndOffset
            writer.sample("skein_log_unstable_offsets", labels(topicPartition), snapshot.logEndOffset - stable)
        }
        collectTransactionMetrics(into: &writer)

        let groupStates = groups.metricsSnapshot()
        writer.family(
            "kafka_consumergroup_members", type: .gauge, help: "Members of each consumer group (kafka_exporter name).")
        for group in groupStates {
            writer.sample("kafka_consumergroup_members", [("consumergroup", group.groupId)], group.members)
        }
        writer.family("skein_group_generation", type: .gauge, help: "Generation id of each consumer group.")
        for group in groupStates {
            writer.sample("skein_group_generation", [("consumergroup", group.groupId)], Int(group.generation))
        }
        let groupIds = Set(groupStates.map(\.groupId)).union(groups.offsets.groupIds).sorted()
        let lags = groupIds.map { ($0, consumerLag(groupId: $0)) }
        writer.family(
            "kafka_consumergroup_current_offset", type: .gauge,
            help: "Committed offset of each group and partition (kafka_exporter name).")
        for (groupId, partitions) in lags {
            for lag in partitions {
                writer.sample(
                    "kafka_consumergroup_current_offset", [("consumergroup", groupId)] + labels(lag.topicPartition),
                    lag.committedOffset)
            }
        }
        writer.family(
            "kafka_consumergroup_lag", type: .gauge,
            help: "Records between the committed offset and the high watermark (kafka_exporter name).")
        for (groupId, partitions) in lags {
            for lag in partitions {
                writer.sample(
                    "kafka_consumergroup_lag", [("consumergroup", groupId)] + labels(lag.topicPartition), lag.lag)
            }
        }
        // kafka_exporter's kafka_consumergroup_lag_sum is left out: promtool rejects a gauge named *_sum, and
        // sum by (consumergroup, topic) (kafka_consumergroup_lag) gives the same figure.
    }
}

extension Broker {
    fileprivate func collectTransactionMetrics(into writer: inout PrometheusTextWriter) {
        let counts = transactions.counters.snapshot
        writer.family(
            "skein_transactions_total", type: .counter,
            help:
                "Transactions ended, by outcome: committed, aborted (by the producer), timed_out and fenced (aborted by the broker)."
        )
        for outcome in TransactionCounters.Outcome.allCases {
            writer.sample("skein_transactions_total", [("outcome", outcome.rawValue)], counts[outcome] ?? 0)
        }
        let states = Dictionary(grouping: transactions.all, by: \.state)
        writer.family(
            "skein_transactional_ids", type: .gauge, help: "Transactional ids known to the coordinator, by state.")
        for state in [
            TransactionMetadata.State.empty, .ongoing, .prepareCommit, .prepareAbort, .completeCommit, .completeAbort,
        ] {
            writer.sample("skein_transactional_ids", [("state", state.kafkaName)], states[state]?.count ?? 0)
        }
    }
}
