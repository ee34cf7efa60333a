"""Harness for skein-agent's file-shipping tests (test_agent_files_*.py): agent processes driven by a TOML
config, a writer process that appends numbered lines, rotation drivers (rename with and without create,
copytruncate, delete and recreate, the real logrotate), and a checker that reads the topic with read_committed
and accounts for every written line.

Lines are `<tag> <n> <padding>\\n`, n = 1, 2, 3… per tag; one tag is one logical log file (`TAG.log` and its
rotated names `TAG.log.*`, all in one directory) and one agent source, `files.TAG`. The writer writes lines
1..N of a tag in order and nothing else, so "what was written" is one count per tag."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import HOST, GiveUp, free_port, port_accepts, skeind_path, wait_until

# The agent's metric families the tests read (README, skein-agent metrics).
LINES_READ = "skein_agent_file_lines_read_total"
BYTES_READ = "skein_agent_file_bytes_read_total"
LAG_BYTES = "skein_agent_file_lag_bytes"
ROTATIONS = "skein_agent_file_rotations_total"
TRUNCATIONS = "skein_agent_file_truncations_total"
LINES_LOST = "skein_agent_file_lines_lost_total"
TRANSACTIONS = "skein_agent_transactions_total"
BUFFERED_BYTES = "skein_agent_buffered_bytes"

MiB = 1 << 20


# ---------------------------------------------------------------------------------------------- TOML


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes (\" \\ \n \uXXXX) are TOML basic-string escapes too
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError("no TOML form for %r" % (v,))


def toml_document(tables: dict[str, dict]) -> str:
    """{"agent": {...}, "sources.files.a": {..., "multiline": {...}}} → TOML text; a dict value becomes the
    sub-table NAME.KEY after its parent."""
    out = []

    def table(name: str, body: dict):
        out.append("[%s]" % name)
        subs = []
        for k, v in body.items():
            if isinstance(v, dict):
                subs.append((k, v))
            elif v is not None:
                out.append("%s = %s" % (k, toml_value(v)))
        out.append("")
        for k, v in subs:
            table("%s.%s" % (name, k), v)

    for name, body in tables.items():
        table(name, body)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------- /metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text format → [(name, labels, value)]; comments skipped."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError("unparsable /metrics line: %r" % line)
        labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in _LABEL.findall(m.group(2) or "")}
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def metric_sum(samples, name: str, labels: dict | None = None) -> float | None:
    """Sum of the samples of `name` whose labels include `labels`; None when there is none."""
    want = labels or {}
    values = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in want.items())]
    return sum(values) if values else None


# ---------------------------------------------------------------------------------------------- agent


def agent_path() -> Path:
    return skeind_path().parent / "skein-agent"


def proc_rss_bytes(pid: int) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid %d" % pid)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime from /proc/PID/stat (fields 14 and 15, counted after the parenthesised command name)."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class AgentProcess:
    """One skein-agent configuration, run as successive processes (incarnations) on the same config and
    state_dir. Metric totals over incarnations use each one's last scrape (taken before every stop)."""

    def __init__(self, base: Path, name: str, tables: dict[str, dict], metrics_port: int | None):
        # Prepended to the agent's command line, e.g. systemd-socket-activate and its flags (it execs the
        # agent in the same process, so the pid stays the agent's).
        self.command_prefix: list[str] = []
        self.base = base
        self.name = name
        self.tables = tables
        self.metrics_port = metrics_port
        self.config_path = base / ("%s.toml" % name)
        self.config_path.write_text(toml_document(tables))
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.exit_codes: list[int] = []
        self.snapshots: list[list] = []  # per incarnation: its last /metrics scrape

    @property
    def state_dir(self) -> Path:
        return Path(self.tables["agent"]["state_dir"])

    @property
    def metrics_url(self) -> str:
        """So that conftest.metric_sample(agent, 'series{…}') works on the agent as on a broker."""
        return "http://%s:%d" % (HOST, self.metrics_port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_path(self, start: int | None = None) -> Path:
        return self.base / ("%s-start%d.stderr" % (self.name, start or self.starts))

    def start(self, timeout: float = 30.0, wait_ready: bool = True):
        assert not self.alive(), "agent %s already running" % self.name
        exe = agent_path()
        assert os.access(exe, os.X_OK), "skein-agent not built at %s" % exe
        self.starts += 1
        self.snapshots.append([])
        with open(self.log_path(), "wb") as err:
            self.proc = subprocess.Popen(self.command_prefix + [str(exe), "--config", str(self.config_path), "--log-level", os.environ.get("SKEIN_AGENT_LOG_LEVEL", "info")], stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise GiveUp("skein-agent exited with %s at start:\n%s" % (self.proc.returncode, self.log_tail()))
            return self.metrics_port is None or port_accepts(HOST, self.metrics_port)

        if wait_ready:
            wait_until(ready, timeout, "skein-agent %s to serve /metrics" % self.name)
        return self

    def wait_ready(self, timeout: float = 30.0):
        def ready():
            if self.proc.poll() is not None:
                raise GiveUp("skein-agent exited with %s at start:\n%s" % (self.proc.returncode, self.log_tail()))
            return self.metrics_port is None or port_accepts(HOST, self.metrics_port)

        wait_until(ready, timeout, "skein-agent %s to serve /metrics" % self.name)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _last_scrape(self):
        if self.alive() and self.metrics_port is not None:
            try:
                self.scrape()
            except Exception:  # noqa: BLE001 - best effort before a stop; the previous scrape stays
                pass

    def kill9(self):
        """SIGKILL by pid (after a last scrape of /metrics)."""
        if not self.alive():
            return
        self._last_scrape()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.exit_codes.append(self.proc.returncode)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait (bounded), return the exit code; SIGKILL and fail when it does not stop."""
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        self._last_scrape()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise AssertionError("skein-agent did not stop within %.0fs of SIGTERM:\n%s"
                                 % (timeout, self.log_tail()))
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def restart(self, kill: bool = False, timeout: float = 30.0):
        if kill:
            self.kill9()
        else:
            code = self.terminate()
            assert code == 0, "skein-agent exited %s on SIGTERM:\n%s" % (code, self.log_tail())
        return self.start(timeout)

    def reload(self, tables: dict[str, dict] | None = None, text: str | None = None, timeout: float = 30.0) -> str:
        """Rewrites the configuration file (from tables, or raw text, e.g. an invalid one), sends SIGHUP and
        waits until the agent has taken the reload in: it logged either that it restarts its sources or why
        the file was refused. Returns that log line."""
        if tables is not None:
            self.tables = tables
            text = toml_document(tables)
        if text is not None:
            self.config_path.write_text(text)
        before = self._reload_lines()
        os.kill(self.proc.pid, signal.SIGHUP)

        def taken():
            if not self.alive():
                raise GiveUp("skein-agent exited after SIGHUP:\n%s" % self.log_tail())
            lines = self._reload_lines()
            return lines[len(before)] if len(lines) > len(before) else None

        return wait_until(taken, timeout, "skein-agent %s to take the reload in" % self.name)

    def _reload_lines(self) -> list[str]:
        path = self.log_path()
        text = path.read_text(errors="replace") if path.exists() else ""
        return [line for line in text.splitlines() if "reload: " in line]

    def rss_bytes(self) -> int:
        return proc_rss_bytes(self.proc.pid)

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def scrape(self) -> list:
        import urllib.request
        with urllib.request.urlopen(self.metrics_url + "/metrics", timeout=10) as r:
            samples = parse_metrics(r.read().decode())
        self.snapshots[-1] = samples
        return samples

    def metric(self, name: str, labels: dict | None = None, default: float | None = None) -> float:
        """The current value (summed over matching label sets) of this incarnation."""
        value = metric_sum(self.scrape(), name, labels)
        if value is None:
            if default is not None:
                return default
            raise AssertionError("%s%s not in the agent's /metrics" % (name, labels or ""))
        return value

    def metric_total(self, name: str, labels: dict | None = None) -> float:
        """Sum over every incarnation of its last known value (a counter restarts at 0 in each)."""
        self._last_scrape()
        return sum(metric_sum(s, name, labels) or 0.0 for s in self.snapshots)

    def log(self) -> str:
        return "".join(self.log_path(i).read_text(errors="replace") for i in range(1, self.starts + 1)
                       if self.log_path(i).exists())

    def log_tail(self, lines: int = 60) -> str:
        out = []
        for i in range(max(1, self.starts - 2), self.starts + 1):
            path = self.log_path(i)
            if path.exists():
                text = path.read_text(errors="replace").splitlines()
                out.append("--- %s (last %d of %d lines) ---" % (path.name, min(lines, len(text)), len(text)))
                out.extend(text[-lines:])
        return "\n".join(out)


class AgentFactory:
    """Builds agents for tests: `new(bootstrap, topic, sources={tag: {paths: […]}})`. Every agent is killed by
    pid at teardown."""

    def __init__(self, base: Path):
        self.base = base
        self.agents: list[AgentProcess] = []

    def new(self, bootstrap: str, topic: str, sources: dict[str, dict], name: str = "it", agent: dict | None = None,
            delivery: dict | None = None, metrics: bool = True, host_name: str = "it-files",
            journald: dict[str, dict] | None = None, syslog: dict[str, dict] | None = None) -> AgentProcess:
        """sources: file sources by tag ([sources.files.TAG]); journald, syslog: those sources by name
        ([sources.journald.NAME], [sources.syslog.NAME], e.g. {"net": {"tcp": ["127.0.0.1:5140"]}})."""
        d = self.base / ("agent-%d" % len(self.agents))
        d.mkdir(parents=True)
        port = free_port() if metrics else None
        tables: dict[str, dict] = {
            "agent": {"bootstrap": bootstrap, "host_name": host_name, "name": name, "state_dir": str(d / "state"),
                      "metrics_listen": "%s:%d" % (HOST, port) if metrics else "off", **(agent or {})},
            "delivery": {"topic": topic, **(delivery or {})},
            # Host metrics would go to their own topic; off, they cost these tests no CPU.
            "sources.host_metrics": {"enabled": False},
        }
        for tag, settings in sources.items():
            tables["sources.files.%s" % tag] = {"start_at": "beginning", **settings}
        for tag, settings in (journald or {}).items():
            tables["sources.journald.%s" % tag] = settings
        for name, settings in (syslog or {}).items():
            tables["sources.syslog.%s" % name] = settings
        a = AgentProcess(d, name, tables, port)
        self.agents.append(a)
        return a

    def cleanup(self):
        for a in self.agents:
            if a.alive():
                os.kill(a.proc.pid, signal.SIGKILL)
                a.proc.wait(10)


# ---------------------------------------------------------------------------------------------- journal files

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
JOURNAL_BOOT_ID = "5e1f0c0a11ce4b0b8d2a6f00d15ea5e5"


def journal_export(tag: str, first: int, count: int, line_bytes: int = 120, unit: str = "it.service") -> bytes:
    """Journal export format (KEY=value lines, a blank line after each entry) for lines first..first+count-1 of
    `tag`, as line_text words them (without the newline). Times grow with n, so entries of several files of
    one directory interleave in n order (sd-journal orders files of one boot by monotonic time)."""
    out = []
    for n in range(first, first + count):
        out.append("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n_HOSTNAME=it-journal\n"
                   "_SYSTEMD_UNIT=%s\nPRIORITY=6\n_TRANSPORT=journal\nMESSAGE=%s\n\n"
                   % (1_700_000_000_000_000 + n * 1000, 1_000_000 + n * 1000, JOURNAL_BOOT_ID, unit,
                      line_text(tag, n, line_bytes)[:-1]))
    return "".join(out).encode()


def write_journal(directory: Path, name: str, tag: str, first: int, count: int, line_bytes: int = 120) -> Path:
    """A journal file directory/name.journal holding lines first..first+count-1 of tag, written by
    systemd-journal-remote (DESIGN.md §5) to a temporary name and renamed in, so a reader never sees it half
    written."""
    assert os.access(JOURNAL_REMOTE, os.X_OK), "%s missing (Debian systemd-journal-remote)" % JOURNAL_REMOTE
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / (directory.name + ".staging")
    staging.mkdir(exist_ok=True)
    target = staging / ("%s.journal" % name)
    subprocess.run([JOURNAL_REMOTE, "--output=%s" % target, "-"], input=journal_export(tag, first, count, line_bytes),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
    final = directory / target.name
    os.rename(target, final)
    return final


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


# ---------------------------------------------------------------------------------------------- checker


class Ledger:
    """Accounts for the records of a log topic, one at a time (memory: a byte per written line): per source,
    skein.seq must run 1, 2, 3… in offset order; per tag, each line must arrive once; per file (fields.file_id),
    line numbers must increase. Checkpoint records (skein.checkpoint header) are counted and skipped."""

    MAX_EXAMPLES = 20

    def __init__(self, order_field: str | None = "file_id", on_record=None):
        """order_field: the `fields` member naming one ordered stream of lines (a file); None: the lines of one
        tag are one ordered stream (a journald service). on_record(record, headers) sees every record's JSON
        value first; returning False sets it aside in `others` (a source's own notice, not a numbered line)."""
        self.order_field = order_field
        self.on_record = on_record
        self.others: list[tuple[int, dict]] = []
        self.records = 0
        self.checkpoints = 0
        self.seq_last: dict[str, int] = {}
        self.seq_gaps: dict[str, list] = {}
        self.seq_repeats: dict[str, list] = {}
        self.marks: dict[str, bytearray] = {}
        self.distinct: dict[str, int] = {}
        self.duplicates: dict[str, list] = {}
        self.file_last: dict[tuple[str, str], int] = {}
        self.order_errors: list = []
        self.malformed: list = []
        self.sources_of_tag: dict[str, set] = {}
        self.source_records: dict[str, int] = {}

    def _note(self, bucket: list, item):
        if len(bucket) < self.MAX_EXAMPLES:
            bucket.append(item)

    def add(self, headers, value: bytes | None, offset: int = -1):
        h = {k: (v.decode() if isinstance(v, (bytes, bytearray)) else v) for k, v in (headers or [])}
        if "skein.checkpoint" in h:
            self.checkpoints += 1
            return
        self.records += 1
        source = h.get("skein.source")
        try:
            seq = int(h["skein.seq"])
        except Exception as e:  # noqa: BLE001 - a record without its sequence is a finding
            self.malformed.append((offset, "skein.seq: %r" % e, (value or b"")[:200]))
            return
        self.source_records[source] = self.source_records.get(source, 0) + 1
        last = self.seq_last.get(source, 0)
        if seq == last + 1:
            self.seq_last[source] = seq
        elif seq <= last:
            self._note(self.seq_repeats.setdefault(source, []), (offset, seq, last))
        else:
            self._note(self.seq_gaps.setdefault(source, []), (offset, last, seq))
            self.seq_last[source] = seq
        try:
            record = json.loads(value)
            if self.on_record is not None and self.on_record(record, h) is False:
                self.others.append((offset, record))
                return
            tag, n, _ = record["message"].split(" ", 2)
            n = int(n)
            if self.order_field is None:
                file_id = tag
            else:
                file_id = (record.get("fields") or {}).get(self.order_field, "?")
        except Exception as e:  # noqa: BLE001 - a record the checker cannot read is a finding
            self.malformed.append((offset, repr(e), (value or b"")[:200]))
            return
        self.sources_of_tag.setdefault(tag, set()).add(source)
        marks = self.marks.setdefault(tag, bytearray())
        if n >= len(marks):
            marks.extend(bytes(n + 1 - len(marks) + 4096))
        if marks[n] == 0:
            self.distinct[tag] = self.distinct.get(tag, 0) + 1
        else:
            self._note(self.duplicates.setdefault(tag, []), (offset, n))
        marks[n] = min(255, marks[n] + 1)
        # Per tag too: one syslog source carries several senders' lines, each sender's in order.
        key = (source, file_id, tag)
        if n <= self.file_last.get(key, 0):
            self._note(self.order_errors, (offset, source, file_id, n, self.file_last[key]))
        self.file_last[key] = n

    def delivered(self, tag: str) -> int:
        return self.distinct.get(tag, 0)

    def missing(self, tag: str, written: int) -> list[int]:
        marks = self.marks.get(tag, bytearray())
        return [n for n in range(1, written + 1) if n >= len(marks) or marks[n] == 0]

    def beyond(self, tag: str, written: int) -> list[int]:
        """Delivered line numbers the writer never wrote."""
        marks = self.marks.get(tag, bytearray())
        return [n for n in range(written + 1, len(marks)) if marks[n]][:self.MAX_EXAMPLES] + \
            ([0] if len(marks) and marks[0] else [])

    def verdict(self, written: dict[str, int], on_disk: dict[str, bytearray] | None = None) -> "Verdict":
        """written: tag → N. on_disk: for tags whose rotation may lose lines (copytruncate), which lines are
        still in some file; a missing line that is on disk is the agent's loss, one that is not was truncated
        away before anything could read it (a loss the agent can at most count)."""
        return Verdict(self, written, on_disk or {})


def _ranges(ns: list[int], limit: int = 12) -> str:
    """[1,2,3,7,9,10] → '1-3,7,9-10' (the first `limit` runs)."""
    runs = []
    for n in ns:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs[:limit])
    return text + (",… (%d runs)" % len(runs) if len(runs) > limit else "")


class Verdict:
    def __init__(self, ledger: Ledger, written: dict[str, int], on_disk: dict[str, bytearray]):
        self.ledger = ledger
        self.written = written
        self.on_disk = on_disk
        self.missing: dict[str, list[int]] = {}
        self.truncated_away: dict[str, list[int]] = {}  # missing, and in no file: lost in a truncation window
        self.agent_lost: dict[str, list[int]] = {}      # missing, though still on disk
        for tag, n in written.items():
            miss = ledger.missing(tag, n)
            self.missing[tag] = miss
            disk = on_disk.get(tag)
            if disk is None:
                self.agent_lost[tag] = miss
                self.truncated_away[tag] = []
            else:
                self.agent_lost[tag] = [m for m in miss if disk[m]]
                self.truncated_away[tag] = [m for m in miss if not disk[m]]
        self.beyond = {t: ledger.beyond(t, n) for t, n in written.items()}
        self.unknown_tags = sorted(set(ledger.marks) - set(written))

    def problems(self) -> list[str]:
        lg = self.ledger
        out = []
        for source, items in lg.seq_gaps.items():
            out.append("%s: skein.seq gaps (offset, last, next): %s" % (source, items))
        for source, items in lg.seq_repeats.items():
            out.append("%s: skein.seq repeated or backwards (offset, seq, last): %s" % (source, items))
        for tag, items in lg.duplicates.items():
            out.append("%s: duplicated lines (offset, n): %s" % (tag, items))
        if lg.order_errors:
            out.append("lines out of order within a file (offset, source, file_id, n, previous n): %s"
                       % lg.order_errors)
        if lg.malformed:
            out.append("unreadable records (offset, error, value): %s" % lg.malformed[:Ledger.MAX_EXAMPLES])
        for tag in self.written:
            if self.agent_lost[tag]:
                out.append("%s: %d of %d written lines not delivered%s: %s"
                           % (tag, len(self.agent_lost[tag]), self.written[tag],
                              " though still on disk" if tag in self.on_disk else "", _ranges(self.agent_lost[tag])))
            if self.beyond[tag]:
                out.append("%s: delivered lines that were never written: %s" % (tag, self.beyond[tag]))
            if len(lg.sources_of_tag.get(tag, ())) > 1:
                out.append("%s: lines came from several sources %s" % (tag, lg.sources_of_tag[tag]))
        if self.unknown_tags:
            out.append("lines of unknown tags: %s" % self.unknown_tags)
        return out

    def summary(self) -> str:
        lg = self.ledger
        return "records=%d checkpoints=%d written=%s delivered=%s truncated_away=%s" % (
            lg.records, lg.checkpoints, self.written, {t: lg.delivered(t) for t in self.written},
            {t: len(v) for t, v in self.truncated_away.items() if v})

    def assert_exactly_once(self, reader: "TopicReader | None" = None):
        """With the reader, a failure also lists the records of the first few duplicated or misordered lines."""
        problems = self.problems()
        if problems and reader is not None:
            lg = self.ledger
            wanted = {(t, n) for t, items in lg.duplicates.items() for _, n in items[:3]}
            wanted |= {(s.split(".", 1)[1], n) for _, s, _, n, _ in lg.order_errors[:3] if s}
            wanted |= {(s.split(".", 1)[1], p) for _, s, _, _, p in lg.order_errors[:3] if s}
            wanted |= {(t, n) for t, ns in self.agent_lost.items() for n in ns[:2]}
            try:
                problems.append("records of some of those lines:\n    " + "\n    ".join(
                    describe_lines(reader.bootstrap, reader.topic, wanted)))
            except Exception as e:  # noqa: BLE001 - the finding stands without its details
                problems.append("(could not read the records again: %r)" % e)
        assert not problems, "delivery is not exactly once (%s):\n  %s" % (self.summary(), "\n  ".join(problems))

    def assert_sequences_cover(self):
        """Every source's skein.seq runs exactly 1..N over its N records (no gap, no repeat)."""
        lg = self.ledger
        for source, count in lg.source_records.items():
            assert lg.seq_last.get(source) == count, "%s: last skein.seq %s after %d records" % (
                source, lg.seq_last.get(source), count)


class TopicReader:
    """Reads partition 0 of the topic with read_committed from the beginning into a Ledger, incrementally."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger | None = None):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        self.ledger = ledger or Ledger()
        self.bootstrap, self.topic = bootstrap, topic
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "agent-files-%d" % time.monotonic_ns(),
                                  "enable.auto.commit": False, "enable.partition.eof": True,
                                  "isolation.level": "read_committed", "fetch.max.bytes": 16 * MiB,
                                  "reconnect.backoff.max.ms": 500, "topic.metadata.refresh.interval.ms": 1000,
                                  # Tests stop brokers on purpose: no connection-refused lines from librdkafka.
                                  "log_level": 2})
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.at_eof = False
        self.next_offset = 0

    def poll(self, seconds: float = 0.5) -> int:
        """Reads for up to `seconds`; returns the number of records taken in."""
        from confluent_kafka import KafkaError
        taken = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = self.consumer.consume(num_messages=10000, timeout=0.2)
            if not batch:
                if self.at_eof:
                    break
                continue
            for m in batch:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        self.at_eof = True
                        continue
                    if m.error().code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TRANSPORT,
                                            KafkaError._ALL_BROKERS_DOWN):
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                self.at_eof = False
                self.next_offset = m.offset() + 1
                self.ledger.add(m.headers(), m.value(), m.offset())
                taken += 1
        return taken

    def read_until(self, predicate, timeout: float) -> bool:
        """Reads until predicate(ledger) holds and the partition's end is reached; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if self.at_eof and predicate(self.ledger):
                return True
        return False

    def close(self):
        self.consumer.close()


def describe_lines(bootstrap: str, topic: str, wanted: set[tuple[str, int]], limit: int = 40) -> list[str]:
    """Every record of the given (tag, n) lines, read again: offset, skein.seq, skein.position, path. For
    failure messages (a duplicate's two copies, say)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "agent-files-describe-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": "read_committed",
                  "log_level": 2})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(out) < limit:
            batch = c.consume(num_messages=10000, timeout=0.5)
            if any(m.error() and m.error().code() == KafkaError._PARTITION_EOF for m in batch):
                deadline = 0  # this batch is the last
            for m in batch:
                if m.error():
                    continue
                h = {k: v.decode() for k, v in m.headers() or []}
                if "skein.checkpoint" in h:
                    continue
                try:
                    record = json.loads(m.value())
                    tag, n, _ = record["message"].split(" ", 2)
                except Exception:  # noqa: BLE001 - the ledger reports unreadable records
                    continue
                if (tag, int(n)) in wanted:
                    out.append("offset %d seq %s %s line %s n %s path %s" % (
                        m.offset(), h.get("skein.seq"), h.get("skein.source"), h.get("skein.position"), n,
                        (record.get("fields") or {}).get("path")))
    finally:
        c.close()
    return out


def wait_all_delivered(reader: TopicReader, written: dict[str, int], on_disk: dict[str, bytearray] | None = None,
                       timeout: float = 120.0) -> bool:
    """Reads until every written line that must arrive has arrived (for tags in on_disk: those still in some
    file), then to the end of the partition. False on timeout (the verdict then says what is missing)."""
    disks = on_disk or {}

    def complete(lg: Ledger) -> bool:
        for tag, n in written.items():
            disk = disks.get(tag)
            if disk is None:
                if lg.delivered(tag) < n:
                    return False
            elif lg.delivered(tag) < sum(1 for m in disk if m) or any(disk[m] for m in lg.missing(tag, n)):
                return False
        return True

    return reader.read_until(complete, timeout)


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
