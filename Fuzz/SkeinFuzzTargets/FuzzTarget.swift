/// The fuzzing entry points, one per untrusted input the project parses.
///
/// They live in a library rather than in the libFuzzer executable so that the normal test suite can feed
/// the same functions every seed and every input that once failed, without libFuzzer (see
/// Tests/SkeinFuzzTargetsTests). Each target decodes its input as the broker would and then checks
/// invariants that a decoder which merely does not crash could still break: round trips, two decoders
/// agreeing, output bounds, storage that reads back what recovery kept.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// One or more request frames as they arrive on a socket (size prefix included).
    case request
    /// One RecordBatch v2 (header, CRC, records; compressed payloads are decompressed).
    case recordBatch = "record-batch"
    /// A codec selector byte (gzip, snappy, lz4, zstd) followed by a compressed records section.
    case decompress
    /// A segment `.log` file recovered after a crash.
    case recovery
    /// One syslog message (UDP datagram or one framed TCP message), as any host may send it.
    case syslog
    /// A first byte choosing the size cap and read size, then a syslog TCP stream (RFC 6587 framing).
    case syslogFraming = "syslog-framing"
    /// A selector byte (API and version) and the body of a CreateAcls, DescribeAcls or DeleteAcls request.
    case aclRequest = "acl-request"
    /// A SASL exchange before login: PLAIN, or SCRAM's client-first and client-final messages.
    case sasl
    /// A selector byte, then a DescribeClientQuotas or AlterClientQuotas request body.
    case clientQuotas = "client-quotas"

    /// Runs `input` through the target and returns the invariants it broke, empty when all held. Inputs the
    /// code rightly refuses (an error thrown) are not violations; only a crash or a wrong answer is.
    public func check(_ input: UnsafeRawBufferPointer) -> [String] {
        var violations = Violations()
        switch self {
        case .request: RequestTarget.check(input, &violations)
        case .recordBatch: RecordBatchTarget.check(input, &violations)
        case .decompress: DecompressTarget.check(input, &violations)
        case .recovery: RecoveryTarget.check(input, &violations)
        case .syslog: SyslogParserTarget.check(input, &violations)
        case .syslogFraming: SyslogFramingTarget.check(input, &violations)
        case .aclRequest: AclRequestTarget.check(input, &violations)
        case .sasl: SASLTarget.check(input, &violations)
        case .clientQuotas: ClientQuotasTarget.check(input, &violations)
        }
        return violations.messages
    }

    public func check(_ input: [UInt8]) -> [String] {
        input.withUnsafeBytes { check($0) }
    }

    /// What libFuzzer calls: a broken invariant becomes a crash, which libFuzzer records with its input.
    public func run(_ input: UnsafeRawBufferPointer) {
        let violations = check(input)
        if !violations.isEmpty {
            fatalError("\(rawValue): " + violations.joined(separator: "; "))
        }
    }
}

/// Collects broken invariants; targets keep going after one so a report names all of them.
struct Violations {
    private(set) var messages: [String] = []

    mutating func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { messages.append(message()) }
    }

    mutating func fail(_ message: String) {
        messages.append(message)
    }
}
