// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "skein",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SkeinLog", targets: ["SkeinLog"]),
        .library(name: "SkeinProtocol", targets: ["SkeinProtocol"]),
        .library(name: "SkeinCompression", targets: ["SkeinCompression"]),
        .library(name: "SkeinBroker", targets: ["SkeinBroker"]),
        .library(name: "SkeinMetrics", targets: ["SkeinMetrics"]),
        .library(name: "SkeinClient", targets: ["SkeinClient"]),
        .executable(name: "skeind", targets: ["skeind"]),
        .executable(name: "skein-storage-bench", targets: ["skein-storage-bench"]),
        .executable(name: "skein", targets: ["skein"]),
        .library(name: "SkeinAgent", targets: ["SkeinAgent"]),
        .executable(name: "skein-agent", targets: ["skein-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Real TOML for the agent's configuration (issue #12), replacing the hand-written subset parser.
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        // Model-based tests of the file watcher: random operation sequences checked against a model.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        // TLS listeners and clients (issue #15): BoringSSL through NIO, not a TLS stack of our own.
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // HMAC, SHA-2 and PBKDF2 for SCRAM (issue #15).
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // CRC-32C (Castagnoli) as used by RecordBatch v2; SSE4.2 when the CPU has it.
        .target(name: "CCRC32C"),
        // Storage engine: segmented partition logs. Knows RecordBatch bytes, nothing else of the protocol.
        .target(
            name: "SkeinLog",
            dependencies: [
                "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Pure Kafka wire codec: no I/O, no storage types.
        .target(
            name: "SkeinProtocol",
            dependencies: [
                "CCRC32C", "SkeinCompression",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The four RecordBatch compression codecs, from the system's libraries.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"]), .brew(["snappy"])]),
        .target(name: "SkeinCompression", dependencies: ["CZlib", "CLZ4", "CZstd", "CSnappy"]),
        // Prometheus metrics: counters, gauges, histograms, text exposition 0.0.4, host-metrics records.
        // Own code rather than swift-prometheus: scrape-time collectors, re-exporting other hosts' families
        // and exact text-format control are a few hundred lines, and it saves a dependency to build in CI.
        .target(name: "SkeinMetrics"),
        // TLS server contexts from PEM files, reloaded when they change; client-certificate principals
        // (issue #15). Shared by the Kafka listeners and the HTTP listener.
        .target(
            name: "SkeinTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The small HTTP listener for /metrics and /health, shared by skeind and skein-agent.
        .target(
            name: "SkeinMetricsHTTP",
            dependencies: [
                "SkeinMetrics", "SkeinTLS",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // sd_notify (READY, STATUS, STOPPING, WATCHDOG, EXTEND_TIMEOUT_USEC) and journal-aware logging for skeind
        // and skein-agent. Own code, not libsystemd: the protocol is one datagram on a unix socket and a
        // `<N>` prefix per line, and skeind then needs no libsystemd at all.
        .target(name: "SkeinSystemd", dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]),
        // SASL mechanisms (PLAIN, SCRAM-SHA-256/512) for both sides, and the SCRAM credential file: no NIO,
        // so the exchanges are unit-tested with the RFC vectors and fuzzed directly.
        .target(name: "SkeinSASL", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The broker: NIO server, one handler per Kafka API, topic metadata, producer state.
        .target(
            name: "SkeinBroker",
            dependencies: [
                "SkeinLog", "SkeinProtocol", "SkeinCompression", "SkeinMetrics", "SkeinMetricsHTTP", "SkeinTLS", "SkeinSASL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "skeind",
            dependencies: [
                "SkeinBroker", "SkeinSystemd", "SkeinMetricsHTTP", "SkeinTLS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Batch builders shared by storage tests, the crash writer and the storage benchmark.
        .target(name: "SkeinTestSupport", dependencies: ["CCRC32C"]),
        // Test harness: real skeind (and librdkafka's mock cluster) as child processes the test owns.
        .target(name: "SkeinTestServers"),
        // Appends with fsync-before-ack and prints each acknowledged offset; the crash test SIGKILLs it.
        .executableTarget(
            name: "skein-crash-writer",
            dependencies: ["SkeinLog", "SkeinTestSupport"]
        ),
        // What record validation costs per GiB and per record, per codec (Benchmarks/validation-cost.sh).
        .executableTarget(
            name: "skein-validation-bench",
            dependencies: ["SkeinProtocol", "SkeinCompression", .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/ValidationBench"
        ),
        .executableTarget(
            name: "skein-storage-bench",
            dependencies: ["SkeinLog", "SkeinTestSupport"],
            path: "Benchmarks/StorageBench"
        ),
        // Async Kafka client (producer, consumer, metadata) for any Kafka-compatible broker.
        .target(
            name: "SkeinClient",
            dependencies: [
                "SkeinProtocol", "SkeinCompression", "SkeinSASL",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Load generator behind `skein bench`: pre-encoded Produce pipelines and Fetch loops over NIO.
        .target(
            name: "SkeinBench",
            dependencies: [
                "SkeinProtocol", "SkeinClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The `skein` commands (produce, consume, logs, topics, groups, cluster) as a library, so tests
        // can check their parsing and formatting without a process.
        .target(
            name: "SkeinTool",
            dependencies: [
                "SkeinClient", "SkeinProtocol", "SkeinCompression", "SkeinSASL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "skein",
            dependencies: [
                "SkeinBench", "SkeinClient", "SkeinTool", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The log-shipping core every log source uses: records in the log schema, position headers,
        // one transaction per batch, recovery of each source's position from the tail of its partition,
        // checkpoint records, and the process-wide memory cap.
        // glibc's malloc_trim, so an idle agent hands the memory of a burst back to the system.
        .target(name: "CMalloc"),
        .target(
            name: "SkeinLogShipping",
            dependencies: [
                "CMalloc", "SkeinClient", "SkeinCompression", "SkeinMetrics", "SkeinProtocol",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The file source: globs, inotify, fingerprints, rotation and truncation, multiline.
        .target(
            name: "SkeinFileSource",
            dependencies: [
                "SkeinLogShipping", "SkeinMetrics", "SkeinCompression",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libsystemd's sd-journal API: the only supported reader of journal files (their format changes
        // between systemd versions, with compression and keyed hashes), and it follows rotation and vacuum.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // The journald source: a dedicated thread owns the sd_journal handle (not thread-safe), matches,
        // cursor positions with the seek-next-test rule, and vacuum gaps reported, never skipped silently.
        .target(
            name: "SkeinJournaldSource",
            dependencies: [
                "CSystemd", "SkeinLogShipping", "SkeinMetrics",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The syslog source (issue #13): its own module so the parser and framing stay pure and fuzzable.
        .target(
            name: "SkeinSyslogSource",
            dependencies: [
                "SkeinLogShipping", "SkeinMetrics", "SkeinMetricsHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Host agent: configuration, the host-metrics source, and the wiring of log sources to delivery.
        .target(
            name: "SkeinAgent",
            dependencies: [
                "SkeinClient", "SkeinCompression", "SkeinLogShipping", "SkeinFileSource", "SkeinJournaldSource",
                "SkeinSyslogSource", "SkeinMetrics", "SkeinMetricsHTTP",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "skein-agent",
            dependencies: [
                "SkeinAgent", "SkeinSystemd", "SkeinMetrics", "SkeinLogShipping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fuzzing (scripts/fuzz, README "Fuzzing"): the entry points as a library, so the normal test suite
        // replays every seed and past finding through the same code, and one executable that scripts/fuzz
        // builds with -sanitize=fuzzer (libFuzzer ships with the toolchain). Own code rather than a fuzzing
        // package: the entry points are the project's invariants, and the driver glue is a few lines.
        .target(
            name: "SkeinFuzzTargets",
            dependencies: [
                "CCRC32C", "SkeinCompression", "SkeinLog", "SkeinProtocol", "SkeinSASL", "SkeinSyslogSource",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/SkeinFuzzTargets"
        ),
        .executableTarget(
            name: "skein-fuzz",
            dependencies: ["SkeinFuzzTargets", .product(name: "Logging", package: "swift-log")],
            path: "Fuzz/skein-fuzz"
        ),
        .testTarget(
            name: "SkeinFuzzTargetsTests",
            dependencies: [
                "SkeinFuzzTargets", "SkeinProtocol", "SkeinCompression", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SkeinAgentTests",
            dependencies: [
                "SkeinAgent", "SkeinFileSource", "SkeinJournaldSource", "SkeinLogShipping", "SkeinMetrics",
                "SkeinSyslogSource",
            ],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "SkeinLogShippingTests", dependencies: ["SkeinLogShipping", "SkeinClient", "SkeinTestServers", "SkeinMetrics"]
        ),
        .testTarget(
            name: "SkeinSyslogSourceTests",
            dependencies: [
                "SkeinSyslogSource", "SkeinLogShipping", "SkeinMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "SkeinFileSourceTests",
            dependencies: [
                "SkeinFileSource", "SkeinLogShipping",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SkeinJournaldSourceTests", dependencies: ["SkeinJournaldSource", "SkeinLogShipping", "SkeinMetrics"]
        ),
        .testTarget(
            name: "SkeinBrokerTests",
            dependencies: ["SkeinBroker", "SkeinProtocol", "SkeinMetricsHTTP", "SkeinTLS", "SkeinSASL", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(name: "SkeinMetricsTests", dependencies: ["SkeinMetrics"]),
        .testTarget(name: "SkeinSystemdTests", dependencies: ["SkeinSystemd"]),
        .testTarget(name: "SkeinLogTests", dependencies: ["SkeinLog", "CCRC32C", "SkeinTestSupport"]),
        .testTarget(
            name: "SkeinProtocolTests",
            dependencies: ["SkeinProtocol", "SkeinCompression", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "SkeinCompressionTests", dependencies: ["SkeinCompression"]),
        .testTarget(name: "SkeinSASLTests", dependencies: ["SkeinSASL"]),
        .testTarget(
            name: "SkeinClientTests",
            dependencies: [
                "SkeinClient", "SkeinProtocol", "SkeinCompression", "SkeinTestServers",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SkeinToolTests", dependencies: ["SkeinTool", "SkeinClient"]),
        .testTarget(
            name: "SkeinBenchTests",
            dependencies: ["SkeinBench", "SkeinProtocol", "SkeinCompression", .product(name: "NIOCore", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
