import SkeinLog
import Testing

@testable import SkeinBroker

@Suite struct BrokerConfigTests {
    @Test func kafkaNamesSetTheirFields() throws {
        var config = BrokerConfig()
        try config.apply(
            propertiesText: """
                # comment
                num.partitions=3
                log.retention.hours = 2
                log.segment.bytes=1048576
                auto.create.topics.enable=false
                listeners=PLAINTEXT://0.0.0.0:9093
                log.message.timestamp.type=LogAppendTime
                """)
        #expect(config.numPartitions == 3)
        #expect(config.logDefaults.retentionMs == 7_200_000)
        #expect(config.logDefaults.segmentBytes == 1_048_576)
        #expect(!config.autoCreateTopics)
        #expect(config.listenHost == "0.0.0.0")
        #expect(config.listenPort == 9093)
        #expect(config.advertisedHostName == "127.0.0.1")
        #expect(config.logDefaults.timestampType == .logAppendTime)
    }

    @Test func badSettingsAreRefusedWithTheirName() {
        var config = BrokerConfig()
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("num.partitions", "many") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("num.partitions", "0") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("no.such.setting", "1") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("listeners", "nohost") }
        #expect(throws: BrokerConfig.InvalidSetting.self) { try config.apply("compression.type", "brotli") }
    }

    @Test func hostPortForms() throws {
        #expect(try BrokerConfig.parseHostPort("127.0.0.1:9092", name: "x") == ("127.0.0.1", 9092))
        #expect(try BrokerConfig.parseHostPort("[::1]:19092", name: "x") == ("::1", 19092))
        #expect(try BrokerConfig.parseHostPort("PLAINTEXT://:9092", name: "x") == ("0.0.0.0", 9092))
    }
}

@Suite struct TopicConfigTests {
    @Test func validatesKafkaTopicConfigs() throws {
        try TopicConfig.validate("retention.ms", "-1")
        try TopicConfig.validate("compression.type", "zstd")
        try TopicConfig.validate("message.timestamp.type", "LogAppendTime")
        #expect(throws: TopicConfig.Invalid.self) { try TopicConfig.validate("retention.ms", "soon") }
        #expect(throws: TopicConfig.Invalid.self) { try TopicConfig.validate("segment.bytes", "1") }
        #expect(throws: TopicConfig.Invalid.self) { try TopicConfig.validate("cleanup.policy", "compact") }
        #expect(throws: TopicConfig.Invalid.self) { try TopicConfig.validate("min.insync.replicas", "2") }
        #expect(throws: TopicConfig.Invalid.self) { try TopicConfig.validate("unknown.thing", "1") }
    }

    @Test func overridesReachTheLogConfig() {
        let config = TopicConfig.logConfig(
            overrides: ["retention.ms": "1000", "segment.bytes": "4096", "max.message.bytes": "2048"],
            defaults: LogConfig())
        #expect(config.retentionMs == 1000)
        #expect(config.segmentBytes == 4096)
        #expect(config.maxMessageBytes == 2048)
        #expect(config.retentionBytes == LogConfig().retentionBytes)
    }

    @Test func describeTellsOverridesFromDefaults() throws {
        var broker = BrokerConfig()
        try broker.apply("log.retention.ms", "5000")
        let entries = TopicConfig.describe(overrides: ["segment.bytes": "4096"], broker: broker)
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
        #expect(byName["segment.bytes"]?.source == .topic)
        #expect(byName["segment.bytes"]?.value == "4096")
        #expect(byName["retention.ms"]?.source == .staticBroker)
        #expect(byName["retention.ms"]?.value == "5000")
        #expect(byName["max.message.bytes"]?.source == .defaultConfig)
        #expect(entries.count == TopicConfig.names.count)
    }
}
