import SkeinSyslogSource

/// `[sources.syslog.NAME]` tables: listeners and the message size cap of each syslog source.
extension AgentConfiguration {
    static let syslogSourceKeys = ["topic", "udp", "tcp", "unix", "max_message_bytes"]

    mutating func applySyslog(_ sources: ConfigTable) throws(ConfigFileError) {
        guard let tables = try sources.subtable("syslog") else { return }
        syslog = []
        for name in tables.keys.sorted() {
            guard let table = try? tables.subtable(name) else {
                throw ConfigFileError(
                    line: tables.line(of: name),
                    message: "[sources.syslog] \(name): each syslog source is a table, [sources.syslog.NAME]")
            }
            guard Self.isValidName(name) else {
                throw ConfigFileError(
                    line: tables.line(of: name),
                    message:
                        "syslog source name '\(name)' must be letters, digits, '_' or '-' (it becomes the id syslog.NAME)"
                )
            }
            syslog.append(try Self.syslogSource(name: name, table))
        }
        // Two sources cannot bind one address or path (and a socket-activated fd is handed to one listener).
        var seen: [String: String] = [:]
        for source in syslog {
            for (kind, endpoints) in [("tcp", source.tcp), ("udp", source.udp), ("unix", source.unix)] {
                for endpoint in endpoints {
                    let key = endpoint.isActivated ? endpoint.description : "\(kind) \(endpoint)"
                    if let other = seen[key] {
                        throw ConfigFileError(
                            line: tables.line(of: String(source.id.dropFirst("syslog.".count))),
                            message: "\(source.id) and \(other) both listen on \(key)")
                    }
                    seen[key] = source.id
                }
            }
        }
    }

    static func syslogSource(name: String, _ table: ConfigTable) throws(ConfigFileError) -> SyslogSourceSettings {
        try table.rejectUnknownKeys(known: syslogSourceKeys)
        var settings = SyslogSourceSettings(id: "syslog.\(name)")
        settings.topic = try topic(table, "topic")
        for key in ["udp", "tcp", "unix"] {
            guard let texts = try table.strings(key, orString: true) else { continue }
            var endpoints: [SyslogEndpoint] = []
            for text in texts {
                let parsed = key == "unix" ? SyslogEndpoint.unix(text) : SyslogEndpoint.network(text)
                guard let endpoint = parsed else {
                    let expected = key == "unix" ? "a socket path or \"fd:NAME\"" : "\"HOST:PORT\" or \"fd:NAME\""
                    throw table.error(key, "'\(text)' is not \(expected)")
                }
                endpoints.append(endpoint)
            }
            switch key {
            case "udp": settings.udp = endpoints
            case "tcp": settings.tcp = endpoints
            default: settings.unix = endpoints
            }
        }
        guard settings.endpointCount > 0 else {
            throw ConfigFileError(
                line: table.line, message: "\(table.name) needs at least one listener: udp, tcp or unix")
        }
        if let bytes = try table.byteSize("max_message_bytes", in: 480...(64 << 20)) {
            settings.maxMessageBytes = bytes
        }
        return settings
    }

    /// The topic a syslog source's records go to.
    public func topic(of source: SyslogSourceSettings) -> String { source.topic ?? delivery.topic }

    /// check-config's line for a syslog source.
    func summaryLine(_ source: SyslogSourceSettings) -> String {
        let listeners =
            source.tcp.map { "tcp \($0)" } + source.udp.map { "udp \($0)" } + source.unix.map { "unix \($0)" }
        return
            "  \(source.id) → \(topic(of: source)): \(listeners.joined(separator: ", ")), max_message_bytes \(source.maxMessageBytes)"
    }
}

extension SyslogEndpoint {
    var isActivated: Bool {
        if case .activated = self { return true }
        return false
    }
}
