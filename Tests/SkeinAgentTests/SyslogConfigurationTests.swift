import SkeinSyslogSource
import Testing

@testable import SkeinAgent

/// `[sources.syslog.NAME]`: listeners, defaults and errors that name their line.
@Suite struct SyslogConfigurationTests {
    @Test func aFullTableAndTheDefaults() throws {
        let text = """
            [delivery]
            topic = "logs"

            [sources.syslog.net]
            udp = ["0.0.0.0:514", "fd:syslog-udp"]
            tcp = "[::1]:6514"
            unix = ["/run/skein/syslog.sock", "fd:devlog"]
            max_message_bytes = "8KiB"
            topic = "netlogs"

            [sources.syslog.a]
            tcp = [":5140"]
            """
        let configuration = try AgentConfiguration.load(fromFileText: text)
        #expect(configuration.syslog.map(\.id) == ["syslog.a", "syslog.net"])
        let a = configuration.syslog[0]
        #expect(a.tcp == [.address(host: "0.0.0.0", port: 5140)] && a.udp.isEmpty && a.unix.isEmpty)
        #expect(a.maxMessageBytes == 65536 && a.topic == nil)
        let net = configuration.syslog[1]
        #expect(net.udp == [.address(host: "0.0.0.0", port: 514), .activated(name: "syslog-udp")])
        #expect(net.tcp == [.address(host: "::1", port: 6514)])
        #expect(net.unix == [.path("/run/skein/syslog.sock"), .activated(name: "devlog")])
        #expect(net.maxMessageBytes == 8192)
        #expect(configuration.topics.contains("netlogs") && configuration.topics.contains("logs"))
        #expect(
            configuration.summary.contains("syslog.net → netlogs: tcp [::1]:6514, udp 0.0.0.0:514, udp fd:syslog-udp"))
        try configuration.checkSomeSourceIsEnabled()
    }

    @Test(arguments: [
        ("[sources.syslog.x]\ntopic = \"t\"\n", 1, "needs at least one listener"),
        ("[sources.syslog.x]\ntcp = [\"5140\"]\n", 2, "'5140' is not \"HOST:PORT\" or \"fd:NAME\""),
        ("[sources.syslog.x]\nudp = [\"fd:\"]\n", 2, "is not \"HOST:PORT\" or \"fd:NAME\""),
        ("[sources.syslog.x]\n\nunix = [\"\"]\n", 3, "is not a socket path or \"fd:NAME\""),
        ("[sources.syslog.x]\ntcp = [\":1\"]\nmax_message_bytes = 10\n", 3, "max_message_bytes: must be from 480"),
        ("[sources.syslog.x]\ntcp = [\":1\"]\nport = 514\n", 3, "unknown key 'port' in [sources.syslog.x]"),
        ("[sources.syslog]\nx = 1\n", 2, "each syslog source is a table"),
        ("[sources.syslog.\"a b\"]\ntcp = [\":1\"]\n", 1, "syslog source name 'a b'"),
        (
            "[sources.syslog.a]\ntcp = [\":1\"]\n[sources.syslog.b]\ntcp = [\"0.0.0.0:1\"]\n", 3,
            "both listen on tcp 0.0.0.0:1"
        ),
        ("[sources.syslog.a]\nudp = [\"fd:s\"]\n[sources.syslog.b]\nunix = [\"fd:s\"]\n", 3, "both listen on fd:s"),
    ])
    func errorsNameTheirLine(text: String, line: Int, message: String) {
        #expect {
            try AgentConfiguration.load(fromFileText: text)
        } throws: { error in
            guard let error = error as? ConfigFileError else { return false }
            return error.line == line && error.description.contains(message)
        }
    }

    @Test func socketActivationFindsDescriptorsByName() {
        let passed = SocketActivation.passedDescriptors(
            environment: ["LISTEN_PID": "42", "LISTEN_FDS": "3", "LISTEN_FDNAMES": "tcp:udp:tcp"], pid: 42)
        #expect(passed == ["tcp": [3, 5], "udp": [4]])
        // Another process's descriptors (LISTEN_PID differs) are not ours.
        #expect(
            SocketActivation.passedDescriptors(environment: ["LISTEN_PID": "7", "LISTEN_FDS": "1"], pid: 42).isEmpty)
        #expect(
            SocketActivation.passedDescriptors(environment: ["LISTEN_PID": "42", "LISTEN_FDS": "2"], pid: 42)
                == ["unknown": [3, 4]])
    }
}
