/// The quota window settings: `quota.window.num` samples of `quota.window.size.seconds` each. Here they
/// size the burst a client may send at once: `quota.window.num - 1` samples' worth of its quota, the
/// same allowance Kafka's windowed rate gives a new client.
public struct QuotaWindow: Equatable, Sendable {
    public var samples: Int
    public var sampleMs: Int64

    public init(samples: Int = 11, sampleMs: Int64 = 1000) {
        self.samples = max(2, samples)
        self.sampleMs = max(1, sampleMs)
    }

    public var burstMs: Int64 { Int64(samples - 1) * sampleMs }
}

/// A client's use of a byte-rate quota, kept as a token bucket: it fills at the quota, holds at most a
/// burst (`QuotaWindow.burstMs` of quota), and each request takes its bytes from it. A request that leaves
/// it below zero is throttled for as long as the quota takes to pay the debt back, so a client that waits
/// out every throttle sends exactly the quota over time.
///
/// Kafka's byte quotas measure a rate over a ring of samples instead. Simulated against a client that
/// sends whenever it is let (QuotaTests), that ring gives the first burst back each time its sample
/// leaves the window, so the client alternates bursts and stalls and any ten seconds of it may be 10 %
/// off the quota; Kafka moved its controller mutation quota to a token bucket for the same reason
/// (KIP-599). The bucket keeps Kafka's allowances: a new client's first burst, and for it the same
/// throttle ((rate − quota) / quota × window: the time without traffic that brings it back to the quota).
public struct QuotaBucket: Sendable {
    /// Bytes that may still be sent without a throttle; negative while in debt.
    private(set) var tokens: Double
    private var lastMs: Int64

    /// A new client starts with a full burst.
    public init(quota: Double, nowMs: Int64, window: QuotaWindow) {
        tokens = quota * Double(window.burstMs) / 1000
        lastMs = nowMs
    }

    /// Takes `bytes` (after refilling for the time since the last request) and returns the throttle in
    /// milliseconds: 0 while the bucket holds enough, else the time the quota takes to refill the debt.
    public mutating func take(_ bytes: Double, quota: Double, nowMs: Int64, window: QuotaWindow) -> Int64 {
        let capacity = quota * Double(window.burstMs) / 1000
        let elapsed = Double(max(0, nowMs - lastMs))
        lastMs = max(lastMs, nowMs)
        tokens = min(capacity, tokens + quota * elapsed / 1000) - bytes
        guard tokens < 0 else { return 0 }
        guard quota > 0 else { return Int64(Int32.max) }
        return min(Int64(Int32.max), Int64((-tokens / quota * 1000).rounded(.up)))
    }
}
