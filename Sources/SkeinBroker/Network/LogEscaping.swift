import Logging

/// Client-supplied text (client ids, topic, group and member ids, principals) reaches log lines. A line
/// break in it would let a client write lines that look like the broker's own, a `critical` one
/// included, so control characters are shown escaped. Swift's `Character` joins "\r\n" into one
/// grapheme, so the checks run on Unicode scalars.
extension StringProtocol {
    /// The text with C0 and C1 controls, DEL and the Unicode line and paragraph separators escaped
    /// (`\n`, `\r`, `\t`, otherwise `\u{85}`); the text itself when it has none, which is the usual case.
    public var escapedForLog: String {
        guard unicodeScalars.contains(where: LogEscaping.needsEscape) else { return String(self) }
        var out = String.UnicodeScalarView()
        for scalar in unicodeScalars { LogEscaping.append(scalar, to: &out, quoting: false) }
        return String(out)
    }

    /// The text in double quotes, with quotes and backslashes escaped as well as controls, so a reader
    /// sees exactly where a client's string starts and ends. Past 200 characters the rest is counted,
    /// not shown: a client id may be 32 KiB, and a warning should stay readable.
    public var quotedForLog: String {
        var out = String.UnicodeScalarView()
        out.append("\"")
        var shown = 0
        for scalar in unicodeScalars {
            if shown == LogEscaping.quotedLimit {
                out.append(contentsOf: "\"… (\(unicodeScalars.count - shown) more characters)".unicodeScalars)
                return String(out)
            }
            LogEscaping.append(scalar, to: &out, quoting: true)
            shown += 1
        }
        out.append("\"")
        return String(out)
    }
}

extension Optional where Wrapped: StringProtocol {
    /// A nullable protocol string (a client id, say) as a log shows it: quoted, or `null`.
    var quotedForLog: String { map(\.quotedForLog) ?? "null" }
}

enum LogEscaping {
    static let quotedLimit = 200

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: return true
        default: return false
        }
    }

    static func append(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView, quoting: Bool) {
        switch scalar {
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        case "\"" where quoting: out.append(contentsOf: "\\\"".unicodeScalars)
        case "\\" where quoting: out.append(contentsOf: "\\\\".unicodeScalars)
        case _ where needsEscape(scalar):
            out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
        default: out.append(scalar)
        }
    }

    static func escape(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(text.escapedForLog)
        case .stringConvertible(let value): .string(value.description.escapedForLog)
        case .array(let values): .array(values.map(escape))
        case .dictionary(let metadata): .dictionary(escape(metadata))
        }
    }

    static func escape(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var escaped: Logger.Metadata = [:]
        for (key, value) in metadata { escaped[key.escapedForLog] = escape(value) }
        return escaped
    }

    /// Stands in for a logged error whose description held controls.
    struct EscapedError: Error, CustomStringConvertible {
        var description: String
    }
}

/// Wraps any log handler so that every line it writes stays one line: the message, the metadata (keys,
/// values, provided metadata) and an attached error are escaped by `escapedForLog` before the wrapped
/// handler formats them. skeind installs it around its stderr handler; tests can wrap a capturing one.
/// This is the safety net under every log call; the connection path also quotes client strings so a
/// reader can tell them from the broker's words.
public struct EscapingLogHandler<Wrapped: LogHandler>: LogHandler {
    public var wrapped: Wrapped

    public init(_ wrapped: Wrapped) {
        self.wrapped = wrapped
        self.wrapped.metadata = LogEscaping.escape(wrapped.metadata)
        if let provider = wrapped.metadataProvider { self.metadataProvider = provider }
    }

    public func log(event: LogEvent) {
        var event = event
        let message = event.message.description
        if message.unicodeScalars.contains(where: LogEscaping.needsEscape) {
            event.message = Logger.Message(stringLiteral: message.escapedForLog)
        }
        if let metadata = event.metadata { event.metadata = LogEscaping.escape(metadata) }
        if let error = event.error {
            let description = String(describing: error)
            if description.unicodeScalars.contains(where: LogEscaping.needsEscape) {
                event.error = LogEscaping.EscapedError(description: description.escapedForLog)
            }
        }
        wrapped.log(event: event)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key.escapedForLog] = newValue.map(LogEscaping.escape) }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = LogEscaping.escape(newValue) }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set {
            wrapped.metadataProvider = newValue.map { provider in
                Logger.MetadataProvider { LogEscaping.escape(provider.get()) }
            }
        }
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }
}
