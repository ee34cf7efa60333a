/// Sends WATCHDOG=1 every half `WATCHDOG_USEC`, but only after `probe` has answered true within a quarter of
/// it: a process whose event loops or storage stop answering falls silent, and systemd restarts it
/// (`WatchdogSec=`). A stopped or hung process sends nothing either, which is the point: a timer thread that
/// pinged regardless would keep a wedged broker "alive".
public enum ServiceWatchdog {
    /// Starts the loop when the manager asked for a watchdog; nil otherwise. Cancel the task to stop it.
    public static func start(
        notifier: ServiceNotifier = .shared, probe: @escaping @Sendable () async -> Bool
    ) -> Task<Void, Never>? {
        guard notifier.isEnabled, let interval = notifier.watchdogInterval else { return nil }
        let period = Duration.milliseconds(Int64(interval * 500))
        let bound = Duration.milliseconds(Int64(interval * 250))
        return Task.detached {
            let clock = ContinuousClock()
            while !Task.isCancelled {
                let started = clock.now
                let healthy = await probe()
                if healthy && clock.now - started <= bound { notifier.watchdog() }
                try? await Task.sleep(until: started + period, clock: clock)
            }
        }
    }

    /// Keeps extending the start timeout while `work` has not finished: `EXTEND_TIMEOUT_USEC` of three times
    /// `every` is sent each `every`, with `status(seconds so far)`. Returns the task to cancel when it is done.
    public static func extendWhile(
        notifier: ServiceNotifier = .shared, every seconds: Double = 10,
        status: @escaping @Sendable (Int) -> String
    ) -> Task<Void, Never>? {
        guard notifier.isEnabled else { return nil }
        // The first one goes out before `work` begins, not from the task: a task scheduled late on a busy
        // machine could otherwise be cancelled before it sent anything, leaving the manager unaware.
        notifier.extendTimeout(seconds: seconds * 3, status: status(0))
        return Task.detached {
            let clock = ContinuousClock()
            let start = clock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                guard !Task.isCancelled else { break }
                let elapsed = Int((clock.now - start).components.seconds)
                notifier.extendTimeout(seconds: seconds * 3, status: status(elapsed))
            }
        }
    }
}
