import Dispatch
import SkeinMetrics
import Synchronization

/// Counts produce and fetch bytes against the quotas in `ClientQuotaStore` and says how long a client
/// over its quota must wait (KIP-13, KIP-55, KIP-219). The answer goes out at once with that
/// `throttle_time_ms`, and the connection is then not read for that long (`ResponsePart.throttle`), so a
/// client that ignores the field is held to the rate as well.
public final class QuotaEnforcer: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case produce
        case fetch

        var key: QuotaKey { self == .produce ? .producerByteRate : .consumerByteRate }
    }

    struct BucketKey: Hashable {
        var kind: Kind
        var entity: QuotaEntity
    }

    struct Bucket {
        var use: QuotaBucket
        var lastUsedMs: Int64
    }

    public let store: ClientQuotaStore
    public let window: QuotaWindow
    private let buckets = Mutex<[BucketKey: Bucket]>([:])
    private let throttledRequests: [Kind: Counter]
    private let throttleMs: [Kind: Counter]
    private let now: @Sendable () -> Int64

    public init(
        store: ClientQuotaStore, window: QuotaWindow, registry: MetricsRegistry? = nil,
        now: @escaping @Sendable () -> Int64 = { Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000) }
    ) {
        self.store = store
        self.window = window
        self.now = now
        var requests: [Kind: Counter] = [:]
        var milliseconds: [Kind: Counter] = [:]
        for kind in Kind.allCases {
            requests[kind] = Counter()
            milliseconds[kind] = Counter()
        }
        throttledRequests = requests
        throttleMs = milliseconds
        registry?.register(
            CollectorFunction { [requests, milliseconds] writer in
                writer.family(
                    "skein_quota_throttled_requests_total", type: .counter,
                    help: "Produce and Fetch requests answered with a throttle time because a quota was exceeded.")
                for kind in Kind.allCases {
                    writer.sample(
                        "skein_quota_throttled_requests_total", [("type", kind.rawValue)], requests[kind]!.value)
                }
                writer.family(
                    "skein_quota_throttle_seconds_total", type: .counter,
                    help: "Throttle time given to clients over a quota (the connection is not read meanwhile).")
                for kind in Kind.allCases {
                    writer.sample(
                        "skein_quota_throttle_seconds_total", [("type", kind.rawValue)],
                        Double(milliseconds[kind]!.value) / 1000)
                }
            })
    }

    /// Whether any quota is set; when not, Produce and Fetch skip everything else here.
    public var isActive: Bool { !store.isEmpty }

    /// The bytes a fetch may return at most, so that one answer cannot take more than a burst of quota:
    /// the quota times the burst. Nil without a fetch quota.
    public func fetchBound(user: String, clientId: String) -> Int? {
        guard isActive, let (quota, _) = store.resolve(.consumerByteRate, user: user, clientId: clientId) else {
            return nil
        }
        let bound = quota * Double(window.burstMs) / 1000
        return bound >= Double(Int32.max) ? nil : max(1, Int(bound))
    }

    /// Counts `bytes` against the client's quota of `kind` and returns the throttle time in milliseconds,
    /// 0 when within the quota or when it has none.
    public func record(_ kind: Kind, bytes: Int, user: String, clientId: String) -> Int32 {
        guard isActive, let (quota, entity) = store.resolve(kind.key, user: user, clientId: clientId) else {
            return 0
        }
        let nowMs = now()
        let key = BucketKey(kind: kind, entity: entity)
        let throttle = buckets.withLock { buckets in
            var bucket =
                buckets[key] ?? Bucket(use: QuotaBucket(quota: quota, nowMs: nowMs, window: window), lastUsedMs: nowMs)
            let throttle = bucket.use.take(Double(bytes), quota: quota, nowMs: nowMs, window: window)
            bucket.lastUsedMs = nowMs
            buckets[key] = bucket
            if buckets.count > 1024 { Self.dropIdle(&buckets, nowMs: nowMs, window: window) }
            return throttle
        }
        guard throttle > 0 else { return 0 }
        throttledRequests[kind]!.increment()
        throttleMs[kind]!.increment(by: Int(throttle))
        return Int32(clamping: throttle)
    }

    /// A bucket untouched for an hour is full again (or its debt long paid) for any quota of at least one
    /// byte per second over a burst of under an hour; forgetting it bounds the table when many client ids
    /// come and go.
    private static func dropIdle(_ buckets: inout [BucketKey: Bucket], nowMs: Int64, window: QuotaWindow) {
        let idleMs = max(3_600_000, 2 * window.burstMs)
        buckets = buckets.filter { nowMs - $0.value.lastUsedMs < idleMs }
    }

    /// The quota user of a principal: Kafka names user quotas by the principal's name (`alice` for
    /// `User:alice`, `ANONYMOUS` on a plaintext listener).
    static func user(of principal: KafkaPrincipal) -> String { principal.name }
}
