import ArgumentParser
import SkeinClient
import SkeinProtocol

public struct ClusterCommand: AsyncParsableCommand, Sendable {
    public static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Show the brokers, the API versions they speak and the topics.",
        discussion: "Example:\n  skein cluster --bootstrap 127.0.0.1:9092")

    @OptionGroup public var connection: ConnectionOptions

    public init() {}

    public func run() async throws {
        let connection = self.connection
        try await connection.withAdmin { admin in
            let cluster = try await admin.cluster()
            let versions = try await admin.apiVersions()
            var out = "Cluster: \(cluster.clusterId ?? "-")  Controller: \(cluster.controllerId)\n\n"
            var brokers = [["BROKER", "ADDRESS"]]
            for broker in cluster.brokers { brokers.append(["\(broker.nodeId)", "\(broker.host):\(broker.port)"]) }
            out += table(brokers) + "\n"
            var apis = [["API", "KEY", "VERSIONS"]]
            for entry in versions.advertised {
                let name = ApiKey(rawValue: entry.apiKey).map { "\($0)" } ?? "unknown"
                apis.append([name, "\(entry.apiKey)", "\(entry.versions.lowerBound)-\(entry.versions.upperBound)"])
            }
            out += table(apis) + "\n"
            var topics = [["TOPIC", "PARTITIONS"]]
            for topic in cluster.topics { topics.append([topic.name, "\(topic.partitionCount)"]) }
            out += table(topics)
            print(out, terminator: "")
        }
    }
}
