import SkeinFileSource

/// What `skein-agent check-config` prints: enough for an operator to see that the file says what they
/// meant (which sources, which topics, which transactional id) without starting the agent.
extension AgentConfiguration {
    public var summary: String {
        var lines: [String] = []
        lines.append("agent \(name) on host \(effectiveHostName): transactional id \(transactionalId)")
        lines.append("bootstrap: \(bootstrapServers.joined(separator: ", "))")
        lines.append("metrics: \(metricsListen.map { "http://\($0)/metrics" } ?? "off")")
        lines.append("state_dir: \(stateDirectory) (a cache only)")
        lines.append("memory_cap: \(ByteSize.format(memoryCapBytes))")
        lines.append(
            "delivery: exactly_once \(delivery.exactlyOnce.rawValue), \(delivery.compression.name), batches up to \(ByteSize.format(delivery.batchMaxBytes)) or \(delivery.batchLingerMilliseconds) ms"
        )
        var sources: [String] = []
        if hostMetrics.enabled {
            sources.append(
                "  host_metrics → \(hostMetrics.topic), every \(ConfigTable.format(hostMetrics.intervalSeconds)) s")
        }
        for source in files {
            var line = "  \(source.id) → \(topic(of: source)): \(source.paths.joined(separator: ", "))"
            if !source.exclude.isEmpty { line += " (exclude \(source.exclude.joined(separator: ", ")))" }
            line += ", start_at \(source.startAt.rawValue)"
            if let multiline = source.multiline {
                if let pattern = multiline.startPattern { line += ", multiline start_pattern \(pattern)" }
                if let pattern = multiline.continuationPattern { line += ", multiline continuation_pattern \(pattern)" }
            }
            sources.append(line)
        }
        sources += journald.map { Self.summaryLine($0, topic: topic(of: $0)) }
        sources += syslog.map(summaryLine)
        lines.append("sources (\(sources.count)):")
        lines.append(contentsOf: sources.isEmpty ? ["  none enabled"] : sources)
        lines.append("topics: \(topics.joined(separator: ", "))")
        return lines.joined(separator: "\n") + "\n"
    }

    /// An agent with nothing to do is a configuration mistake (a source table commented out, host
    /// metrics disabled), caught by `check-config` rather than by an agent that idles.
    public func checkSomeSourceIsEnabled() throws(ConfigFileError) {
        guard hostMetrics.enabled || !files.isEmpty || !journald.isEmpty || !syslog.isEmpty else {
            throw ConfigFileError(
                line: 0,
                message: "no source is enabled: [sources.host_metrics] enabled = false and no "
                    + "[sources.files.NAME], [sources.journald.NAME] or [sources.syslog.NAME] table")
        }
    }

    /// Every topic the agent writes to, sorted.
    public var topics: [String] {
        var topics = Set(files.map { topic(of: $0) })
        topics.formUnion(journald.map { topic(of: $0) })
        topics.formUnion(syslog.map { topic(of: $0) })
        if hostMetrics.enabled { topics.insert(hostMetrics.topic) }
        return topics.sorted()
    }
}
