import Foundation
import Glibc
import Synchronization

/// Wakes the source's loop. Signals that arrive while nobody waits are kept (one is enough: the loop
/// looks at everything each time it wakes), so a change between two waits is never missed.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns after a signal, after `timeout`, or when the task is cancelled.
    func wait(timeout: Duration?) async {
        let timer = timeout.map { timeout in
            Task { [self] in
                // Only a timer that ran out may signal: a cancelled one (the wait ended early) must not,
                // or the next wait returns at once and the source spins.
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                signal()
            }
        }
        defer { timer?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            signal()
        }
    }
}

/// inotify on the directories the globs can match, read by one dedicated thread that sleeps in poll(2):
/// an idle source costs no CPU, and a write is noticed within microseconds. Watching directories rather
/// than files covers creation, renames, deletion and (through IN_MODIFY of the directory's entries)
/// appends, with one watch per directory however many files it holds.
final class DirectoryWatcher: Sendable {
    private let inotifyFD: Int32
    /// The write end stops the thread; poll(2) watches the read end next to the inotify descriptor.
    private let stopPipe: (read: Int32, write: Int32)
    private let wakeup: Wakeup
    /// Set by the thread when a name appeared, moved or vanished (or the queue overflowed): the globs
    /// must be expanded again. Appends alone only need a read pass.
    private let structural = Atomic<Bool>(false)
    private let watches = Mutex<[String: Int32]>([:])
    private let done = Atomic<Bool>(false)

    static let fileEvents: UInt32 = UInt32(IN_MODIFY)
    static let structuralEvents: UInt32 =
        UInt32(IN_CREATE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO) | UInt32(IN_DELETE)
        | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_Q_OVERFLOW) | UInt32(IN_IGNORED)
        | UInt32(IN_ATTRIB)

    init(wakeup: Wakeup) throws {
        self.wakeup = wakeup
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw FileSourceError.watcher("inotify_init1: \(String(cString: strerror(errno)))") }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            close(fd)
            throw FileSourceError.watcher("pipe: \(String(cString: strerror(errno)))")
        }
        for end in fds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        inotifyFD = fd
        stopPipe = (fds[0], fds[1])
        let thread = Thread { [self] in self.loop() }
        thread.name = "skein-file-watch"
        thread.start()
    }

    /// Whether a structural change was seen since the last call.
    func takeStructuralChange() -> Bool { structural.exchange(false, ordering: .acquiringAndReleasing) }

    /// Makes the watched set exactly `directories`. Directories that cannot be watched (gone, no
    /// permission) are left to the periodic scan.
    func watch(_ directories: Set<String>) {
        watches.withLock { watches in
            for (path, wd) in watches where !directories.contains(path) {
                inotify_rm_watch(inotifyFD, wd)
                watches[path] = nil
            }
            let mask = DirectoryWatcher.fileEvents | DirectoryWatcher.structuralEvents | UInt32(IN_ONLYDIR)
            for path in directories where watches[path] == nil {
                let wd = inotify_add_watch(inotifyFD, path, mask)
                if wd >= 0 { watches[path] = wd }
            }
        }
    }

    var watchedDirectories: Set<String> { watches.withLock { Set($0.keys) } }

    /// Stops the thread, which closes the descriptors.
    func stop() {
        guard !done.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
    }

    private func loop() {
        defer {
            close(inotifyFD)
            close(stopPipe.read)
            close(stopPipe.write)
        }
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { buffer.deallocate() }
        var fds = [
            pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            fds[0].revents = 0
            fds[1].revents = 0
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            var sawStructural = false
            var sawAny = false
            while true {
                let count = read(inotifyFD, buffer, bufferSize)
                if count <= 0 { break }
                var offset = 0
                while offset + 16 <= count {
                    let mask = buffer.load(fromByteOffset: offset + 4, as: UInt32.self)
                    let nameLength = buffer.load(fromByteOffset: offset + 12, as: UInt32.self)
                    if mask & DirectoryWatcher.structuralEvents != 0 { sawStructural = true }
                    sawAny = true
                    offset += 16 + Int(nameLength)
                }
            }
            if sawStructural { structural.store(true, ordering: .releasing) }
            if sawAny { wakeup.signal() }
        }
    }
}
