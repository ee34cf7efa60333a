import Foundation
import Logging

/// Where this agent's last checkpoint record sits in each partition, kept in `state_dir` so a restart
/// can read from there instead of scanning back from the end.
///
/// It is a cache and nothing more: positions always come from the log. A missing, unreadable or
/// garbage file, or one that names an offset which no longer holds this agent's checkpoint, costs only
/// the backward scan, so deleting or corrupting it cannot change what gets delivered.
struct CheckpointCache: Sendable {
    let path: String?
    let agentId: String
    let logger: Logger

    private struct Contents: Codable {
        var agent: String
        var checkpoints: [String: Int64]
    }

    static func key(topic: String, partition: Int32) -> String { "\(topic)/\(partition)" }

    func load() -> [String: Int64] {
        guard let path, FileManager.default.fileExists(atPath: path) else { return [:] }
        guard let data = FileManager.default.contents(atPath: path),
            let contents = try? JSONDecoder().decode(Contents.self, from: data), contents.agent == agentId
        else {
            logger.warning(
                "ignoring an unreadable checkpoint cache; positions come from the log either way",
                metadata: ["path": "\(path)"])
            return [:]
        }
        return contents.checkpoints
    }

    func store(_ checkpoints: [String: Int64]) {
        guard let path else { return }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let data = try JSONEncoder().encode(Contents(agent: agentId, checkpoints: checkpoints))
            let temporary = path + ".tmp"
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw CocoaError(.fileWriteUnknown)
            }
            guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            logger.debug("cannot write the checkpoint cache: \(error)", metadata: ["path": "\(path)"])
        }
    }
}
