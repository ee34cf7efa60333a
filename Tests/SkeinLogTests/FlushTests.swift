import Foundation
import Synchronization
import Testing

@testable import SkeinLog

@Suite struct FlushTests {
    @Test func waitersArrivingDuringAnFsyncShareTheNextOne() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("grouped", 0), config: smallConfig())
        // Hold the first fsync round open until every other waiter has queued behind it.
        let firstRoundEntered = DispatchSemaphore(value: 0)
        let releaseFirstRound = DispatchSemaphore(value: 0)
        let rounds = Atomic<Int>(0)
        log.beforeSync = {
            if rounds.add(1, ordering: .relaxed).oldValue == 0 {
                firstRoundEntered.signal()
                releaseFirstRound.wait()
            }
        }
        // The callback API registers each waiter before it returns, so no scheduling is involved.
        let done = DispatchGroup()
        let failures = Atomic<Int>(0)
        func waitFor(_ offset: Int64) {
            done.enter()
            log.flush(upTo: offset) { result in
                if case .failure = result { failures.add(1, ordering: .relaxed) }
                done.leave()
            }
        }
        try log.append(batch: smallBatch("first"))
        waitFor(1)
        #expect(firstRoundEntered.wait(timeout: .now() + 30) == .success)
        for index in 0..<16 { waitFor(try log.append(batch: smallBatch("w\(index)")).lastOffset + 1) }
        #expect(log.pendingFlushWaiters == 17)
        releaseFirstRound.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(log.flushCount == 2)
        #expect(log.recoveryPoint == 17)
    }

    @Test func flushOfAlreadyDurableDataReturnsWithoutAnFsync() async throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("durable", 0), config: smallConfig())
        try log.append(batch: smallBatch("x"))
        try await log.flush(upTo: 1)
        let before = log.flushCount
        try await log.flush(upTo: 1)
        try await log.flush(upTo: 0)
        #expect(log.flushCount == before)
    }

    @Test func flushRunsOffTheCallersThread() throws {
        let directory = TemporaryDirectory()
        let manager = try LogManager.open(directory: directory.path)
        let log = try manager.createLog(TopicPartition("threaded", 0), config: smallConfig())
        try log.append(batch: smallBatch("x"))
        let caller = pthread_self()
        let flushThread = Mutex<pthread_t?>(nil)
        log.beforeSync = { flushThread.withLock { $0 = pthread_self() } }
        let done = DispatchSemaphore(value: 0)
        log.flush(upTo: 1) { _ in done.signal() }
        #expect(done.wait(timeout: .now() + 10) == .success)
        let used = try #require(flushThread.withLock { $0 })
        #expect(pthread_equal(used, caller) == 0)
    }

    @Test func timedFlushFollowsFlushMs() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let manager = try LogManager.open(directory: directory.path, clock: clock)
        var config = smallConfig()
        config.flushMs = 1000
        let log = try manager.createLog(TopicPartition("timed-flush", 0), config: config)
        try log.append(batch: smallBatch("x"))
        #expect(!log.needsTimedFlush(now: clock.milliseconds() + 999))
        #expect(log.needsTimedFlush(now: clock.milliseconds() + 1000))
        clock.advance(by: 1000)
        manager.flushExpiredPartitions()
        #expect(eventually { log.recoveryPoint == 1 })
        #expect(!log.needsTimedFlush(now: clock.milliseconds() + 10_000))
    }
}
