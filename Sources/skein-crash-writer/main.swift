import Dispatch
import SkeinLog
import SkeinTestSupport

// Appends batches to one partition with fsync-before-ack and prints each acknowledged batch's first offset
// on its own line. The crash test SIGKILLs this process at random moments and then checks that every
// printed offset survived. Batch content is a pure function of its base offset (see `expectedBatch`), so the
// checker can verify every byte without a copy.
#if canImport(Glibc)
    import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    writeLine("usage: skein-crash-writer DATA_DIR [MAX_BATCHES]", to: 2)
    exit(2)
}
let maxBatches = arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000

/// Unbuffered: a line the test reads is a batch that was already durable when it was written.
func writeLine(_ text: String, to descriptor: Int32) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
}

var config = LogConfig()
config.segmentBytes = 64 * 1024
config.indexIntervalBytes = 1024
let manager = try LogManager.open(directory: arguments[1])
let log = try manager.getOrCreateLog(TopicPartition("crash", 0), config: config)
log.updateConfig(config)

for _ in 0..<maxBatches {
    var batch = CrashWorkload.expectedBatch(baseOffset: log.logEndOffset)
    let result = try log.append(&batch)
    let durable = DispatchSemaphore(value: 0)
    let outcome = LockedResult()
    log.flush(upTo: result.lastOffset + 1) {
        outcome.set($0); durable.signal()
    }
    durable.wait()
    if case .failure(let error) = outcome.get() {
        writeLine("flush failed: \(error)", to: 2)
        exit(1)
    }
    writeLine(String(result.firstOffset), to: 1)
}
try manager.shutdown()

final class LockedResult: @unchecked Sendable {
    private var result: Result<Void, LogError> = .success(())
    private let lock = DispatchSemaphore(value: 1)
    func set(_ value: Result<Void, LogError>) { lock.wait(); result = value; lock.signal() }
    func get() -> Result<Void, LogError> { lock.wait(); defer { lock.signal() }; return result }
}
