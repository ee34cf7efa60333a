import Dispatch
import Synchronization

/// Slows down password guessing: each failed login from an address waits before its answer, twice as
/// long as that address's previous failure, up to a cap; an address quiet for a while starts over. The
/// wait is per answer, not a lock-out, so a user who mistyped is not locked out by an attacker.
final class AuthenticationFailureDelay: Sendable {
    private let initialMs: Int64
    private let maxMs: Int64
    private let forgetNanos: UInt64
    /// Bounded: above this many addresses the oldest are dropped, so a spray of sources cannot grow it.
    static let maxAddresses = 10_000
    private let failures: Mutex<[String: (count: Int, lastNanos: UInt64)]> = Mutex([:])

    init(settings: SASLSettings) {
        initialMs = settings.failedAuthenticationDelayMs
        maxMs = max(settings.failedAuthenticationDelayMaxMs, settings.failedAuthenticationDelayMs)
        forgetNanos = UInt64(settings.failedAuthenticationForgetMs) * 1_000_000
    }

    /// Records a failure from `address` and returns how long its answer waits, in milliseconds.
    func failed(address: String, nowNanos: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int64 {
        failures.withLock { failures in
            var entry = failures[address] ?? (0, nowNanos)
            if nowNanos &- entry.lastNanos > forgetNanos { entry.count = 0 }
            entry.count += 1
            entry.lastNanos = nowNanos
            if failures[address] == nil && failures.count >= Self.maxAddresses {
                let stale = failures.filter { nowNanos &- $0.value.lastNanos > forgetNanos }.map(\.key)
                for key in stale { failures[key] = nil }
                if failures.count >= Self.maxAddresses,
                    let oldest = failures.min(by: { $0.value.lastNanos < $1.value.lastNanos })
                {
                    failures[oldest.key] = nil
                }
            }
            failures[address] = entry
            guard initialMs > 0 else { return 0 }
            let doublings = min(entry.count - 1, 30)
            return min(maxMs, initialMs << doublings)
        }
    }

    /// The address part of a NIO remote-address description (`[IPv4]127.0.0.1/127.0.0.1:5000`).
    static func address(ofRemote remote: String) -> String {
        var rest = Substring(remote)
        if let slash = rest.lastIndex(of: "/") { rest = rest[rest.index(after: slash)...] }
        if let colon = rest.lastIndex(of: ":") { rest = rest[..<colon] }
        return String(rest)
    }
}
