import Glibc
import Logging
import NIOCore
import NIOPosix
import SkeinLogShipping
import SkeinMetricsHTTP
import Synchronization

struct SyslogListenerError: Error, CustomStringConvertible {
    var description: String
}

/// The sockets of one syslog source: binds or adopts them, and closes them all (connections included) at
/// shutdown so that every byte already read has become an event before the source drains its queue.
final class SyslogListeners: Sendable {
    let settings: SyslogSourceSettings
    let group: any EventLoopGroup
    let maker: SyslogEventMaker
    let intake: SyslogIntake
    let sink: any SourceSink
    let logger: Logger

    private struct State {
        var channels: [ObjectIdentifier: (channel: any Channel, listening: Bool)] = [:]
        var unixPaths: [String] = []
        /// Unix datagram sockets, kept so that a channel NIO closes (a zero-length datagram reads as end of
        /// file) is replaced by a new one on the same socket.
        var unixDescriptors: [CInt] = []
        var udpPorts: [Int] = []
        var stopping = false
    }

    private let state = Mutex(State())

    /// The local ports of the UDP sockets, for the kernel's drop counts.
    var udpPorts: [Int] { state.withLock { $0.udpPorts } }

    init(
        settings: SyslogSourceSettings, group: any EventLoopGroup, maker: SyslogEventMaker, intake: SyslogIntake,
        sink: any SourceSink, logger: Logger
    ) {
        self.settings = settings
        self.group = group
        self.maker = maker
        self.intake = intake
        self.sink = sink
        self.logger = logger
    }

    /// Opens every listener, or none: a failure closes what was opened and throws.
    func start() async throws {
        do {
            for endpoint in settings.tcp { try await startTCP(endpoint) }
            for endpoint in settings.udp { try await startUDP(endpoint) }
            for endpoint in settings.unix { try startUnix(endpoint) }
        } catch {
            await stop()
            throw error
        }
    }

    /// Closes the listeners, then every connection; returns once all are closed, so their last bytes
    /// have reached the intake.
    func stop() async {
        let (channels, descriptors, paths) = state.withLock { state in
            state.stopping = true
            defer {
                state.unixDescriptors = []
                state.unixPaths = []
                state.udpPorts = []
            }
            return (Array(state.channels.values), state.unixDescriptors, state.unixPaths)
        }
        // Listening sockets first, so no connection is accepted between the two passes.
        for (channel, listening) in channels where listening { try? await channel.close() }
        let rest = state.withLock { state in state.channels.values.map(\.channel) }
        for channel in rest { try? await channel.close() }
        for channel in rest { try? await channel.closeFuture.get() }
        for descriptor in descriptors { Glibc.close(descriptor) }
        for path in paths { unlink(path) }
        for case .activated(let name) in settings.tcp + settings.udp + settings.unix {
            SocketActivation.release(name)
        }
    }

