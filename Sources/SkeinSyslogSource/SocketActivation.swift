import Glibc
import Synchronization

/// Sockets systemd passed to this process (`sd_listen_fds_with_names` done by hand: it is three environment
/// variables, not worth linking libsystemd for). A name may be given to several descriptors, e.g.
/// `ListenDatagram=` on both IPv4 and IPv6; `fd:NAME` takes all of them.
public enum SocketActivation {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// NAME → descriptors, when LISTEN_PID names this process.
    public static func passedDescriptors(environment: [String: String], pid: Int32) -> [String: [CInt]] {
        guard let listenPID = environment["LISTEN_PID"].flatMap({ Int32($0) }), listenPID == pid,
            let count = environment["LISTEN_FDS"].flatMap({ Int($0) }), count > 0, count < 4096
        else { return [:] }
        let names = environment["LISTEN_FDNAMES"].map { $0.split(separator: ":", omittingEmptySubsequences: false) }
        var result: [String: [CInt]] = [:]
        for offset in 0..<count {
            // systemd's name for a descriptor its unit did not name.
            let name = names.flatMap { offset < $0.count ? String($0[offset]) : nil } ?? "unknown"
            result[name, default: []].append(CInt(3 + offset))
        }
        return result
    }

    private static let passed: [String: [CInt]] = {
        var environment: [String: String] = [:]
        for key in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            if let value = getenv(key) { environment[key] = String(cString: value) }
        }
        return passedDescriptors(environment: environment, pid: getpid())
    }()

    private static let claimed = Mutex<Set<String>>([])

    /// Copies (dup) of the descriptors named `name`, handed to one listener at a time (two listeners cannot
    /// share them). The inherited descriptors themselves stay open, so a listener that closes its copies at a
    /// reload leaves the socket to the next one; `release` when it stops.
    static func claim(_ name: String) throws(Error) -> [CInt] {
        guard let descriptors = passed[name], !descriptors.isEmpty else {
            let known = passed.keys.sorted().joined(separator: ", ")
            throw Error(
                description:
                    "no socket named '\(name)' was passed by systemd (LISTEN_FDNAMES: \(known.isEmpty ? "none" : known))"
            )
        }
        let fresh = claimed.withLock { $0.insert(name).inserted }
        guard fresh else { throw Error(description: "the socket named '\(name)' is used by two listeners") }
        var copies: [CInt] = []
        for descriptor in descriptors {
            let copy = fcntl(descriptor, F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else {
                for made in copies { close(made) }
                release(name)
                throw Error(description: "the socket named '\(name)': dup: errno \(errno)")
            }
            copies.append(copy)
        }
        return copies
    }

    /// Makes the sockets named `name` claimable again (after their listener closed its copies).
    static func release(_ name: String) {
        _ = claimed.withLock { $0.remove(name) }
    }

    /// SO_TYPE and SO_DOMAIN of a descriptor, to refuse a stream socket where datagrams are expected.
    static func kind(of descriptor: CInt) -> (type: CInt, domain: CInt)? {
        var type: CInt = 0
        var domain: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return nil }
        length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 else { return nil }
        return (type, domain)
    }
}
