import Logging
import SkeinClient
import SkeinCompression
import SkeinLogShipping
import Synchronization

/// A record waiting for delivery.
public struct OutgoingRecord: Sendable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var headers: [RecordHeader]
    public var timestampMilliseconds: Int64

    public init(key: [UInt8], value: [UInt8], headers: [RecordHeader], timestampMilliseconds: Int64) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }
}

/// Counters of the delivery path, reported in every sample set as `skein_agent_*`.
public struct ShipperStatistics: Sendable, Equatable {
    public var sent = 0
    public var dropped = 0
    public var failedAttempts = 0
    public var buffered = 0
}

/// Delivers records to one topic in order, one at a time, through a buffer that drops the oldest
/// when full.
///
/// One record is in flight at a time: at one record per interval there is nothing to batch, and
/// awaiting each acknowledgement keeps the retry logic here simple – on any failure the record goes
/// back to the front, the producer is discarded (a fresh one gets a fresh producer id, so no
/// idempotence sequence state survives a broker restart or an abandoned send), and delivery resumes
/// after a backoff. Sampling never waits for any of this.
public actor RecordShipper {
    public struct Settings: Sendable {
        public var bootstrapServers: [String]
        public var topic: String
        public var clientId: String
        public var capacity: Int
        public var compression: CompressionCodec
        /// A send that has not completed by then counts as failed (the broker may be hung rather than
        /// down). Longer than the client's own worst case (10 s for metadata, 40 s for a request), so a
        /// send given up here is one the producer has stopped retrying as well.
        public var sendTimeout: Duration = .seconds(60)
        public var initialBackoff: Duration = .milliseconds(200)
        public var maximumBackoff: Duration = .seconds(5)
        public var security = ClientSecurity()

        public init(
            bootstrapServers: [String], topic: String, clientId: String, capacity: Int,
            compression: CompressionCodec = .none
        ) {
            self.bootstrapServers = bootstrapServers
            self.topic = topic
            self.clientId = clientId
            self.capacity = capacity
            self.compression = compression
        }
    }

    public let settings: Settings
    private let logger: Logger
    private var buffer: BoundedRecordBuffer<OutgoingRecord>
    private var producer: Producer?
    private var sent = 0
    private var failedAttempts = 0
    private var consecutiveFailures = 0
    private var finishDeadline: ContinuousClock.Instant?
    private var isRunning = false
    /// The wait for the send in flight, which `finish` can cut short at its deadline.
    private var inFlight: OnceValue<Void>?
    /// The parked `run` loop: waiting for work, or backing off after a failure.
    private var parked: (id: UInt64, continuation: CheckedContinuation<Void, Never>, wakesOnWork: Bool)?
    private var nextParkId: UInt64 = 0

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.buffer = BoundedRecordBuffer(capacity: settings.capacity)
    }

    public var statistics: ShipperStatistics {
        ShipperStatistics(
            sent: sent, dropped: buffer.droppedCount, failedAttempts: failedAttempts, buffered: buffer.count)
    }

    public func enqueue(_ record: OutgoingRecord) {
        let droppedBefore = buffer.droppedCount
        buffer.append(record)
        if buffer.droppedCount > droppedBefore, buffer.droppedCount == 1 || buffer.droppedCount % 100 == 0 {
            logger.warning(
                "delivery buffer full: dropped the oldest sample set",
                metadata: ["dropped_total": "\(buffer.droppedCount)", "capacity": "\(buffer.capacity)"])
        }
        if let parked, parked.wakesOnWork { wake(parked.id) }
    }

    /// Asks `run` to deliver what is buffered until `deadline`, then return.
    public func finish(deadline: ContinuousClock.Instant) {
        finishDeadline = deadline
        if let parked { wake(parked.id) }
        if let inFlight {
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                inFlight.resume(with: .failure(KafkaClientError.timedOut("delivery at shutdown")))
            }
        }
    }

    /// Delivers until `finish` was called and the buffer is empty or the deadline passed, or the
    /// task is cancelled.
    public func run() async {
        precondition(!isRunning, "run() must not be called twice")
        isRunning = true
        while !Task.isCancelled {
            if let deadline = finishDeadline, ContinuousClock.now >= deadline { break }
            guard let record = buffer.popFirst() else {
                if finishDeadline != nil { break }
                await park(for: nil, wakesOnWork: true)
                continue
            }
            let outcome = await deliver(record)
            switch outcome {
            case .success:
                sent += 1
                if consecutiveFailures > 0 {
                    logger.notice(
                        "delivering again",
                        metadata: ["failed_attempts": "\(consecutiveFailures)", "topic": "\(settings.topic)"])
                }
                consecutiveFailures = 0
            case .failure(let error):
                buffer.returnToFront(record)
                failedAttempts += 1
                consecutiveFailures += 1
                if consecutiveFailures == 1 || consecutiveFailures % 20 == 0 {
                    logger.warning(
                        "cannot deliver sample sets; keeping them buffered and retrying",
                        metadata: [
                            "error": "\(error)", "buffered": "\(buffer.count)",
                            "failed_attempts": "\(consecutiveFailures)",
                        ])
                }
                discardProducer()
                var backoff = settings.initialBackoff
                for _ in 1..<min(consecutiveFailures, 16) where backoff < settings.maximumBackoff { backoff *= 2 }
                backoff = min(backoff, settings.maximumBackoff)
                if let deadline = finishDeadline { backoff = min(backoff, max(deadline - .now, .zero)) }
                await park(for: backoff, wakesOnWork: false)
            }
        }
        if let producer {
            self.producer = nil
            await producer.close()
        }
        isRunning = false
    }

    private func deliver(_ record: OutgoingRecord) async -> Result<Void, any Error> {
        let producer: Producer
        do {
            producer = try currentProducer()
        } catch {
            return .failure(error)
        }
        let topic = settings.topic
        let send = Task {
            _ = try await producer.send(
                ProducerRecord(
                    topic: topic, key: record.key, value: record.value, headers: record.headers,
                    timestamp: record.timestampMilliseconds))
        }
        var timeout = settings.sendTimeout
        if let deadline = finishDeadline { timeout = min(timeout, max(deadline - .now, .milliseconds(1))) }
        let once = OnceValue<Void>()
        inFlight = once
        defer { inFlight = nil }
        return await withTaskCancellationHandler {
            await Self.value(of: send, timeout: timeout, once: once)
        } onCancel: {
            once.resume(with: .failure(CancellationError()))
        }
    }

    private func currentProducer() throws -> Producer {
        if let producer { return producer }
        var configuration = ProducerConfiguration()
        configuration.acks = .all
        configuration.enableIdempotence = true
        configuration.clientId = settings.clientId
        configuration.compression = settings.compression
        configuration.linger = .zero
        // Retrying is this actor's job: a producer that retried on its own could deliver a record
        // after this actor gave up on it and queued it again, duplicating it out of order.
        configuration.retries = 0
        let created = try Producer(
            bootstrapServers: settings.bootstrapServers, configuration: configuration, logger: logger,
            security: settings.security)
        producer = created
        return created
    }

    /// Closing waits for the abandoned send to resolve (bounded by the client's own timeouts), so
    /// it happens off the delivery path.
    private func discardProducer() {
        guard let old = producer else { return }
        producer = nil
        Task { await old.close() }
    }

    // MARK: Waiting

    private func park(for duration: Duration?, wakesOnWork: Bool) async {
        nextParkId &+= 1
        let id = nextParkId
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                parked = (id, continuation, wakesOnWork)
                if let duration {
                    Task {
                        try? await Task.sleep(for: duration)
                        self.wake(id)
                    }
                }
            }
        } onCancel: {
            Task { await self.wake(id) }
        }
    }

    private func wake(_ id: UInt64) {
        guard let parked, parked.id == id else { return }
        self.parked = nil
        parked.continuation.resume()
    }

    /// The task's outcome, or a timeout failure if it has not finished within `timeout`, or whatever
    /// else resumes `once` first. The task is left to finish on its own: a Kafka send cannot be
    /// withdrawn once written.
    static func value(
        of task: Task<Void, any Error>, timeout: Duration, once: OnceValue<Void>
    ) async -> Result<Void, any Error> {
        do {
            try await withCheckedThrowingContinuation { continuation in
                once.install(continuation)
                let timer = Task {
                    do {
                        try await Task.sleep(for: timeout)
                        once.resume(with: .failure(KafkaClientError.timedOut("delivery after \(timeout)")))
                    } catch {
                        // Cancelled: the send finished first.
                    }
                }
                Task {
                    let result: Result<Void, any Error>
                    do {
                        try await task.value
                        result = .success(())
                    } catch {
                        result = .failure(error)
                    }
                    timer.cancel()
                    once.resume(with: result)
                }
            }
            return .success(())
        } catch {
            return .failure(error)
        }
    }
}