    private func track(_ channel: any Channel, listening: Bool = false) {
        let key = ObjectIdentifier(channel)
        let stopping = state.withLock { state in
            if !state.stopping { state.channels[key] = (channel, listening) }
            return state.stopping
        }
        if stopping {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.channels.removeValue(forKey: key) }
        }
    }

    private var receiveBufferBytes: Int { min(settings.maxMessageBytes + 1, 65536) }

    // MARK: TCP

    private func startTCP(_ endpoint: SyslogEndpoint) async throws {
        let maxMessageBytes = settings.maxMessageBytes
        let (maker, intake) = (self.maker, self.intake)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { [self] channel in
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SyslogStreamHandler(maxMessageBytes: maxMessageBytes, maker: maker, intake: intake))
                }
            }
        switch endpoint {
        case .address(let host, let port):
            do {
                let channel = try await bootstrap.bind(host: host, port: port).get()
                try await AcceptErrorLogger.install(on: channel, logger: logger, listener: "syslog \(settings.id) tcp")
                track(channel, listening: true)
            } catch {
                throw SyslogListenerError(description: "tcp \(endpoint): cannot listen: \(error)")
            }
        case .activated(let name):
            for descriptor in try SocketActivation.claim(name) {
                guard let kind = SocketActivation.kind(of: descriptor), kind.type == CInt(SOCK_STREAM.rawValue) else {
                    throw SyslogListenerError(
                        description: "tcp fd:\(name): descriptor \(descriptor) is not a stream socket")
                }
                let channel = try await bootstrap.withBoundSocket(descriptor).get()
                try await AcceptErrorLogger.install(on: channel, logger: logger, listener: "syslog \(settings.id) tcp")
                track(channel, listening: true)
            }
        case .path:
            throw SyslogListenerError(description: "tcp \(endpoint): expected HOST:PORT or fd:NAME")
        }
    }

    // MARK: UDP

    private func startUDP(_ endpoint: SyslogEndpoint) async throws {
        let maxMessageBytes = settings.maxMessageBytes
        let (maker, intake, sink) = (self.maker, self.intake, self.sink)
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: receiveBufferBytes))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SyslogDatagramHandler(
                            maxMessageBytes: maxMessageBytes, maker: maker, intake: intake, sink: sink))
                }
            }
        switch endpoint {
        case .address(let host, let port):
            do {
                trackUDP(try await bootstrap.bind(host: host, port: port).get())
            } catch {
                throw SyslogListenerError(description: "udp \(endpoint): cannot bind: \(error)")
            }
        case .activated(let name):
            for descriptor in try SocketActivation.claim(name) {
                guard let kind = SocketActivation.kind(of: descriptor), kind.type == CInt(SOCK_DGRAM.rawValue),
                    kind.domain == AF_INET || kind.domain == AF_INET6
                else {
                    throw SyslogListenerError(
                        description: "udp fd:\(name): descriptor \(descriptor) is not a UDP socket")
                }
                trackUDP(try await bootstrap.withBoundSocket(descriptor).get())
            }
        case .path:
            throw SyslogListenerError(description: "udp \(endpoint): expected HOST:PORT or fd:NAME")
        }
    }

    private func trackUDP(_ channel: any Channel) {
        if let port = channel.localAddress?.port { state.withLock { $0.udpPorts.append(port) } }
        track(channel)
    }

    // MARK: Unix datagram

    private func startUnix(_ endpoint: SyslogEndpoint) throws {
        switch endpoint {
        case .path(let path):
            let descriptor = try Self.bindUnixDatagram(path: path)
            state.withLock {
                $0.unixDescriptors.append(descriptor)
                $0.unixPaths.append(path)
            }
            adoptUnix(descriptor, name: path)
        case .activated(let name):
            for descriptor in try SocketActivation.claim(name) {
                guard let kind = SocketActivation.kind(of: descriptor), kind.type == CInt(SOCK_DGRAM.rawValue),
                    kind.domain == AF_UNIX
                else {
                    throw SyslogListenerError(
                        description: "unix fd:\(name): descriptor \(descriptor) is not a unix datagram socket")
                }
                state.withLock { $0.unixDescriptors.append(descriptor) }
                adoptUnix(descriptor, name: "fd:\(name)")
            }
        case .address:
            throw SyslogListenerError(description: "unix \(endpoint): expected a socket path or fd:NAME")
        }
    }

    /// NIO reads a duplicate of the socket; if that channel ends while the source runs, a new duplicate
    /// replaces it.
    private func adoptUnix(_ descriptor: CInt, name: String) {
        let stopping = state.withLock { $0.stopping }
        guard !stopping else { return }
        let maxMessageBytes = settings.maxMessageBytes
        let (maker, intake, sink) = (self.maker, self.intake, self.sink)
        let duplicate = dup(descriptor)
        guard duplicate >= 0 else {
            logger.error("syslog \(settings.id): unix \(name): dup failed: errno \(errno)")
            return
        }
        NIOPipeBootstrap(group: group)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: settings.maxMessageBytes + 1)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SyslogUnixDatagramHandler(
                            maxMessageBytes: maxMessageBytes, maker: maker, intake: intake, sink: sink))
                }
            }
            .takingOwnershipOfDescriptor(input: duplicate)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    track(channel)
                    channel.closeFuture.whenComplete { [self] _ in adoptUnix(descriptor, name: name) }
                case .failure(let error):
                    Glibc.close(duplicate)
                    logger.error("syslog \(settings.id): unix \(name): cannot read: \(error)")
                }
            }
    }

    /// A datagram socket at `path`, readable and writable by everyone (it replaces `/dev/log`); a stale
    /// socket left by a previous run is removed, anything else at the path is an error.
    static func bindUnixDatagram(path: String) throws -> CInt {
        var info = stat()
        if lstat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw SyslogListenerError(description: "unix \(path): exists and is not a socket")
            }
            unlink(path)
        }
        let descriptor = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw SyslogListenerError(description: "unix \(path): socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(descriptor)
            throw SyslogListenerError(description: "unix \(path): path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw SyslogListenerError(description: "unix \(path): bind: \(String(cString: strerror(error)))")
        }
        chmod(path, 0o666)
        var size: CInt = 4 << 20
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        return descriptor
    }
}
