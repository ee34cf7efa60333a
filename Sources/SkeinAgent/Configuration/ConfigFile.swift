/// A value in the agent's configuration file.
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case strings([String])

    public var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .integer(let value): String(value)
        case .float(let value): String(value)
        case .boolean(let value): String(value)
        case .strings(let values): "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
    }
}

public struct ConfigFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// The subset of TOML the agent's configuration file uses:
///
/// ```toml
/// # comment
/// [agent]
/// bootstrap = ["10.0.0.1:9092", "10.0.0.2:9092"]   # or one string
/// host_name = "web-1"
///
/// [sources.host_metrics]
/// interval = 15
/// topic = "metrics"
/// enabled = true
/// ```
///
/// Sections (`[name]` or dotted `[a.b]`), `key = value` with basic strings ("…" with \" \\ \n \t
/// escapes), literal strings ('…'), integers, floats, booleans and one-line arrays of strings.
/// No inline tables, multi-line strings or dates: the agent's settings need none, and a small
/// parser avoids a dependency (TOMLKit pulls in a C++ library).
public struct ConfigFile: Sendable, Equatable {
    /// Section name → key → value. Keys before any section header are in section "".
    public var sections: [String: [String: ConfigValue]]

    public init(sections: [String: [String: ConfigValue]] = [:]) {
        self.sections = sections
    }

    public static func parse(_ text: String) throws(ConfigFileError) -> ConfigFile {
        var sections: [String: [String: ConfigValue]] = [:]
        var section = ""
        var seenSections: Set<String> = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = Scanner(text: rawLine, line: number)
            scanner.skipSpaces()
            if scanner.atEndOrComment { continue }
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                scanner.skipSpaces()
                let name = try scanner.dottedKey()
                scanner.skipSpaces()
                try scanner.expect(UInt8(ascii: "]"))
                try scanner.expectEndOfLine()
                guard seenSections.insert(name).inserted else {
                    throw ConfigFileError(line: number, message: "section [\(name)] appears twice")
                }
                section = name
                sections[section, default: [:]] = sections[section] ?? [:]
                continue
            }
            let key = try scanner.bareKey()
            scanner.skipSpaces()
            try scanner.expect(UInt8(ascii: "="))
            scanner.skipSpaces()
            let value = try scanner.value()
            try scanner.expectEndOfLine()
            guard sections[section]?[key] == nil else {
                throw ConfigFileError(line: number, message: "key '\(key)' appears twice in [\(section)]")
            }
            sections[section, default: [:]][key] = value
        }
        return ConfigFile(sections: sections)
    }
}

/// Reads one line of the file byte by byte.
private struct Scanner {
    let bytes: [UInt8]
    let line: Int
    var position = 0

    init(text: Substring, line: Int) {
        var bytes = Array(text.utf8)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        self.bytes = bytes
        self.line = line
    }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    var atEndOrComment: Bool { peek == nil || peek == UInt8(ascii: "#") }

    mutating func advance() { position += 1 }

    mutating func skipSpaces() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    func fail(_ message: String) -> ConfigFileError {
        ConfigFileError(line: line, message: message)
    }

    mutating func expect(_ byte: UInt8) throws(ConfigFileError) {
        guard peek == byte else { throw fail("expected '\(Character(Unicode.Scalar(byte)))'") }
        advance()
    }

    mutating func expectEndOfLine() throws(ConfigFileError) {
        skipSpaces()
        guard atEndOrComment else { throw fail("unexpected text after the value") }
    }

    mutating func bareKey() throws(ConfigFileError) -> String {
        let start = position
        while let byte = peek, Self.isKeyByte(byte) { advance() }
        guard position > start else { throw fail("expected a key (letters, digits, '_' or '-')") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func dottedKey() throws(ConfigFileError) -> String {
        var parts = [try bareKey()]
        while peek == UInt8(ascii: ".") {
            advance()
            parts.append(try bareKey())
        }
        return parts.joined(separator: ".")
    }

    mutating func value() throws(ConfigFileError) -> ConfigValue {
        switch peek {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return .string(try string())
        case UInt8(ascii: "["):
            advance()
            var items: [String] = []
            while true {
                skipSpaces()
                if peek == UInt8(ascii: "]") {
                    advance()
                    return .strings(items)
                }
                items.append(try string())
                skipSpaces()
                if peek == UInt8(ascii: ",") {
                    advance()
                } else if peek != UInt8(ascii: "]") {
                    throw fail("expected ',' or ']' in the array (arrays hold strings and fit on one line)")
                }
            }
        default:
            let start = position
            while let byte = peek, byte != UInt8(ascii: " "), byte != UInt8(ascii: "\t"), byte != UInt8(ascii: "#") {
                advance()
            }
            let word = String(decoding: bytes[start..<position], as: UTF8.self)
            if word == "true" { return .boolean(true) }
            if word == "false" { return .boolean(false) }
            let digits = word.replacingUnderscores()
            if let integer = Int64(digits) { return .integer(integer) }
            if let float = Double(digits), float.isFinite, digits.contains(where: { $0.isNumber }) {
                return .float(float)
            }
            throw fail(word.isEmpty ? "missing value" : "cannot read value '\(word)' (strings need quotes)")
        }
    }

    mutating func string() throws(ConfigFileError) -> String {
        guard let quote = peek, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
            throw fail("expected a quoted string")
        }
        advance()
        var result: [UInt8] = []
        while let byte = peek {
            advance()
            if byte == quote { return String(decoding: result, as: UTF8.self) }
            guard byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") else {
                result.append(byte)
                continue
            }
            guard let escaped = peek else { break }
            advance()
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): result.append(escaped)
            case UInt8(ascii: "n"): result.append(UInt8(ascii: "\n"))
            case UInt8(ascii: "t"): result.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "r"): result.append(UInt8(ascii: "\r"))
            default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(escaped)))'")
            }
        }
        throw fail("unterminated string")
    }

    static func isKeyByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }
}

extension String {
    /// TOML allows `1_000` between digits.
    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}
