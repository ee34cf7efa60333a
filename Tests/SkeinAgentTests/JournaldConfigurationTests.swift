import SkeinJournaldSource
import Testing

@testable import SkeinAgent

@Suite struct JournaldConfigurationTests {
    @Test func everyKeyIsRead() throws {
        let text = """
            [delivery]
            topic = "all"

            [sources.journald.sys]
            units = ["nginx", "sshd.socket"]
            identifiers = "cron"
            priority = "warning"
            current_boot_only = true
            start_at = "end"
            max_fields_bytes = "1KiB"
            topic = "journal"

            [sources.journald.box]
            directory = "/var/log/journal/remote"
            priority = 3

            [sources.journald.ns]
            namespace = "app"
            """
        let configuration = try AgentConfiguration.load(fromFileText: text)
        #expect(configuration.journald.map(\.id) == ["journald.box", "journald.ns", "journald.sys"])
        let sys = configuration.journald[2]
        #expect(sys.units == ["nginx", "sshd.socket"])
        #expect(sys.identifiers == ["cron"])
        #expect(sys.priority == 4)
        #expect(sys.currentBootOnly)
        #expect(sys.startAt == .end)
        #expect(sys.maxFieldsBytes == 1024)
        #expect(sys.journal == .local)
        #expect(configuration.topic(of: sys) == "journal")
        let box = configuration.journald[0]
        #expect(box.journal == .directory("/var/log/journal/remote"))
        #expect(box.priority == 3)
        #expect(box.startAt == .beginning && box.maxFieldsBytes == 65_536 && !box.currentBootOnly)
        #expect(configuration.topic(of: box) == "all")
        #expect(configuration.journald[1].journal == .namespace("app"))
        #expect(configuration.topics == ["all", "journal", "metrics"])
        #expect(
            configuration.summary.contains("journald.sys → journal: local journal, units nginx.service, sshd.socket"))
    }

    @Test(arguments: [
        ("[sources.journald.a]\nunits = [\"x\"]\npriority = \"loud\"\n", 3, "priority"),
        ("[sources.journald.a]\ndirectory = \"/d\"\nnamespace = \"n\"\n", 3, "not both"),
        ("[sources.journald.a]\n\nunit = [\"x\"]\n", 3, "unknown key 'unit' in [sources.journald.a]"),
        ("[sources.journald.a]\nstart_at = \"middle\"\n", 2, "start_at"),
        ("[sources.journald.a]\nunits = [\"\"]\n", 2, "units"),
        ("[sources.journald]\na = 1\n", 2, "each journald source is a table"),
        ("[sources.journald.\"a b\"]\n", 1, "must be letters"),
        ("[sources.journald.a]\nmax_fields_bytes = -1\n", 2, "max_fields_bytes"),
    ])
    func badValuesNameTheirLine(text: String, line: Int, message: String) {
        #expect {
            try AgentConfiguration.load(fromFileText: text)
        } throws: { error in
            guard let error = error as? ConfigFileError else { return false }
            return error.line == line && error.description.contains(message)
        }
    }

    @Test func aJournaldSourceAloneIsEnough() throws {
        let configuration = try AgentConfiguration.load(
            fromFileText: "[sources.host_metrics]\nenabled = false\n[sources.journald.a]\n")
        try configuration.checkSomeSourceIsEnabled()
        #expect(configuration.journald.count == 1)
    }
}
