// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "skein",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SkeinLog", targets: ["SkeinLog"]),
        .library(name: "SkeinProtocol", targets: ["SkeinProtocol"]),
        .executable(name: "skein-storage-bench", targets: ["skein-storage-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
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
                "CCRC32C",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Batch builders shared by storage tests, the crash writer and the storage benchmark.
        .target(name: "SkeinTestSupport", dependencies: ["CCRC32C"]),
        // Appends with fsync-before-ack and prints each acknowledged offset; the crash test SIGKILLs it.
        .executableTarget(
            name: "skein-crash-writer",
            dependencies: ["SkeinLog", "SkeinTestSupport"]
        ),
        .executableTarget(
            name: "skein-storage-bench",
            dependencies: ["SkeinLog", "SkeinTestSupport"],
            path: "Benchmarks/StorageBench"
        ),
        .testTarget(name: "SkeinLogTests", dependencies: ["SkeinLog", "CCRC32C", "SkeinTestSupport"]),
        .testTarget(
            name: "SkeinProtocolTests",
            dependencies: ["SkeinProtocol", .product(name: "NIOCore", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
