import Foundation
import SkeinLog
import SkeinProtocol

/// DescribeLogDirs: the data directory is the one log directory, and every partition is current (offset
/// lag 0, never a future replica). Sizes come from the logs' bookkeeping, without touching the files.
enum DescribeLogDirsHandler {
    static func handle(_ request: DescribeLogDirsRequest, context: RequestContext, broker: Broker) {
        // Without DESCRIBE on the cluster: no directories, and from v3 the error (Kafka's answer).
        guard context.authorizedOnCluster(broker, .describe) else {
            context.reply(DescribeLogDirsResponse(errorCode: .clusterAuthorizationFailed, results: []))
            return
        }
        let wanted: [TopicPartition]
        if let topics = request.topics {
            wanted = topics.flatMap { topic in topic.partitions.map { TopicPartition(topic.topic, $0) } }
        } else {
            wanted = broker.logs.topicPartitions.filter { broker.topics.topic($0.topic) != nil }
        }
        var byTopic: [String: [DescribeLogDirsResponse.Partition]] = [:]
        var order: [String] = []
        // Partitions this broker does not hold are left out, as Kafka does.
        for topicPartition in wanted {
            guard let log = broker.logs.log(for: topicPartition) else { continue }
            if byTopic[topicPartition.topic] == nil { order.append(topicPartition.topic) }
            byTopic[topicPartition.topic, default: []].append(
                .init(partitionIndex: topicPartition.partition, partitionSize: log.metricsSnapshot.sizeInBytes))
        }
        let directory = URL(fileURLWithPath: broker.config.dataDirectory).standardizedFileURL.path
        let (total, usable) = volumeBytes(directory)
        context.reply(
            DescribeLogDirsResponse(results: [
                .init(
                    logDir: directory, topics: order.map { .init(name: $0, partitions: byTopic[$0] ?? []) },
                    totalBytes: total, usableBytes: usable)
            ]))
    }

    /// The size and the space left (for unprivileged writers) of the volume holding `path`; -1 if unknown.
    static func volumeBytes(_ path: String) -> (Int64, Int64) {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return (-1, -1) }
        let unit = Int64(info.f_frsize)
        return (Int64(info.f_blocks) * unit, Int64(info.f_bavail) * unit)
    }
}
