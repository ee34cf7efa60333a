import ArgumentParser
import Foundation
import SkeinBench

struct BenchGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Consumer-group rebalance time for several group sizes, then OffsetCommit throughput.",
        discussion: """
            Each group size runs in a fresh group with that many members, each on its own connection. \
            Round 1 is the initial join of the empty group; every later round is a rejoin of all members: \
            the leader sends JoinGroup and the followers, heartbeating every --probe-interval, see \
            REBALANCE_IN_PROGRESS and rejoin. A round lasts from the first JoinGroup written to the last \
            successful SyncGroup read. The commit phase then joins --committers members to another fresh \
            group and has each commit its range-assigned partitions in a pipelined loop, heartbeating \
            every --heartbeat-interval, and finally reads the offsets back with OffsetFetch.

            Example:
              skein bench group --bootstrap 127.0.0.1:9092
            """)

    @Option(help: "Broker address, host:port.")
    var bootstrap = ProcessInfo.processInfo.environment["SKEIN_BOOTSTRAP"] ?? "127.0.0.1:9092"

    @Option(help: "Topic the members subscribe to (created or auto-created when missing).")
    var topic = "skein-bench-group"

    @Option(help: "Partitions when the topic must be created (default: the broker's default).")
    var partitions: Int?

    @Option(
        help: "Group sizes to measure, comma-separated. (default: 1,10,50)",
        transform: { try BenchArguments.countList($0) })
    var members = [1, 10, 50]

    @Option(help: "Rebalances per group size (0 skips the rebalance phase).")
    var rounds = 5

    @Option(help: "Members committing offsets (0 skips the commit phase).")
    var committers = 4

    @Option(help: "How long to commit, e.g. 5s. (default: 5s)", transform: { try BenchArguments.duration($0) })
    var commitsDuration: Duration = .seconds(5)

    @Option(help: "OffsetCommit requests outstanding per committer.")
    var inFlight = 5

    @Option(help: "JoinGroup session timeout. (default: 10s)", transform: { try BenchArguments.duration($0) })
    var sessionTimeout: Duration = .seconds(10)

    @Option(help: "JoinGroup rebalance timeout. (default: 30s)", transform: { try BenchArguments.duration($0) })
    var rebalanceTimeout: Duration = .seconds(30)

    @Option(help: "Heartbeat period while committing. (default: 3s)", transform: { try BenchArguments.duration($0) })
    var heartbeatInterval: Duration = .seconds(3)

    @Option(
        help: "Heartbeat period of followers waiting for a rejoin round to start. (default: 5ms)",
        transform: { try BenchArguments.duration($0) })
    var probeInterval: Duration = .milliseconds(5)

    @Option(
        help:
            "Wait before the leader's SyncGroup; only for librdkafka's mock cluster, which refuses followers syncing after the leader. (default: 0)",
        transform: { try BenchArguments.duration($0) })
    var leaderSyncDelay: Duration = .zero

    @Option(help: "Group names start with this; a per-run suffix keeps every run's groups fresh.")
    var groupPrefix = "skein-bench"

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    @Flag(help: "No progress lines on stderr.")
    var quiet = false

    func validate() throws {
        guard rounds >= 0, committers >= 0 else {
            throw ValidationError("--rounds and --committers cannot be negative")
        }
        guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") }
        guard rounds > 0 || committers > 0 else {
            throw ValidationError("--rounds 0 and --committers 0 leave nothing to do")
        }
        if let partitions, partitions <= 0 { throw ValidationError("--partitions must be positive") }
        guard sessionTimeout >= .milliseconds(1), sessionTimeout < .seconds(Int(Int32.max / 1000)),
            rebalanceTimeout < .seconds(Int(Int32.max / 1000))
        else { throw ValidationError("--session-timeout and --rebalance-timeout must fit in an int32 of milliseconds") }
    }

    func run() async throws {
        var config = GroupBenchConfig()
        config.bootstrap = bootstrap
        config.topic = topic
        config.partitions = partitions
        config.memberCounts = members
        config.rounds = rounds
        config.committers = committers
        config.commitsDuration = commitsDuration
        config.inFlight = inFlight
        config.sessionTimeout = sessionTimeout
        config.rebalanceTimeout = rebalanceTimeout
        config.heartbeatInterval = heartbeatInterval
        config.probeInterval = probeInterval
        config.leaderSyncDelay = leaderSyncDelay
        config.groupPrefix = groupPrefix
        let quiet = quiet
        let notice: @Sendable (String) -> Void = { line in
            if !quiet { FileHandle.standardError.write(Data("skein bench: \(line)\n".utf8)) }
        }
        let report = try await GroupBenchmark.run(config, notice: notice)
        print(json ? try report.json() : report.table())
        if !report.succeeded { throw ExitCode(1) }
    }
}
