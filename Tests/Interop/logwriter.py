"""Writing and rotating the numbered log lines of the file-shipping tests: a writer process that appends
`<tag> <n> <padding>` lines to one file per tag, rotation drivers (rename with and without create,
copytruncate, delete and recreate, the real logrotate), and the torture scenario that interleaves them."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import subprocess
import time
from pathlib import Path

from conftest import wait_until

# ---------------------------------------------------------------------------------------------- writer

PADDING = "abcdefghijklmnopqrstuvwxyz0123456789" * 200


def line_text(tag: str, n: int, line_bytes: int) -> str:
    head = "%s %d " % (tag, n)
    return head + PADDING[:max(1, line_bytes - len(head) - 1)] + "\n"


def _writer_main(paths, tags, line_bytes, batch_lines, counts, allowance, stop):
    """The writer process: appends lines to each tag's file round-robin, a batch per write(2), up to the
    tag's allowance. Before each batch it reopens the path when the file it holds is no longer there (rotated
    away by rename or deletion): an application told to reopen its log, at once."""
    n = len(paths)
    fds = [-1] * n
    ids = [None] * n
    done = [0] * n

    def reopen(i):
        if fds[i] >= 0:
            os.close(fds[i])
        fds[i] = os.open(paths[i], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        st = os.fstat(fds[i])
        ids[i] = (st.st_dev, st.st_ino)

    while not stop.is_set():
        wrote = False
        for i in range(n):
            room = allowance[i] - done[i]
            if room <= 0:
                continue
            try:
                st = os.stat(paths[i])
                current = (st.st_dev, st.st_ino)
            except FileNotFoundError:
                current = None
            if fds[i] < 0 or current != ids[i]:
                reopen(i)
            k = min(batch_lines, room)
            first = done[i] + 1
            data = "".join(line_text(tags[i], m, line_bytes) for m in range(first, first + k)).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(fds[i], view):]
            done[i] += k
            counts[i] = done[i]
            wrote = True
        if not wrote:
            time.sleep(0.001)
    for fd in fds:
        if fd >= 0:
            os.close(fd)


class LineWriter:
    """Runs _writer_main in a child process (spawn: no fork of the test process and its client threads).
    counts[tag] is the number of lines written (lines 1..count, whole); allow(tag, n) lets it write up to n."""

    def __init__(self, files: dict[str, Path], line_bytes: int = 120, batch_lines: int = 32):
        self.tags = list(files)
        self.paths = [str(files[t]) for t in self.tags]
        self.line_bytes = line_bytes
        ctx = mp.get_context("spawn")
        self._counts = ctx.RawArray("q", len(self.tags))
        self._allowance = ctx.RawArray("q", len(self.tags))
        self._stop = ctx.Event()
        self.proc = ctx.Process(target=_writer_main, args=(self.paths, self.tags, line_bytes, batch_lines,
                                                            self._counts, self._allowance, self._stop), daemon=True)

    def start(self):
        self.proc.start()
        return self

    def count(self, tag: str) -> int:
        return self._counts[self.tags.index(tag)]

    def counts(self) -> dict[str, int]:
        return {t: self._counts[i] for i, t in enumerate(self.tags)}

    def allowed(self, tag: str) -> int:
        return self._allowance[self.tags.index(tag)]

    def allow(self, tag: str, lines: int):
        self._allowance[self.tags.index(tag)] = lines

    def allow_all(self, lines: int):
        for i in range(len(self.tags)):
            self._allowance[i] = lines

    def assert_alive(self):
        assert self.proc.is_alive(), "writer process exited with %s" % self.proc.exitcode

    def wait_written(self, timeout: float = 120.0):
        """Waits until every tag has written its allowance."""
        def done():
            self.assert_alive()
            return all(self._counts[i] >= self._allowance[i] for i in range(len(self.tags)))
        wait_until(done, timeout, "the writer to write its allowance", interval=0.02)

    def stop(self, timeout: float = 20.0) -> dict[str, int]:
        """Stops the writer and returns what it wrote: tag → N (lines 1..N)."""
        self._stop.set()
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
            raise AssertionError("writer did not stop within %.0fs" % timeout)
        assert self.proc.exitcode == 0, "writer exited %s" % self.proc.exitcode
        return self.counts()

    def kill(self):
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# ---------------------------------------------------------------------------------------------- rotation

MODES = ("rename_create", "rename_nocreate", "copytruncate", "delete_recreate", "logrotate_create",
         "logrotate_copytruncate")
TRUNCATING = {"copytruncate", "logrotate_copytruncate"}  # lines written between copy and truncate are lost
DELETING = {"delete_recreate"}                             # rotated content leaves the disk


def _touch(path: Path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))


class Rotator:
    """Rotates TAG.log files in `directory`, each tag by its own mode. Rotated names are TAG.log.K: K counts up
    per tag for the direct modes (nothing is ever shifted or removed), and logrotate numbers and shifts them
    itself (`rotate KEEP`: with KEEP above the rotations a test does, it removes nothing either; each run
    tries KEEP renames, so KEEP stays near what is needed). Every rotated name matches the source's glob
    `TAG.log*`, so the agent finds a rotated file after a restart."""

    def __init__(self, directory: Path, modes: dict[str, str], keep: int = 1000):
        self.dir = directory
        self.modes = modes
        self.done = {t: 0 for t in modes}
        self.state = directory.parent / ("%s-logrotate.state" % directory.name)
        # Returns the pid of the process that must hold a file open before delete_recreate deletes it (the
        # agent), or None. A file deleted before the agent opened it is gone for any reader; one deleted while
        # open must be read to its end.
        self.holder = None
        for tag, mode in modes.items():
            assert mode in MODES, mode
            if mode.startswith("logrotate_"):
                # logrotate refuses configs that group or others can write; ours are 0644 under a 0700 dir.
                how = "create" if mode == "logrotate_create" else "copytruncate"
                self.conf(tag).write_text("%s {\n    rotate %d\n    %s\n    nocompress\n    missingok\n"
                                          "    notifempty\n}\n" % (self.path(tag), keep, how))

    def path(self, tag: str) -> Path:
        return self.dir / ("%s.log" % tag)

    def conf(self, tag: str) -> Path:
        return self.dir.parent / ("%s-%s-logrotate.conf" % (self.dir.name, tag))

    def sources(self, **extra) -> dict[str, dict]:
        """The agent's [sources.files.TAG] tables for these tags."""
        return {t: {"paths": [str(self.dir / ("%s.log*" % t))], **extra} for t in self.modes}

    def rotate(self, tag: str):
        mode = self.modes[tag]
        path = self.path(tag)
        k = self.done[tag] + 1
        target = self.dir / ("%s.log.%d" % (tag, k))
        if mode == "rename_create":
            os.rename(path, target)
            _touch(path)
        elif mode == "rename_nocreate":
            os.rename(path, target)  # the writer creates the file again when it notices
        elif mode == "copytruncate":
            shutil.copyfile(path, target)
            os.truncate(path, 0)
        elif mode == "delete_recreate":
            if self.holder is not None:
                self.wait_open(path)
            os.unlink(path)
            _touch(path)
        else:
            res = subprocess.run(["logrotate", "-s", str(self.state), "-f", str(self.conf(tag))],
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, "logrotate exited %d:\n%s%s" % (res.returncode, res.stdout, res.stderr)
        self.done[tag] = k

    def wait_open(self, path: Path, timeout: float = 20.0):
        target = str(path)

        def held() -> bool:
            pid = self.holder()
            if pid is None:
                return True  # nothing is running that could hold it
            fds = Path("/proc/%d/fd" % pid)
            for fd in fds.iterdir():
                try:
                    if os.readlink(fd) == target:
                        return True
                except OSError:
                    continue
            return False

        wait_until(held, timeout, "the agent to open %s before it is deleted" % target, interval=0.002)

    def on_disk(self, tag: str, written: int) -> bytearray:
        """marks[n] = how many of tag's files (rotated or not) hold line n now (0 or 1: assert_on_disk_once)."""
        marks = bytearray(written + 1)
        prefix = tag.encode() + b" "
        for path in self.dir.glob("%s.log*" % tag):
            with open(path, "rb") as f:
                for line in f:
                    if line.startswith(prefix) and line.endswith(b"\n"):
                        n = int(line.split(b" ", 2)[1])
                        if 0 < n <= written:
                            marks[n] = min(255, marks[n] + 1)
        return marks


# ---------------------------------------------------------------------------------------------- scenarios

SOAK = os.environ.get("SKEIN_AGENT_SOAK") == "1"


def torture(rot: Rotator, writer: LineWriter, lines_per_file: int, rounds: int, after_rotation=None,
            step_timeout: float = 60.0, ahead: float = 0.5, before_rotation=None) -> dict[str, int]:
    """Rounds of rotations while the writer runs: the writer may run `ahead` of a file ahead, and each tag is
    rotated as soon as its current file holds lines_per_file more lines, so rotations land among writes. Then
    one more file per tag, and the writer stops. before_rotation(tag) and after_rotation(step) run around each
    rotation (step 0, 1, 2…). Returns what was written: tag → N."""
    step = 0
    try:
        for r in range(1, rounds + 1):
            writer.allow_all(int(lines_per_file * (r + ahead)))
            for tag in rot.modes:
                def ready(tag=tag, r=r):
                    writer.assert_alive()
                    return writer.count(tag) >= lines_per_file * r
                wait_until(ready, step_timeout, "writer progress on %s, round %d" % (tag, r), interval=0.002)
                if before_rotation is not None:
                    before_rotation(tag)
                rot.rotate(tag)
                if after_rotation is not None:
                    after_rotation(step)
                step += 1
        writer.allow_all(lines_per_file * (rounds + 1))
        writer.wait_written(step_timeout)
    finally:
        written = writer.stop()
    return written


def lossy_on_disk(rot: Rotator, written: dict[str, int]) -> dict[str, bytearray]:
    """For copytruncate tags: which lines are still on disk (the others fell into a truncation window). No line
    is on disk twice: a duplicate in the topic is then the agent's, not the rotation's."""
    disks = {t: rot.on_disk(t, written[t]) for t, m in rot.modes.items() if m in TRUNCATING}
    for t, disk in disks.items():
        twice = [n for n in range(1, len(disk)) if disk[n] > 1]
        assert not twice, "%s: lines in two files on disk (a harness fault): %s" % (t, twice[:20])
    return disks
