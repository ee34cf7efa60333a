import Foundation
import NIOHTTP1
import SkeinMetrics
import SkeinMetricsHTTP
import Synchronization

/// What the broker's HTTP listener serves: `/metrics`, `/metrics/hosts` and `/health`.
public final class MetricsEndpoints: HTTPEndpoints {
    public typealias Response = HTTPEndpointResponse

    let broker: Broker
    let hostExporter: HostMetricsExporter?
    private let readyFlag = Atomic<Bool>(false)

    public init(broker: Broker, hostExporter: HostMetricsExporter?) {
        self.broker = broker
        self.hostExporter = hostExporter
        if let hostExporter { broker.metrics.registry.register(hostExporter.table.collector()) }
    }

    /// Storage is open and the Kafka listener bound: `/health` answers 200.
    public func markReady() { readyFlag.store(true, ordering: .relaxed) }

    public func respond(method: HTTPMethod, uri: String) -> Response {
        if let refusal = Response.refusal(method: method) { return refusal }
        switch Response.path(of: uri) {
        case "/metrics":
            return .metrics(broker.metrics.render())
        case "/metrics/hosts":
            return .metrics(hostExporter?.table.render(nowMs: Int64(Date().timeIntervalSince1970 * 1000)) ?? "")
        case "/health":
            return .health(ready: readyFlag.load(ordering: .relaxed))
        default:
            return .notFound
        }
    }
}
