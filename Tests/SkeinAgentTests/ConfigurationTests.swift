import Testing

@testable import SkeinAgent

@Suite struct ConfigurationTests {
    static let example = """
        # skein-agent example
        [agent]
        bootstrap = ["10.0.0.1:9092", "10.0.0.2:9092"]  # two brokers
        host_name = "web-1"
        buffer_records = 1_000
        shutdown_flush_seconds = 2.5

        [sources.host_metrics]
        interval = 30
        topic = 'host-metrics'
        proc_root = "/host/proc"
        sys_root = "/host/sys"
        agent_process_metrics = false
        compression = "zstd"
        """

    @Test func parsesSectionsAndValueKinds() throws {
        let file = try ConfigFile.parse(Self.example)
        #expect(file.sections["agent"]?["bootstrap"] == .strings(["10.0.0.1:9092", "10.0.0.2:9092"]))
        #expect(file.sections["agent"]?["buffer_records"] == .integer(1000))
        #expect(file.sections["agent"]?["shutdown_flush_seconds"] == .float(2.5))
        #expect(file.sections["sources.host_metrics"]?["topic"] == .string("host-metrics"))
        #expect(file.sections["sources.host_metrics"]?["agent_process_metrics"] == .boolean(false))
    }

    @Test func fileSettingsApplyOverDefaults() throws {
        let configuration = try AgentConfiguration.load(fromFileText: Self.example)
        #expect(configuration.bootstrapServers == ["10.0.0.1:9092", "10.0.0.2:9092"])
        #expect(configuration.hostName == "web-1")
        #expect(configuration.bufferRecords == 1000)
        #expect(configuration.shutdownFlushSeconds == 2.5)
        #expect(configuration.hostMetrics.intervalSeconds == 30)
        #expect(configuration.hostMetrics.topic == "host-metrics")
        #expect(configuration.hostMetrics.procRoot == "/host/proc")
        #expect(configuration.hostMetrics.sysRoot == "/host/sys")
        #expect(!configuration.hostMetrics.agentProcessMetrics)
        #expect(configuration.hostMetrics.compression == .zstd)
        #expect(try AgentConfiguration.load(fromFileText: "") == AgentConfiguration())
        #expect(AgentConfiguration().hostMetrics.intervalSeconds == 15)
        #expect(AgentConfiguration().hostMetrics.topic == "metrics")
        #expect(AgentConfiguration().bootstrapServers == ["127.0.0.1:9092"])
    }

    @Test func stringEscapes() throws {
        let file = try ConfigFile.parse(#"[agent]"# + "\n" + #"host_name = "a\"b\\c\td # not a comment""#)
        #expect(file.sections["agent"]?["host_name"] == .string("a\"b\\c\td # not a comment"))
        let literal = try ConfigFile.parse("[agent]\nhost_name = 'C:\\path'\n")
        #expect(literal.sections["agent"]?["host_name"] == .string("C:\\path"))
    }

    @Test(arguments: [
        ("[agent]\nbootstrap = 127.0.0.1:9092\n", 2),  // unquoted string
        ("[agent\n", 1),
        ("[agent]\nhost_name = \"unterminated\n", 2),
        ("[agent]\nhost_name = \"a\" trailing\n", 2),
        ("[agent]\nhost_name = \"a\"\nhost_name = \"b\"\n", 3),
        ("[agent]\n[agent]\n", 2),
        ("[agent]\n= 3\n", 2),
        ("[agent]\nbootstrap = [\"a\", 1]\n", 2),
        ("[agent]\nhost_name = \"\\q\"\n", 2),
    ])
    func syntaxErrorsNameTheLine(text: String, line: Int) {
        #expect {
            try ConfigFile.parse(text)
        } throws: { error in
            (error as? ConfigFileError)?.line == line
        }
    }

    @Test(arguments: [
        "[agnet]\nhost_name = \"x\"\n",
        "[agent]\nhostname = \"x\"\n",
        "[sources.host_metrics]\ninterval = \"15\"\n",
        "[sources.host_metrics]\ninterval = 0\n",
        "[sources.host_metrics]\ncompression = \"brotli\"\n",
        "[agent]\nbuffer_records = 0\n",
        "[agent]\nbootstrap = \"\"\n",
        "host_name = \"x\"\n",
    ])
    func unknownOrInvalidSettingsAreRejected(text: String) {
        #expect(throws: ConfigFileError.self) { try AgentConfiguration.load(fromFileText: text) }
    }

    @Test func flagsBeatEnvironmentBeatsFile() throws {
        let file = "[agent]\nbootstrap = \"file:1\"\n[sources.host_metrics]\ninterval = 30\ntopic = \"t-file\"\n"
        let fromFile = try AgentConfiguration.resolve(fileText: file, environment: [:], overrides: .init())
        #expect(fromFile.bootstrapServers == ["file:1"])
        let fromEnvironment = try AgentConfiguration.resolve(
            fileText: file, environment: ["SKEIN_BOOTSTRAP": "env:1, env:2"], overrides: .init())
        #expect(fromEnvironment.bootstrapServers == ["env:1", "env:2"])
        #expect(fromEnvironment.hostMetrics.intervalSeconds == 30)
        let fromFlags = try AgentConfiguration.resolve(
            fileText: file, environment: ["SKEIN_BOOTSTRAP": "env:1"],
            overrides: .init(
                bootstrap: "flag:1", intervalSeconds: 1, topic: "t-flag", hostName: "h-flag", procRoot: "/p",
                sysRoot: "/s"))
        #expect(fromFlags.bootstrapServers == ["flag:1"])
        #expect(fromFlags.hostMetrics.intervalSeconds == 1)
        #expect(fromFlags.hostMetrics.topic == "t-flag")
        #expect(fromFlags.effectiveHostName == "h-flag")
        #expect(fromFlags.hostMetrics.procRoot == "/p")
        #expect(fromFlags.hostMetrics.sysRoot == "/s")
        #expect(throws: ConfigFileError.self) {
            try AgentConfiguration.resolve(fileText: nil, environment: [:], overrides: .init(intervalSeconds: 0))
        }
    }

    @Test func theShippedExampleFileLoads() throws {
        let text = try SystemFiles.read(Fixture.directory + "/../../../config/skein-agent.toml")
        let configuration = try AgentConfiguration.load(fromFileText: text)
        #expect(configuration.hostMetrics.topic == "metrics")
        #expect(configuration.hostMetrics.intervalSeconds == 15)
    }
}
