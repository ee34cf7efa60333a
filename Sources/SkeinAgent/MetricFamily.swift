/// Prometheus' metric kinds as the host-metrics record names them.
public enum MetricType: String, Sendable, Equatable {
    case counter
    case gauge
    case untyped
}

/// One labelled value of a family.
public struct MetricSample: Sendable, Equatable {
    /// Ordered pairs rather than a dictionary: the order stays stable from sample set to sample set,
    /// which keeps records diffable and the encoder free of sorting.
    public var labels: [(name: String, value: String)]
    public var value: Double

    public init(labels: [(name: String, value: String)] = [], value: Double) {
        self.labels = labels
        self.value = value
    }

    public static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.value == rhs.value && lhs.labels.elementsEqual(rhs.labels) { $0.name == $1.name && $0.value == $1.value }
    }

    public func label(_ name: String) -> String? {
        labels.first { $0.name == name }?.value
    }
}

/// A metric name with its help text, type and samples: what one `# HELP`/`# TYPE` block holds in
/// the text exposition format.
public struct MetricFamily: Sendable, Equatable {
    public var name: String
    public var type: MetricType
    public var help: String
    public var samples: [MetricSample]

    public init(name: String, type: MetricType, help: String, samples: [MetricSample] = []) {
        self.name = name
        self.type = type
        self.help = help
        self.samples = samples
    }

    /// A family with a single unlabelled sample.
    public init(name: String, type: MetricType, help: String, value: Double) {
        self.init(name: name, type: type, help: help, samples: [MetricSample(value: value)])
    }
}

extension Array where Element == MetricFamily {
    public func family(named name: String) -> MetricFamily? {
        first { $0.name == name }
    }
}

/// Prometheus' naming rules, checked before anything leaves the agent so that the broker never
/// has to reject a record for a name the agent made up (a `/proc/meminfo` field with a character
/// nobody expected, say).
public enum PrometheusNames {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    public static func isValidMetricName(_ name: String) -> Bool {
        isValid(name, allowsColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with the reserved `__`.
    public static func isValidLabelName(_ name: String) -> Bool {
        isValid(name, allowsColon: false) && !name.hasPrefix("__")
    }

    private static func isValid(_ name: String, allowsColon: Bool) -> Bool {
        guard !name.isEmpty else { return false }
        for (index, byte) in name.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                continue
            case UInt8(ascii: "0")...UInt8(ascii: "9") where index > 0:
                continue
            case UInt8(ascii: ":") where allowsColon:
                continue
            default:
                return false
            }
        }
        return true
    }

    /// Replaces every character outside the metric-name alphabet by `_`, the way node_exporter
    /// turns `Active(anon)` into `Active_anon`.
    public static func sanitizedNamePart(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var previousWasUnderscore = false
        for byte in text.utf8 {
            let isAllowed =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            if isAllowed {
                bytes.append(byte)
                previousWasUnderscore = false
            } else if !previousWasUnderscore {
                bytes.append(UInt8(ascii: "_"))
                previousWasUnderscore = true
            }
        }
        while bytes.last == UInt8(ascii: "_") { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
