import Logging
import SkeinFileSource
import SkeinJournaldSource
import SkeinLogShipping
import SkeinMetrics
import SkeinSyslogSource

extension AgentConfiguration {
    /// The host-metrics source with its own shipper (sample sets are not log records: the newest
    /// matters most, so its buffer drops the oldest rather than pausing anything).
    public func makeHostMetricsService(logger: Logger) -> HostMetricsService {
        var settings = RecordShipper.Settings(
            bootstrapServers: bootstrapServers, topic: hostMetrics.topic, clientId: clientId,
            capacity: bufferRecords, compression: hostMetrics.compression)
        settings.security = delivery.security
        let shipper = RecordShipper(settings: settings, logger: logger)
        return HostMetricsService(
            sampler: makeSampler(), shipper: shipper, shutdownFlush: .seconds(shutdownFlushSeconds), logger: logger)
    }

    /// The log sources and their delivery core, or nil when no log source is configured.
    public func makeLogShippingService(registry: MetricsRegistry, logger: Logger) -> LogShippingService? {
        var sources: [any LogSource] = []
        for settings in files {
            sources.append(
                FileSource(settings: settings, defaultTopic: delivery.topic, metrics: registry, logger: logger))
        }
        for settings in journald {
            sources.append(
                JournaldSource(settings: settings, defaultTopic: delivery.topic, metrics: registry, logger: logger))
        }
        for settings in syslog {
            sources.append(
                SyslogSource(
                    settings: settings, defaultTopic: delivery.topic, metrics: registry, logger: logger,
                    shutdownDrain: .seconds(shutdownFlushSeconds)))
        }
        guard !sources.isEmpty else { return nil }
        let budget = MemoryBudget(capacity: memoryCapBytes)
        let delivery = LogDelivery(settings: deliverySettings, budget: budget, registry: registry, logger: logger)
        return LogShippingService(
            sources: sources, delivery: delivery, shutdownFlush: .seconds(shutdownFlushSeconds), logger: logger)
    }
}
