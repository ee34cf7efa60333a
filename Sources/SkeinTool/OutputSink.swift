#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffered writes to a file descriptor: records go out in 256 KiB writes rather than a syscall
/// each, which is most of the cost of printing a million small records.
///
/// A closed pipe (`skein consume | head`) ends the program quietly with status 0, as `cat` does.
public final class OutputSink {
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private let capacity: Int
    public private(set) var bytesWritten = 0

    public init(descriptor: Int32 = 1, capacity: Int = 256 * 1024) {
        self.descriptor = descriptor
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
        // Without this a closed pipe kills the process with SIGPIPE before write can report EPIPE.
        signal(SIGPIPE, SIG_IGN)
    }

    public var isTerminal: Bool { isatty(descriptor) == 1 }

    public func write(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { flush() }
    }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { write($0) }
    }

    public func write(byte: UInt8) {
        buffer.append(byte)
        if buffer.count >= capacity { flush() }
    }

    public func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { exit(0) }
                break
            }
            offset += written
        }
        bytesWritten += offset
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// A one-line progress report on stderr, rewritten in place a few times a second, only when
/// stderr is a terminal (so scripts and logs never see it).
public final class ProgressLine {
    private let enabled: Bool
    private let label: String
    private let started = ContinuousClock.now
    private var lastShown = ContinuousClock.now
    private var shownOnce = false

    public init(label: String, enabled: Bool = isatty(2) == 1) {
        self.label = label
        self.enabled = enabled
    }

    public func update(records: Int, bytes: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastShown >= .milliseconds(250) else { return }
        lastShown = now
        shownOnce = true
        let seconds = max(
            Double((now - started).components.attoseconds) / 1e18 + Double((now - started).components.seconds), 0.001)
        let line =
            "\(label): \(Self.grouped(records)) records, \(Self.megabytes(bytes)) MB, \(Self.grouped(Int(Double(records) / seconds))) records/s"
        FileStream.standardError.write("\r\u{1B}[2K" + line)
    }

    /// Removes the line so the next output starts clean.
    public func finish() {
        guard enabled, shownOnce else { return }
        FileStream.standardError.write("\r\u{1B}[2K")
    }

    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    static func megabytes(_ bytes: Int) -> String {
        let tenths = bytes * 10 / 1_000_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// Unbuffered writes of whole lines to stderr.
public enum FileStream {
    case standardError

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
