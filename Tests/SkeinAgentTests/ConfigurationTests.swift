import SkeinCompression
import SkeinFileSource
import SkeinLogShipping
import Testing

@testable import SkeinAgent

@Suite struct ConfigurationTests {
    static let example = """
        # skein-agent example
        [agent]
        bootstrap = ["10.0.0.1:9092", "10.0.0.2:9092"]  # two brokers
        host_name = "web-1"
        client_id = "agent-web-1"
        name = "edge"
        state_dir = "/srv/skein-agent"
        metrics_listen = "0.0.0.0:19645"
        memory_cap = "512KiB"
        buffer_records = 1_000
        shutdown_flush_seconds = 2.5

        [delivery]
        topic = "host-logs"
        compression = "zstd"
        exactly_once = "required"
        batch_max_bytes = "1MiB"
        batch_linger_ms = 50
        transaction_timeout_ms = 30000
        checkpoint_interval_seconds = 10
        checkpoint_max_age_seconds = 600

        [sources.host_metrics]
        interval = 30
        topic = 'host-metrics'
        proc_root = "/host/proc"
        sys_root = "/host/sys"
        agent_process_metrics = false
        compression = "zstd"

        [sources.files.nginx]
        paths = ["/var/log/nginx/*.log", "/var/log/nginx/**/*.log"]
        exclude = ["/var/log/nginx/debug.log"]
        topic = "web-logs"
        start_at = "beginning"
        read_compressed = true
        fingerprint_bytes = 256
        max_line_bytes = 65536
        long_lines = "truncate"
        scan_interval_seconds = 2.5
        rotate_wait_seconds = 30

        [sources.files.nginx.multiline]
        start_pattern = '^\\d{4}-\\d{2}-\\d{2}'
        timeout_ms = 500
        max_lines = 50
        max_bytes = "64KiB"

        [sources.files.app]
        paths = ["/var/log/app.log"]
        multiline.continuation_pattern = '^\\s'
        """

