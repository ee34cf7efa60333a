import Foundation
import SkeinClient
import SkeinProtocol

/// A failure the `skein` tool reports as one line on stderr, with an exit status scripts can test.
///
/// Statuses: 1 the operation failed (the broker refused it, or some records were not delivered),
/// 2 the topic, group or partition does not exist, 3 no broker could be reached, 64 the arguments
/// are wrong (as ArgumentParser reports usage errors).
public struct ToolError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        case failed, notFound, unreachable, usage
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func usage(_ message: String) -> ToolError { ToolError(.usage, message) }
    public static func notFound(_ message: String) -> ToolError { ToolError(.notFound, message) }
    public static func failed(_ message: String) -> ToolError { ToolError(.failed, message) }

    public var exitStatus: Int32 {
        switch kind {
        case .failed: 1
        case .notFound: 2
        case .unreachable: 3
        case .usage: 64
        }
    }

    public var description: String { message }

    /// Turns whatever a command threw into a ToolError, naming what the command was doing.
    public static func from(_ error: any Error, bootstrap: String) -> ToolError {
        if let error = error as? ToolError { return error }
        guard let error = error as? KafkaClientError else { return .failed("\(error)") }
        switch error {
        case .bootstrapFailed, .connectionClosed:
            return ToolError(.unreachable, "cannot reach a broker at \(bootstrap) (\(Self.shortReason(error)))")
        case .unknownTopicOrPartition(let topic, let partition):
            if let partition { return .notFound("topic '\(topic)' has no partition \(partition)") }
            return .notFound("unknown topic '\(topic)'")
        case .broker(let code, let context):
            switch code {
            case .unknownTopicOrPartition: return .notFound("\(context): unknown topic or partition")
            case .groupIdNotFound: return .notFound("\(context): no such group")
            default: return .failed("\(context): \(code) (error \(code.rawValue))")
            }
        case .invalidConfiguration(let detail):
            return .usage(detail)
        default:
            return .failed(error.description)
        }
    }

    private static func shortReason(_ error: KafkaClientError) -> String {
        let text: String
        switch error {
        case .bootstrapFailed(let detail): text = detail
        case .connectionClosed(let detail): text = detail
        default: text = error.description
        }
        if text.contains("refused") { return "connection refused" }
        if text.lowercased().contains("timed out") || text.contains("timeout") { return "connection timed out" }
        return String(text.prefix(160)).replacingOccurrences(of: "\n", with: " ")
    }
}
