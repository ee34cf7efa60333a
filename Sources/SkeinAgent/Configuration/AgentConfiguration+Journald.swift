import SkeinJournaldSource

/// `[sources.journald.NAME]` tables.
extension AgentConfiguration {
    static let journaldSourceKeys = [
        "topic", "directory", "namespace", "units", "identifiers", "priority", "current_boot_only", "start_at",
        "max_fields_bytes",
    ]

    mutating func applyJournald(_ tables: ConfigTable) throws(ConfigFileError) {
        journald = []
        for name in tables.keys.sorted() {
            guard let table = try? tables.subtable(name) else {
                throw ConfigFileError(
                    line: tables.line(of: name),
                    message: "[sources.journald] \(name): each journald source is a table, [sources.journald.NAME]")
            }
            guard Self.isValidName(name) else {
                throw ConfigFileError(
                    line: tables.line(of: name),
                    message:
                        "journald source name '\(name)' must be letters, digits, '_' or '-' (it becomes the id journald.NAME)"
                )
            }
            journald.append(try Self.journaldSource(name: name, table))
        }
    }

    static func journaldSource(name: String, _ table: ConfigTable) throws(ConfigFileError) -> JournaldSettings {
        try table.rejectUnknownKeys(known: journaldSourceKeys)
        var settings = JournaldSettings(id: "journald.\(name)")
        if let topic = try table.string("topic") {
            guard isValidTopicName(topic) else {
                throw table.error(
                    "topic", "'\(topic)' is not a valid topic name (1–249 of letters, digits, '.', '_', '-')")
            }
            settings.topic = topic
        }
        let directory = try table.string("directory") ?? ""
        let namespace = try table.string("namespace") ?? ""
        guard directory.isEmpty || namespace.isEmpty else {
            throw table.error("namespace", "give directory or namespace, not both")
        }
        if !directory.isEmpty { settings.journal = .directory(directory) }
        if !namespace.isEmpty { settings.journal = .namespace(namespace) }
        for key in ["units", "identifiers"] {
            guard let values = try table.strings(key, orString: true) else { continue }
            guard values.allSatisfy({ !$0.isEmpty && !$0.contains("=") }) else {
                throw table.error(key, "holds an empty value or one with '='")
            }
            if key == "units" { settings.units = values } else { settings.identifiers = values }
        }
        if let value = table.value("priority") {
            let text = value.int.map { String($0) } ?? value.string
            guard let text, let level = JournaldSettings.parsePriority(text) else {
                throw table.error("priority", "emerg, alert, crit, err, warning, notice, info, debug or 0–7")
            }
            settings.priority = level
        }
        if let flag = try table.bool("current_boot_only") { settings.currentBootOnly = flag }
        if let start = try table.choice("start_at", JournaldSettings.StartPosition.self) { settings.startAt = start }
        if let bytes = try table.byteSize("max_fields_bytes", in: 0...(16 << 20)) { settings.maxFieldsBytes = bytes }
        return settings
    }

    /// `check-config`'s line for one journald source.
    static func summaryLine(_ source: JournaldSettings, topic: String) -> String {
        var line = "  \(source.id) → \(topic): "
        switch source.journal {
        case .local: line += "local journal"
        case .directory(let path): line += "directory \(path)"
        case .namespace(let name): line += "namespace \(name)"
        }
        if !source.units.isEmpty {
            line += ", units \(source.units.map(JournaldSettings.unitName).joined(separator: ", "))"
        }
        if !source.identifiers.isEmpty { line += ", identifiers \(source.identifiers.joined(separator: ", "))" }
        if source.priority < 7 {
            line += ", priority \(JournaldSettings.priorityNames[Int(source.priority)]) and above"
        }
        if source.currentBootOnly { line += ", current boot only" }
        line += ", start_at \(source.startAt.rawValue)"
        return line
    }
}
