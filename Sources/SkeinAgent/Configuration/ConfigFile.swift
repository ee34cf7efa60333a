import TOMLKit

public struct ConfigFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based; 0 when the error belongs to no line (a flag, an environment variable, a missing table).
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}

/// The agent's configuration file: TOML 1.0, parsed by TOMLKit (toml++), plus the line of every table
/// and key so that a setting's error can name its line, which TOMLKit's tree does not keep.
public struct ConfigFile {
    public let root: ConfigTable

    public static func parse(_ text: String) throws(ConfigFileError) -> ConfigFile {
        // toml++ reads a C string: a NUL would silently end the document early.
        guard !text.utf8.contains(0) else {
            throw ConfigFileError(line: ConfigLineIndex.lineOfFirstNUL(text), message: "the file contains a NUL byte")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigFileError(line: error.source.begin.line, message: "TOML syntax: \(error.description)")
        } catch {
            throw ConfigFileError(line: 0, message: "TOML syntax: \(error)")
        }
        return ConfigFile(root: ConfigTable(table: table, path: [], lines: ConfigLineIndex(text)))
    }
}

/// One TOML table with its dotted path, read through typed accessors whose errors name the line.
public struct ConfigTable {
    let table: TOMLTable
    public let path: [String]
    let lines: ConfigLineIndex

    /// `[sources.files.nginx]`, as the file writes the header.
    public var name: String {
        path.isEmpty ? "the top level" : "[" + path.map(ConfigLineIndex.quotedIfNeeded).joined(separator: ".") + "]"
    }

    /// Keys in name order (TOMLKit's tables are ordered maps).
    public var keys: [String] { table.keys }

    public func contains(_ key: String) -> Bool { table[key] != nil }

    public func line(of key: String) -> Int { lines.line(of: path + [key]) }

    public var line: Int { lines.line(of: path) }

    public func error(_ key: String, _ message: String) -> ConfigFileError {
        ConfigFileError(line: line(of: key), message: "\(name) \(key): \(message)")
    }

    /// A misspelt key must not silently keep its default.
    public func rejectUnknownKeys(known: [String]) throws(ConfigFileError) {
        for key in keys where !known.contains(key) {
            throw ConfigFileError(
                line: line(of: key),
                message: "unknown key '\(key)' in \(name) (known: \(known.joined(separator: ", ")))")
        }
    }

    public func value(_ key: String) -> TOMLValue? { table[key]?.tomlValue }

    public func subtable(_ key: String) throws(ConfigFileError) -> ConfigTable? {
        guard let value = value(key) else { return nil }
        guard let subtable = value.table else { throw error(key, "must be a table, not \(Self.kind(value))") }
        return ConfigTable(table: subtable, path: path + [key], lines: lines)
    }

    public func string(_ key: String) throws(ConfigFileError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw error(key, "must be a quoted string, not \(Self.kind(value))") }
        return text
    }

    public func nonEmptyString(_ key: String) throws(ConfigFileError) -> String? {
        guard let text = try string(key) else { return nil }
        guard !text.isEmpty else { throw error(key, "is empty") }
        return text
    }

    public func bool(_ key: String) throws(ConfigFileError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.bool else { throw error(key, "must be true or false, not \(Self.kind(value))") }
        return flag
    }

    /// An integer in `range`.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let integer = value.int else { throw error(key, "must be a whole number, not \(Self.kind(value))") }
        guard range.contains(integer) else {
            throw error(key, "must be from \(range.lowerBound) to \(range.upperBound), not \(integer)")
        }
        return integer
    }

    /// An integer or a float (`interval = 15` and `interval = 0.5` both read as seconds).
    public func number(_ key: String, in range: ClosedRange<Double>) throws(ConfigFileError) -> Double? {
        guard let value = value(key) else { return nil }
        let number: Double
        if let integer = value.int {
            number = Double(integer)
        } else if let double = value.double {
            number = double
        } else {
            throw error(key, "must be a number, not \(Self.kind(value))")
        }
        guard number.isFinite, range.contains(number) else {
            throw error(
                key,
                "must be from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), not \(Self.format(number))"
            )
        }
        return number
    }

    /// An array of strings; a single string is taken as a one-element array when `orString`.
    public func strings(_ key: String, orString: Bool = false) throws(ConfigFileError) -> [String]? {
        guard let value = value(key) else { return nil }
        if orString, let text = value.string { return [text] }
        guard let array = value.array else {
            throw error(key, "must be an array of strings, not \(Self.kind(value))")
        }
        var result: [String] = []
        for element in array {
            guard let text = element.string else {
                throw error(key, "must be an array of strings; it holds \(Self.kind(element.tomlValue))")
            }
            result.append(text)
        }
        return result
    }

    /// A byte size: an integer of bytes or a string with a binary unit, `"64MiB"`.
    public func byteSize(_ key: String, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int? {
        guard let value = value(key) else { return nil }
        let bytes: Int
        if let integer = value.int {
            bytes = integer
        } else if let text = value.string {
            guard let parsed = ByteSize.parse(text) else {
                throw error(
                    key, "'\(text)' is not a size: write bytes as an integer, or a number with B, KiB, MiB or GiB")
            }
            bytes = parsed
        } else {
            throw error(key, "must be an integer of bytes or a size such as \"64MiB\", not \(Self.kind(value))")
        }
        guard range.contains(bytes) else {
            throw error(
                key,
                "must be from \(ByteSize.format(range.lowerBound)) to \(ByteSize.format(range.upperBound)), not \(ByteSize.format(bytes))"
            )
        }
        return bytes
    }

    /// One of `choices` (case-sensitive, as Kafka's enumerated settings are).
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(ConfigFileError) -> T?
    where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let parsed = T(rawValue: text) else {
            throw error(
                key,
                "must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), not \"\(text)\"")
        }
        return parsed
    }

    static func kind(_ value: TOMLValue) -> String {
        switch value.type {
        case .string: "a string"
        case .int: "an integer"
        case .double: "a float"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .date, .time, .dateTime: "a date or time"
        }
    }

    static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}

