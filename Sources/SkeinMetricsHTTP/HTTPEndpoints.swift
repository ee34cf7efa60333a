import NIOHTTP1
import SkeinMetrics

/// What an HTTP listener answers, one request at a time; implementations must be quick (a scrape renders
/// on the listener's event loop).
public protocol HTTPEndpoints: Sendable {
    func respond(method: HTTPMethod, uri: String) -> HTTPEndpointResponse
}

public struct HTTPEndpointResponse: Sendable, Equatable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: String

    public init(status: HTTPResponseStatus, contentType: String, body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    static let text = "text/plain; charset=utf-8"

    public static func metrics(_ exposition: String) -> Self {
        Self(status: .ok, contentType: PrometheusTextWriter.contentType, body: exposition)
    }

    /// 200 "ready" or 503 "not ready", for load balancers and systemd-style probes.
    public static func health(ready: Bool) -> Self {
        ready
            ? Self(status: .ok, contentType: text, body: "ready\n")
            : Self(status: .serviceUnavailable, contentType: text, body: "not ready\n")
    }

    public static let notFound = Self(status: .notFound, contentType: text, body: "not found\n")

    /// Every endpoint is read-only: anything but GET and HEAD is refused (the handler adds `Allow`).
    public static func refusal(method: HTTPMethod) -> Self? {
        method == .GET || method == .HEAD
            ? nil : Self(status: .methodNotAllowed, contentType: text, body: "only GET and HEAD\n")
    }

    /// The path without the query string: scrapers may add parameters the endpoints ignore.
    public static func path(of uri: String) -> String {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
    }
}

/// `/metrics` from one registry and `/health` from a readiness check: all the agent serves.
public struct RegistryEndpoints: HTTPEndpoints {
    public let registry: MetricsRegistry
    public let isReady: @Sendable () -> Bool

    public init(registry: MetricsRegistry, isReady: @escaping @Sendable () -> Bool = { true }) {
        self.registry = registry
        self.isReady = isReady
    }

    public func respond(method: HTTPMethod, uri: String) -> HTTPEndpointResponse {
        if let refusal = HTTPEndpointResponse.refusal(method: method) { return refusal }
        switch HTTPEndpointResponse.path(of: uri) {
        case "/metrics": return .metrics(registry.render())
        case "/health": return .health(ready: isReady())
        default: return .notFound
        }
    }
}
