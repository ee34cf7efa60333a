import SkeinMetrics

/// The syslog source's metric families, created once per registry (a family may appear only once in a
/// scrape); each source takes its children by its `source` label.
final class SyslogSourceMetricFamilies: Sendable {
    let received: MetricFamily<Counter>
    let parseErrors: MetricFamily<Counter>
    let truncated: MetricFamily<Counter>
    let connections: MetricFamily<Gauge>
    let udpKernelDrops: MetricFamily<UDPKernelDrops>

    private init(registry: MetricsRegistry) {
        received = registry.counterFamily(
            "skein_agent_syslog_messages_received_total",
            help: "Syslog messages received, by transport (udp, tcp, unix).", labelNames: ["source", "transport"])
        parseErrors = registry.counterFamily(
            "skein_agent_syslog_parse_errors_total",
            help: "Syslog messages whose header could not be read (kept raw with a parse_error field).",
            labelNames: ["source"])
        truncated = registry.counterFamily(
            "skein_agent_syslog_truncated_total", help: "Syslog messages cut at max_message_bytes.",
            labelNames: ["source"])
        connections = registry.gaugeFamily(
            "skein_agent_syslog_connections", help: "Open syslog TCP connections.", labelNames: ["source"])
        udpKernelDrops = MetricFamily(
            name: "skein_agent_syslog_udp_kernel_drops_total",
            help:
                "Datagrams the kernel dropped for the source's UDP sockets (receive buffer full), from /proc/net/udp.",
            type: .counter, labelNames: ["source"]
        ) { UDPKernelDrops() }
        registry.register(udpKernelDrops)
    }

    static func families(in registry: MetricsRegistry) -> SyslogSourceMetricFamilies {
        registry.shared(SyslogSourceMetricFamilies.self) { SyslogSourceMetricFamilies(registry: $0) }
    }
}

/// One source's children of the families.
struct SyslogSourceMetrics: Sendable {
    let receivedUDP: Counter
    let receivedTCP: Counter
    let receivedUnix: Counter
    let parseErrors: Counter
    let truncated: Counter
    let connections: Gauge
    let udpKernelDrops: UDPKernelDrops

    init(source: String, registry: MetricsRegistry) {
        let families = SyslogSourceMetricFamilies.families(in: registry)
        receivedUDP = families.received.labels(source, "udp")
        receivedTCP = families.received.labels(source, "tcp")
        receivedUnix = families.received.labels(source, "unix")
        parseErrors = families.parseErrors.labels(source)
        truncated = families.truncated.labels(source)
        connections = families.connections.labels(source)
        udpKernelDrops = families.udpKernelDrops.labels(source)
    }

    func received(_ transport: SyslogTransport) -> Counter {
        switch transport {
        case .udp: receivedUDP
        case .tcp: receivedTCP
        case .unix: receivedUnix
        }
    }
}
