import Foundation
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// A server's TLS context, remade when its PEM files change (checked every `ssl.reload.check.interval.ms`)
/// or when `reload()` is called (skeind's SIGHUP). Connections already open keep the context they
/// started with; new ones get the newest. Files that fail to load (a key not yet matching its new
/// certificate, half-written PEM) leave the previous context serving and log an error, and are tried
/// again when a file changes again, so replacing certificate and key one after the other works.
public final class ReloadingTLSContext: Sendable {
    public let settings: TLSServerSettings
    /// Names the listener in log lines.
    public let label: String
    private let logger: Logger
    private let state: Mutex<State>

    struct State {
        var context: NIOSSLContext
        var fingerprint: [FileFingerprint]
        var serial: String
        var timer: RepeatedTask?
    }

    /// What tells a replaced file from the same one: device, inode, size and modification time.
    struct FileFingerprint: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64

        init(path: String) {
            var info = stat()
            if stat(path, &info) == 0 {
                device = UInt64(info.st_dev)
                inode = UInt64(info.st_ino)
                size = Int64(info.st_size)
                modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            } else {
                device = 0
                inode = 0
                size = -1
                modified = 0
            }
        }
    }

    /// Loads the files now; a failure here is a startup error.
    public init(settings: TLSServerSettings, label: String, logger: Logger) throws {
        self.settings = settings
        self.label = label
        self.logger = logger
        let fingerprint = settings.files.map(FileFingerprint.init)
        let (context, leaf) = try settings.makeContext()
        let serial = Self.describe(leaf)
        Self.warnIfExpired(leaf, label: label, logger: logger)
        state = Mutex(State(context: context, fingerprint: fingerprint, serial: serial, timer: nil))
        logger.info("\(label): TLS certificate serial \(serial) loaded")
    }

    /// The context for a connection accepted now.
    public var context: NIOSSLContext { state.withLock { $0.context } }

    /// The serving certificate's serial number, hex.
    public var serial: String { state.withLock { $0.serial } }

    /// Checks the files every `reloadCheckIntervalMs` on `loop` until `stop()`.
    public func startWatching(on loop: any EventLoop) {
        let interval = settings.reloadCheckIntervalMs
        guard interval > 0 else { return }
        let timer = loop.scheduleRepeatedTask(
            initialDelay: .milliseconds(interval), delay: .milliseconds(interval)
        ) { [weak self] _ in
            self?.reloadIfChanged()
        }
        state.withLock { $0.timer = timer }
    }

    public func stop() {
        state.withLock { $0.timer?.cancel() }
    }

    /// Reloads when any file's fingerprint changed since the last successful (or attempted) load.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let now = settings.files.map(FileFingerprint.init)
        guard now != state.withLock({ $0.fingerprint }) else { return false }
        return load(fingerprint: now, reason: "files changed")
    }

    /// Reloads whatever the files say (SIGHUP).
    @discardableResult
    public func reload() -> Bool {
        load(fingerprint: settings.files.map(FileFingerprint.init), reason: "reload requested")
    }

    private func load(fingerprint: [FileFingerprint], reason: String) -> Bool {
        do {
            let (context, leaf) = try settings.makeContext()
            let serial = Self.describe(leaf)
            Self.warnIfExpired(leaf, label: label, logger: logger)
            state.withLock {
                $0.context = context
                $0.fingerprint = fingerprint
                $0.serial = serial
            }
            logger.notice("\(label): TLS certificate serial \(serial) loaded (\(reason))")
            return true
        } catch {
            // The fingerprint is taken, so this change is reported once; the next write to any of the
            // files (the other half of a pair) changes it again and is tried. The error names files, never
            // their content.
            state.withLock { $0.fingerprint = fingerprint }
            logger.error("\(label): TLS files not reloaded, the previous certificate stays in use: \(error)")
            return false
        }
    }

    static func describe(_ certificate: NIOSSLCertificate?) -> String {
        guard let certificate else { return "?" }
        return certificate.serialNumber.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }

    static func warnIfExpired(_ certificate: NIOSSLCertificate?, label: String, logger: Logger) {
        guard let certificate else { return }
        if certificate.notValidAfter < time(nil) {
            logger.warning("\(label): the TLS certificate (serial \(describe(certificate))) has expired")
        }
    }
}