    @Test func everyKeyIsRead() throws {
        let configuration = try AgentConfiguration.load(fromFileText: Self.example)
        #expect(configuration.bootstrapServers == ["10.0.0.1:9092", "10.0.0.2:9092"])
        #expect(configuration.hostName == "web-1")
        #expect(configuration.clientId == "agent-web-1")
        #expect(configuration.name == "edge")
        #expect(configuration.transactionalId == "skein-agent/web-1/edge")
        #expect(configuration.stateDirectory == "/srv/skein-agent")
        #expect(configuration.metricsListen == .init(host: "0.0.0.0", port: 19645))
        #expect(configuration.memoryCapBytes == 512 * 1024)
        #expect(configuration.bufferRecords == 1000)
        #expect(configuration.shutdownFlushSeconds == 2.5)

        let delivery = configuration.delivery
        #expect(delivery.topic == "host-logs")
        #expect(delivery.compression == .zstd)
        #expect(delivery.exactlyOnce == .required)
        #expect(delivery.batchMaxBytes == 1 << 20)
        #expect(delivery.batchLingerMilliseconds == 50)
        #expect(delivery.transactionTimeoutMilliseconds == 30000)
        #expect(delivery.checkpointIntervalSeconds == 10)
        #expect(delivery.checkpointMaxAgeSeconds == 600)

        #expect(configuration.hostMetrics.intervalSeconds == 30)
        #expect(configuration.hostMetrics.topic == "host-metrics")
        #expect(configuration.hostMetrics.procRoot == "/host/proc")
        #expect(configuration.hostMetrics.sysRoot == "/host/sys")
        #expect(!configuration.hostMetrics.agentProcessMetrics)
        #expect(configuration.hostMetrics.compression == .zstd)

        // Sorted by name, whatever the order in the file.
        #expect(configuration.files.map(\.id) == ["files.app", "files.nginx"])
        let app = configuration.files[0]
        #expect(app.paths == ["/var/log/app.log"])
        #expect(app.topic == nil)
        #expect(configuration.topic(of: app) == "host-logs")
        #expect(app.multiline?.continuationPattern == #"^\s"#)
        #expect(app.multiline?.startPattern == nil)

        var nginx = FileSourceSettings(id: "files.nginx", paths: ["/var/log/nginx/*.log", "/var/log/nginx/**/*.log"])
        nginx.exclude = ["/var/log/nginx/debug.log"]
        nginx.topic = "web-logs"
        nginx.startAt = .beginning
        nginx.readCompressed = true
        nginx.fingerprintBytes = 256
        nginx.maxLineBytes = 65536
        nginx.longLines = .truncate
        nginx.scanIntervalSeconds = 2.5
        nginx.rotateWaitSeconds = 30
        var multiline = MultilineSettings(startPattern: #"^\d{4}-\d{2}-\d{2}"#)
        multiline.timeoutMilliseconds = 500
        multiline.maxLines = 50
        multiline.maxBytes = 65536
        nginx.multiline = multiline
        #expect(configuration.files[1] == nginx)
        #expect(configuration.topics == ["host-logs", "host-metrics", "web-logs"])
    }

    @Test func deliverySettingsForTheCoreComeFromAgentAndDelivery() throws {
        let settings = try AgentConfiguration.load(fromFileText: Self.example).deliverySettings
        #expect(settings.transactionalId == "skein-agent/web-1/edge")
        #expect(settings.bootstrapServers == ["10.0.0.1:9092", "10.0.0.2:9092"])
        #expect(settings.clientId == "agent-web-1")
        #expect(settings.defaultTopic == "host-logs")
        #expect(settings.compression == .zstd)
        #expect(settings.exactlyOnce == .required)
        #expect(settings.batchMaxBytes == 1 << 20)
        #expect(settings.batchLinger == .milliseconds(50))
        #expect(settings.transactionTimeoutMilliseconds == 30000)
        #expect(settings.checkpointInterval == .seconds(10))
        #expect(settings.checkpointMaxAge == .seconds(600))
        #expect(settings.stateDirectory == "/srv/skein-agent")
        let defaults = AgentConfiguration().deliverySettings
        #expect(defaults.defaultTopic == "logs" && defaults.compression == .lz4 && defaults.exactlyOnce == .auto)
        #expect(defaults.checkpointInterval == .seconds(30) && defaults.checkpointMaxAge == .seconds(3600))
        #expect(defaults.batchLinger == .milliseconds(200) && defaults.batchMaxBytes == 16 << 20)
    }

    @Test func defaults() throws {
        let configuration = try AgentConfiguration.load(fromFileText: "")
        #expect(configuration == AgentConfiguration())
        #expect(configuration.bootstrapServers == ["127.0.0.1:9092"])
        #expect(configuration.name == "default")
        #expect(configuration.clientId == "skein-agent")
        #expect(configuration.stateDirectory == "/var/lib/skein-agent")
        #expect(configuration.metricsListen == .init(host: "127.0.0.1", port: 9645))
        #expect(configuration.memoryCapBytes == 64 * 1024 * 1024)
        #expect(configuration.bufferRecords == 240)
        #expect(configuration.shutdownFlushSeconds == 5)
        #expect(configuration.delivery.topic == "logs")
        #expect(configuration.delivery.compression == .lz4)
        #expect(configuration.delivery.exactlyOnce == .auto)
        #expect(configuration.delivery.batchMaxBytes == 16 * 1024 * 1024)
        #expect(configuration.delivery.batchLingerMilliseconds == 200)
        #expect(configuration.delivery.transactionTimeoutMilliseconds == 60000)
        #expect(configuration.delivery.checkpointIntervalSeconds == 30)
        #expect(configuration.delivery.checkpointMaxAgeSeconds == 3600)
        #expect(configuration.hostMetrics.enabled)
        #expect(configuration.hostMetrics.intervalSeconds == 15)
        #expect(configuration.hostMetrics.topic == "metrics")
        #expect(configuration.files.isEmpty)

        let file = try AgentConfiguration.load(fromFileText: "[sources.files.x]\npaths = [\"/a/*.log\"]\n").files
        #expect(file == [FileSourceSettings(id: "files.x", paths: ["/a/*.log"])])
        let source = try #require(file.first)
        #expect(source.startAt == .end && source.fingerprintBytes == 1024 && source.maxLineBytes == 102_400)
        #expect(source.longLines == .split && source.scanIntervalSeconds == 10 && source.multiline == nil)
        #expect(source.rotateWaitSeconds == 5)
        let multiline = try AgentConfiguration.load(
            fromFileText: "[sources.files.x]\npaths = [\"/a\"]\n[sources.files.x.multiline]\nstart_pattern = '^\\S'\n")
        #expect(multiline.files.first?.multiline == MultilineSettings(startPattern: #"^\S"#))
        #expect(multiline.files.first?.multiline?.timeoutMilliseconds == 1000)
        #expect(multiline.files.first?.multiline?.maxLines == 500)
        #expect(multiline.files.first?.multiline?.maxBytes == 1_048_576)
    }

    @Test func metricsListenOffAndIPv6() throws {
        #expect(try AgentConfiguration.load(fromFileText: "[agent]\nmetrics_listen = \"off\"\n").metricsListen == nil)
        #expect(
            try AgentConfiguration.load(fromFileText: "[agent]\nmetrics_listen = \"[::1]:9000\"\n").metricsListen
                == .init(host: "::1", port: 9000))
        #expect(AgentConfiguration.ListenAddress.parse(":9645") == .init(host: "0.0.0.0", port: 9645))
        #expect(AgentConfiguration.ListenAddress.parse("::1:9645") == nil)
        #expect(AgentConfiguration.ListenAddress.parse("host:70000") == nil)
        #expect(AgentConfiguration.ListenAddress(host: "::1", port: 1).description == "[::1]:1")
    }