/// Sizes as operators write them: bytes, or a number with a binary unit. Decimal units (MB) are refused
/// rather than guessed, since Vector and Fluent Bit disagree on what they mean.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
        let unit = trimmed.dropFirst(digits.count).trimmingWhitespace().lowercased()
        guard let number = Int(digits.filter { $0 != "_" }), !digits.isEmpty else { return nil }
        let shift: Int
        switch unit {
        case "", "b": shift = 0
        case "kib": shift = 10
        case "mib": shift = 20
        case "gib": shift = 30
        default: return nil
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : product
    }

    /// The largest exact unit: 65536 → "64KiB", 1000 → "1000B".
    public static func format(_ bytes: Int) -> String {
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes != 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)B"
    }
}

/// Where each table header and key of the file is, found by scanning the text: TOMLKit gives positions
/// only for syntax errors. Only lines that start a table or a key/value are indexed, so the content of
/// multi-line strings and arrays never counts as a key.
struct ConfigLineIndex {
    /// Full dotted path (table path + key path) → first line that defines it or something under it.
    private var firstLine: [[String]: Int] = [:]

    init(_ text: String) {
        var table: [String] = []
        var openMultilineString: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var scanner = LineScanner(Array(rawLine.utf8))
            if let delimiter = openMultilineString {
                if scanner.containsClosing(delimiter) { openMultilineString = nil }
                continue
            }
            scanner.skipSpaces()
            if scanner.peek == UInt8(ascii: "[") {
                scanner.advance()
                let isArrayTable = scanner.peek == UInt8(ascii: "[")
                if isArrayTable { scanner.advance() }
                guard let path = scanner.dottedKey() else { continue }
                table = path
                record(path, line: number)
                continue
            }
            guard let key = scanner.dottedKey() else { continue }
            scanner.skipSpaces()
            guard scanner.peek == UInt8(ascii: "=") else { continue }
            scanner.advance()
            record(table + key, line: number)
            scanner.skipSpaces()
            for delimiter in ["\"\"\"", "'''"] where scanner.hasPrefix(delimiter) {
                scanner.advance(by: 3)
                if !scanner.containsClosing(delimiter) { openMultilineString = delimiter }
            }
        }
    }

    private mutating func record(_ path: [String], line: Int) {
        guard !path.isEmpty else { return }
        for length in 1...path.count where firstLine[Array(path.prefix(length))] == nil {
            firstLine[Array(path.prefix(length))] = line
        }
    }

    /// The line of `path`, else of its nearest enclosing table or key (an inline table's member is
    /// reported at the line of the inline table); 0 when nothing matches.
    func line(of path: [String]) -> Int {
        var path = path
        while !path.isEmpty {
            if let line = firstLine[path] { return line }
            path.removeLast()
        }
        return 0
    }

    static func lineOfFirstNUL(_ text: String) -> Int {
        var line = 1
        for byte in text.utf8 {
            if byte == 0 { return line }
            if byte == UInt8(ascii: "\n") { line += 1 }
        }
        return 0
    }

    static func quotedIfNeeded(_ key: String) -> String {
        !key.isEmpty && key.utf8.allSatisfy(LineScanner.isBareKeyByte) ? key : "\"\(key)\""
    }
}

/// Reads keys at the start of one line: bare (`a-b_1`), "basic" or 'literal', dotted with optional spaces.
private struct LineScanner {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var peek: UInt8? { position < bytes.count ? bytes[position] : nil }
    mutating func advance(by count: Int = 1) { position += count }

    mutating func skipSpaces() {
        while let byte = peek, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    func hasPrefix(_ text: String) -> Bool {
        let expected = Array(text.utf8)
        return bytes.count - position >= expected.count
            && Array(bytes[position..<position + expected.count]) == expected
    }

    /// Whether the rest of the line closes a multi-line string opened with `delimiter`.
    func containsClosing(_ delimiter: String) -> Bool {
        let expected = Array(delimiter.utf8)
        guard bytes.count - position >= expected.count else { return false }
        var index = position
        while index + expected.count <= bytes.count {
            if Array(bytes[index..<index + expected.count]) == expected { return true }
            // Escaped quotes do not close a basic string.
            index += delimiter == "\"\"\"" && bytes[index] == UInt8(ascii: "\\") ? 2 : 1
        }
        return false
    }

    mutating func dottedKey() -> [String]? {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let part = simpleKey() else { return nil }
            parts.append(part)
            skipSpaces()
            guard peek == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    private mutating func simpleKey() -> String? {
        guard let first = peek else { return nil }
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            advance()
            var result: [UInt8] = []
            while let byte = peek {
                advance()
                if byte == first { return String(decoding: result, as: UTF8.self) }
                if byte == UInt8(ascii: "\\"), first == UInt8(ascii: "\""), let escaped = peek {
                    // Enough for keys: \" and \\ keep their character; other escapes are rare in keys.
                    advance()
                    result.append(escaped)
                    continue
                }
                result.append(byte)
            }
            return nil
        }
        let start = position
        while let byte = peek, Self.isBareKeyByte(byte) { advance() }
        return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "-")
    }
}
