/// `[sources.syslog.NAME]`: where a syslog source listens and how much of a message it keeps.
public struct SyslogSourceSettings: Sendable, Equatable {
    /// `syslog.NAME`.
    public var id: String
    /// nil: `[delivery] topic`.
    public var topic: String?
    public var udp: [SyslogEndpoint] = []
    /// Newline and octet-counted framing, detected per connection.
    public var tcp: [SyslogEndpoint] = []
    /// Datagram sockets (`/dev/log` style).
    public var unix: [SyslogEndpoint] = []
    /// A longer message is cut to this many bytes and flagged `truncated`.
    public var maxMessageBytes = 65536

    public init(id: String, topic: String? = nil) {
        self.id = id
        self.topic = topic
    }

    public var endpointCount: Int { udp.count + tcp.count + unix.count }
}

/// One listener: an address or path to bind, or a socket systemd passed in (socket activation).
public enum SyslogEndpoint: Sendable, Equatable, CustomStringConvertible {
    case address(host: String, port: Int)
    case path(String)
    /// `fd:NAME`: the descriptor whose LISTEN_FDNAMES entry is NAME.
    case activated(name: String)

    /// `HOST:PORT`, `[v6]:PORT` or `fd:NAME` for network listeners; nil when it is neither.
    public static func network(_ text: String) -> SyslogEndpoint? {
        if let name = activatedName(text) { return .activated(name: name) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil
        }
        return .address(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    /// A socket path or `fd:NAME`.
    public static func unix(_ text: String) -> SyslogEndpoint? {
        if let name = activatedName(text) { return .activated(name: name) }
        guard !text.isEmpty, !text.hasPrefix("fd:"), text.utf8.count < 108 else { return nil }
        return .path(text)
    }

    /// systemd's fd names are up to 255 printable characters without ':'.
    private static func activatedName(_ text: String) -> String? {
        guard text.hasPrefix("fd:") else { return nil }
        let name = String(text.dropFirst(3))
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains(":"),
            name.utf8.allSatisfy({ $0 > 32 && $0 < 127 })
        else { return nil }
        return name
    }

    public var description: String {
        switch self {
        case .address(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .path(let path): path
        case .activated(let name): "fd:\(name)"
        }
    }
}
