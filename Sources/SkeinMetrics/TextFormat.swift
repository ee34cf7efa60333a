/// The kind of a metric family, as written on its `# TYPE` line.
public enum MetricType: String, Sendable, Equatable {
    case counter
    case gauge
    case histogram
    case untyped
}

/// Writes Prometheus text exposition format 0.0.4. The writer trusts its callers on names (they are
/// constants or validated on input) and escapes everything that comes from outside: help texts and
/// label values.
public struct PrometheusTextWriter: Sendable {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public private(set) var output: String

    public init(capacity: Int = 4096) {
        output = ""
        output.reserveCapacity(capacity)
    }

    public mutating func family(_ name: String, type: MetricType, help: String) {
        output += "# HELP "
        output += name
        if !help.isEmpty {
            output += " "
            Self.appendEscaped(help, to: &output, quote: false)
        }
        output += "\n# TYPE "
        output += name
        output += " "
        output += type.rawValue
        output += "\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        output += name
        if !labels.isEmpty {
            output += "{"
            var first = true
            for (labelName, labelValue) in labels {
                if !first { output += "," }
                first = false
                output += labelName
                output += "=\""
                Self.appendEscaped(labelValue, to: &output, quote: true)
                output += "\""
            }
            output += "}"
        }
        output += " "
        output += Self.format(value)
        output += "\n"
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int) {
        sample(name, labels, Double(value))
    }

    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Int64) {
        sample(name, labels, Double(value))
    }

    /// Integral values print without a fraction (`le="1"`, not `le="1.0"`), as Prometheus' own clients
    /// do, so bucket labels in queries look the same whichever exporter produced them.
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Help text escapes backslash and newline; label values also escape the double quote.
    static func appendEscaped(_ text: String, to output: inout String, quote: Bool) {
        // By Unicode scalar, not Character: "\r\n" is one Character that equals neither "\r" nor "\n", and an
        // unescaped line break would let a group id or a host record forge series or break the scrape.
        guard text.unicodeScalars.contains(where: { $0 == "\\" || $0 == "\n" || $0 == "\r" || (quote && $0 == "\"") })
        else {
            output += text
            return
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
            // The format has no escape for CR; a line break is what matters, so CR is written as \n too.
            case "\r": escaped.append(contentsOf: "\\n".unicodeScalars)
            case "\"" where quote: escaped.append(contentsOf: "\\\"".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        output += String(escaped)
    }

}

/// Prometheus' naming rules, used to vet names that arrive from outside (the host-metrics topic).
public enum MetricNames {
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") || first == UInt8(ascii: ":") else { return false }
        return name.utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
        }
    }

    /// Label names starting with `__` are reserved for Prometheus itself.
    public static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") else { return false }
        guard !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
