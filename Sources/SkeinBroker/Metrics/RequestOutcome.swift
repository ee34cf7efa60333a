import NIOCore
import SkeinProtocol
import Synchronization

/// Whether a request's response carries an error, decided by whoever builds the response and read when it
/// is handed to the connection. Shared by reference because handlers answer from other threads.
final class RequestOutcome: Sendable {
    private let storage = Atomic<Bool>(false)

    func markFailed() { storage.store(true, ordering: .relaxed) }
    var failed: Bool { storage.load(ordering: .relaxed) }
}

/// Finds a non-zero error code anywhere in a response, at top level or in any topic or partition.
/// Produce, the busiest API, is checked directly; the others by reflection, which costs microseconds,
/// acceptable for control-plane requests.
enum ResponseErrors {
    static func containsError(_ response: some KafkaResponseMessage) -> Bool {
        if let produce = response as? ProduceResponse {
            return produce.topics.contains { $0.partitions.contains { $0.errorCode != .noError } }
        }
        return reflectsError(response, depth: 0)
    }

    private static func reflectsError(_ value: Any, depth: Int) -> Bool {
        if let code = value as? ErrorCode { return code != .noError }
        if value is ByteBuffer || value is String || depth > 6 { return false }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .struct?, .class?, .collection?, .optional?, .enum?, .tuple?:
            return mirror.children.contains { reflectsError($0.value, depth: depth + 1) }
        default:
            return false
        }
    }
}
