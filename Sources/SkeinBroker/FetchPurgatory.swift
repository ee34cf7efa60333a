import Foundation
import NIOCore
import SkeinLog

/// Fetch requests waiting for data (Kafka's "fetch purgatory"). A consumer at the end of the log parks
/// its request here; an append to any partition it watches wakes it, and its timer answers it at
/// `max_wait_ms` otherwise. Each waiter is completed exactly once, on its own event loop.
final class FetchPurgatory: @unchecked Sendable {
    final class Waiter: @unchecked Sendable {
        let eventLoop: any EventLoop
        /// Re-reads and answers if there is now enough data (or `force`); returns whether it answered.
        let attempt: (_ force: Bool) -> Bool
        let partitions: [TopicPartition]
        fileprivate var done = false
        fileprivate var timeout: Scheduled<Void>?
        /// Set (under the purgatory's lock) while a re-check is queued, so a burst of appends costs one
        /// re-read per waiter, not one per append.
        fileprivate var recheckQueued = false

        init(eventLoop: any EventLoop, partitions: [TopicPartition], attempt: @escaping (_ force: Bool) -> Bool) {
            self.eventLoop = eventLoop
            self.partitions = partitions
            self.attempt = attempt
        }
    }

    private let lock = NSLock()
    private var watchers: [TopicPartition: [ObjectIdentifier: Waiter]] = [:]

    /// Parks `waiter` until data arrives on one of its partitions or `maxWaitMs` passes.
    func park(_ waiter: Waiter, maxWaitMs: Int64) {
        lock.withLock {
            for partition in waiter.partitions { watchers[partition, default: [:]][ObjectIdentifier(waiter)] = waiter }
        }
        waiter.timeout = waiter.eventLoop.scheduleTask(in: .milliseconds(maxWaitMs)) { [self] in
            self.finish(waiter, force: true)
        }
        // Data appended between the caller's first read and the registration above woke nobody; one more
        // look closes that window instead of leaving the consumer to wait out max_wait_ms.
        waiter.eventLoop.execute { self.finish(waiter, force: false) }
    }

    /// Called after an append: every waiter on the partition re-checks on its event loop.
    func wake(_ partition: TopicPartition) {
        let waiting: [Waiter] = lock.withLock {
            guard let watching = watchers[partition] else { return [] }
            return watching.values.filter { waiter in
                guard !waiter.recheckQueued else { return false }
                waiter.recheckQueued = true
                return true
            }
        }
        for waiter in waiting {
            waiter.eventLoop.execute {
                // Cleared before the re-read, so an append during it queues another look.
                self.lock.withLock { waiter.recheckQueued = false }
                self.finish(waiter, force: false)
            }
        }
    }

    private func finish(_ waiter: Waiter, force: Bool) {
        waiter.eventLoop.preconditionInEventLoop()
        guard !waiter.done else { return }
        guard waiter.attempt(force) else { return }
        waiter.done = true
        waiter.timeout?.cancel()
        lock.withLock {
            for partition in waiter.partitions {
                watchers[partition]?[ObjectIdentifier(waiter)] = nil
                if watchers[partition]?.isEmpty == true { watchers[partition] = nil }
            }
        }
    }

    var waitingCount: Int { lock.withLock { Set(watchers.values.flatMap(\.keys)).count } }
}