    @Test(arguments: [
        ("0", 0), ("1", 1), ("512KiB", 524_288), ("64MiB", 67_108_864), ("1GiB", 1_073_741_824), ("64 MiB", 67_108_864),
        ("64mib", 67_108_864), ("100B", 100), ("1_024KiB", 1_048_576),
    ])
    func sizeStrings(text: String, bytes: Int) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "MiB", "64MB", "64 M", "-1MiB", "1.5MiB", "64TiB", "99999999999999GiB"])
    func badSizeStrings(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func memoryCapTakesBytesOrASizeString() throws {
        #expect(try AgentConfiguration.load(fromFileText: "[agent]\nmemory_cap = 1048576\n").memoryCapBytes == 1 << 20)
        #expect(try AgentConfiguration.load(fromFileText: "[agent]\nmemory_cap = \"1GiB\"\n").memoryCapBytes == 1 << 30)
        #expect(ByteSize.format(65536) == "64KiB")
        #expect(ByteSize.format(1000) == "1000B")
        #expect(ByteSize.format(3 << 30) == "3GiB")
    }

    /// The message names the line and the key, as an operator reads it.
    @Test(arguments: [
        (
            "[agent]\nhost_name = \"x\"\n\n[sources.files.nginx]\npaths = [\"/a\"]\npathz = [\"/b\"]\n", 6,
            "line 6: unknown key 'pathz' in [sources.files.nginx]"
        ),
        ("[agnet]\nhost_name = \"x\"\n", 1, "unknown table [agnet]"),
        ("\n\n[agent]\nhostname = \"x\"\n", 4, "unknown key 'hostname' in [agent]"),
        ("[sources.journal]\nx = 1\n", 1, "unknown source [sources.journal]"),
        ("host_name = \"x\"\n", 1, "unknown key 'host_name' at the top level"),
        ("[delivery]\ntopic = \"logs\"\nexactly = \"auto\"\n", 3, "unknown key 'exactly' in [delivery]"),
        (
            "[sources.files.a]\npaths = [\"/a\"]\n\n[sources.files.a.multiline]\nstart_pattern = 'x'\nmax_line = 3\n",
            6,
            "unknown key 'max_line' in [sources.files.a.multiline]"
        ),
        (
            "[sources.files.a]\npaths = [\"/a\"]\nmultiline = { start_pattern = 'x', timeout = 3 }\n", 3,
            "unknown key 'timeout' in [sources.files.a.multiline]"
        ),
        ("[sources]\nfiles.a.paths = [\"/a\"]\nfiles.a.exclud = []\n", 3, "unknown key 'exclud' in [sources.files.a]"),
        (
            "[sources.host_metrics]\n# interval = 15\ninterval = \"15\"\n", 3,
            "line 3: [sources.host_metrics] interval: must be a number, not a string"
        ),
    ])
    func unknownKeysAndBadValuesNameTheirLine(text: String, line: Int, message: String) {
        #expect {
            try AgentConfiguration.load(fromFileText: text)
        } throws: { error in
            guard let error = error as? ConfigFileError else { return false }
            return error.line == line && error.description.contains(message)
        }
    }

    @Test func aKeyInsideAMultilineStringIsNotAKey() throws {
        // `bogus = 1` inside the string must not be taken for the unknown key, which is on line 5.
        let text = "[agent]\nclient_id = \"\"\"\nbogus = 1\n\"\"\"\nbogus = 2\n"
        #expect {
            try AgentConfiguration.load(fromFileText: text)
        } throws: { error in
            (error as? ConfigFileError)?.line == 5
        }
    }

    @Test(arguments: [
        ("[agent]\nbootstrap = 127.0.0.1:9092\n", 2),  // unquoted string
        ("[agent\n", 1),
        ("[agent]\nhost_name = \"unterminated\n", 2),
        ("[agent]\nhost_name = \"a\" trailing\n", 2),
        ("[agent]\nhost_name = \"a\"\nhost_name = \"b\"\n", 3),
        ("[agent]\n\n[agent]\n", 3),
        ("[agent]\n= 3\n", 2),
        ("[agent]\nhost_name = \"\\q\"\n", 2),
        ("# comment\n[sources.files.a]\npaths = [\"/a\",\n  \"/b\"\n", 4),  // toml++ names the last line it read
    ])
    func syntaxErrorsNameTheLine(text: String, line: Int) {
        #expect {
            try ConfigFile.parse(text)
        } throws: { error in
            guard let error = error as? ConfigFileError else { return false }
            return error.line == line && error.description.hasPrefix("line \(line): TOML syntax")
        }
    }

    @Test func realTOMLFeaturesWork() throws {
        let text = """
            [agent]
            bootstrap = [
                "a:9092",  # first
                "b:9092",
            ]
            host_name = "a\\"b\\\\c\\td # not a comment"
            client_id = '''
            multi'''

            [sources.files."web-1"]
            paths = ['C:\\logs\\*.log']
            """
        let configuration = try AgentConfiguration.load(fromFileText: text)
        #expect(configuration.bootstrapServers == ["a:9092", "b:9092"])
        #expect(configuration.hostName == "a\"b\\c\td # not a comment")
        #expect(configuration.clientId == "multi")
        #expect(configuration.files.map(\.id) == ["files.web-1"])
        #expect(configuration.files.first?.paths == [#"C:\logs\*.log"#])
        #expect(
            try AgentConfiguration.load(fromFileText: "[agent]\nbootstrap = \"a:1, b:2\"\n").bootstrapServers == [
                "a:1", "b:2",
            ])
    }

    @Test(arguments: [
        // multiline: exactly one pattern, and it compiles
        "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\ntimeout_ms = 5\n",
        "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\nstart_pattern = 'x'\ncontinuation_pattern = 'y'\n",
        "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\nstart_pattern = '(unclosed'\n",
        "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\nstart_pattern = ''\n",
        "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\nstart_pattern = 'x'\nmax_lines = 0\n",
        "[sources.files.a]\npaths = [\"/a\"]\nmultiline = \"^\\\\S\"\n",
        // file sources
        "[sources.files.a]\nexclude = []\n",
        "[sources.files.a]\npaths = []\n",
        "[sources.files.a]\npaths = [\"\"]\n",
        "[sources.files.a]\npaths = [\"/a\", 3]\n",
        "[sources.files.a]\npaths = [\"/a\"]\nexclude = [\"\"]\n",
        "[sources.files.a]\npaths = [\"/a\"]\nstart_at = \"middle\"\n",
        "[sources.files.a]\npaths = [\"/a\"]\nlong_lines = \"drop\"\n",
        "[sources.files.a]\npaths = [\"/a\"]\nfingerprint_bytes = 0\n",
        "[sources.files.a]\npaths = [\"/a\"]\nmax_line_bytes = \"1TiB\"\n",
        "[sources.files.a]\npaths = [\"/a\"]\nscan_interval_seconds = 0\n",
        "[sources.files.a]\npaths = [\"/a\"]\nrotate_wait_seconds = -1\n",
        "[sources.files.a]\npaths = [\"/a\"]\ntopic = \"bad topic\"\n",
        "[sources.files.a]\npaths = [\"/a\"]\nread_compressed = \"yes\"\n",
        "[sources.files.\"a.b\"]\npaths = [\"/a\"]\n",
        "[sources.files]\na = 1\n",
        "[[sources.files]]\npaths = [\"/a\"]\n",
        // agent and delivery
        "[agent]\nname = \"a/b\"\n",
        "[agent]\nmetrics_listen = \"9645\"\n",
        "[agent]\nmemory_cap = \"64MB\"\n",
        "[agent]\nmemory_cap = 1024\n",
        "[agent]\nbuffer_records = 0\n",
        "[agent]\nbootstrap = \"\"\n",
        "[agent]\nshutdown_flush_seconds = -1\n",
        "[delivery]\nexactly_once = \"yes\"\n",
        "[delivery]\ncompression = \"brotli\"\n",
        "[delivery]\nbatch_max_bytes = 10\n",
        "[delivery]\nbatch_linger_ms = -1\n",
        "[delivery]\ntransaction_timeout_ms = 100\n",
        "[delivery]\ncheckpoint_interval_seconds = 60\ncheckpoint_max_age_seconds = 30\n",
        "[delivery]\ntopic = \"\"\n",
        "[sources.host_metrics]\ninterval = 0\n",
        "[sources.host_metrics]\ncompression = \"brotli\"\n",
        "[sources.host_metrics]\nenabled = 1\n",
        "agent = 3\n",
    ])
    func invalidValuesAreRejected(text: String) {
        #expect {
            try AgentConfiguration.load(fromFileText: text)
        } throws: { error in
            // Every one of these is a key or table written in the file: the error names its line.
            ((error as? ConfigFileError)?.line ?? 0) > 0
        }
    }

    @Test func multilineErrorsSayWhatIsWrong() throws {
        let neither = "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\ntimeout_ms = 5\n"
        #expect {
            try AgentConfiguration.load(fromFileText: neither)
        } throws: { error in
            let error = error as? ConfigFileError
            return error?.line == 3
                && error?.message.contains("exactly one of start_pattern and continuation_pattern") == true
        }
        let badRegex = "[sources.files.a]\npaths = [\"/a\"]\n[sources.files.a.multiline]\n\nstart_pattern = '(x'\n"
        #expect {
            try AgentConfiguration.load(fromFileText: badRegex)
        } throws: { error in
            let error = error as? ConfigFileError
            return error?.line == 5 && error?.message.contains("not a valid regular expression") == true
        }
    }

    @Test func flagsBeatEnvironmentBeatsFileBeatsDefaults() throws {
        let file = """
            [agent]
            bootstrap = "file:1"
            metrics_listen = "127.0.0.1:1111"
            state_dir = "/file/state"
            [sources.host_metrics]
            interval = 30
            topic = "t-file"
            """
        let defaults = try AgentConfiguration.resolve(fileText: nil, environment: [:], overrides: .init())
        #expect(defaults == AgentConfiguration())
        let systemd = try AgentConfiguration.resolve(
            fileText: nil, environment: ["STATE_DIRECTORY": "/var/lib/skein-agent-2:/other"], overrides: .init())
        #expect(systemd.stateDirectory == "/var/lib/skein-agent-2")
        let fromFile = try AgentConfiguration.resolve(
            fileText: file, environment: ["STATE_DIRECTORY": "/systemd"], overrides: .init())
        #expect(fromFile.bootstrapServers == ["file:1"])
        #expect(fromFile.stateDirectory == "/file/state")
        #expect(fromFile.metricsListen == .init(host: "127.0.0.1", port: 1111))
        let fromEnvironment = try AgentConfiguration.resolve(
            fileText: file, environment: ["SKEIN_BOOTSTRAP": "env:1, env:2"], overrides: .init())
        #expect(fromEnvironment.bootstrapServers == ["env:1", "env:2"])
        #expect(fromEnvironment.hostMetrics.intervalSeconds == 30)
        let fromFlags = try AgentConfiguration.resolve(
            fileText: file, environment: ["SKEIN_BOOTSTRAP": "env:1"],
            overrides: .init(
                bootstrap: "flag:1", intervalSeconds: 1, topic: "t-flag", hostName: "h-flag", procRoot: "/p",
                sysRoot: "/s", metricsListen: "127.0.0.2:2222", stateDirectory: "/flag/state"))
        #expect(fromFlags.bootstrapServers == ["flag:1"])
        #expect(fromFlags.hostMetrics.intervalSeconds == 1)
        #expect(fromFlags.hostMetrics.topic == "t-flag")
        #expect(fromFlags.effectiveHostName == "h-flag")
        #expect(fromFlags.transactionalId == "skein-agent/h-flag/default")
        #expect(fromFlags.hostMetrics.procRoot == "/p")
        #expect(fromFlags.hostMetrics.sysRoot == "/s")
        #expect(fromFlags.metricsListen == .init(host: "127.0.0.2", port: 2222))
        #expect(fromFlags.stateDirectory == "/flag/state")
        let off = try AgentConfiguration.resolve(
            fileText: file, environment: [:], overrides: .init(metricsListen: "off"))
        #expect(off.metricsListen == nil)
        for overrides in [
            AgentConfiguration.Overrides(intervalSeconds: 0), .init(metricsListen: "nowhere"),
            .init(stateDirectory: ""),
            .init(topic: "a b"), .init(bootstrap: " , "),
        ] {
            #expect(throws: ConfigFileError.self) {
                try AgentConfiguration.resolve(fileText: nil, environment: [:], overrides: overrides)
            }
        }
    }

    @Test func summaryNamesSourcesTopicsAndTheTransactionalId() throws {
        let summary = try AgentConfiguration.load(fromFileText: Self.example).summary
        #expect(summary.contains("transactional id skein-agent/web-1/edge"))
        #expect(summary.contains("files.nginx → web-logs: /var/log/nginx/*.log"))
        #expect(summary.contains("files.app → host-logs: /var/log/app.log"))
        #expect(summary.contains("host_metrics → host-metrics"))
        #expect(summary.contains("topics: host-logs, host-metrics, web-logs"))
        #expect(summary.contains("metrics: http://0.0.0.0:19645/metrics"))
    }

    @Test func anAgentWithoutSourcesIsRejectedByTheCheck() throws {
        let none = try AgentConfiguration.load(fromFileText: "[sources.host_metrics]\nenabled = false\n")
        #expect(throws: ConfigFileError.self) { try none.checkSomeSourceIsEnabled() }
        let files = try AgentConfiguration.load(
            fromFileText: "[sources.host_metrics]\nenabled = false\n[sources.files.a]\npaths = [\"/a\"]\n")
        try files.checkSomeSourceIsEnabled()
        try AgentConfiguration().checkSomeSourceIsEnabled()
    }

    @Test func theShippedExampleFileLoadsWithItsDocumentedDefaults() throws {
        let text = try SystemFiles.read(Fixture.directory + "/../../../config/skein-agent.toml")
        let configuration = try AgentConfiguration.load(fromFileText: text)
        // Every key the file sets is at its default; the commented-out file source is not active.
        #expect(configuration == AgentConfiguration())
        // Uncommenting the example file source (and its multiline table) gives a valid source.
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("# [sources.files") || line.hasPrefix("# paths") || line.hasPrefix("# start_pattern")
                ? String(line.dropFirst(2)) : String(line)
        }.joined(separator: "\n")
        let withFiles = try AgentConfiguration.load(fromFileText: uncommented)
        #expect(withFiles.files.map(\.id) == ["files.nginx"])
        #expect(withFiles.files.first?.multiline?.startPattern != nil)
    }
}
