"""Harness for skein-agent's tests: agent processes driven by a TOML config (AgentProcess, AgentFactory), the
agent's metrics read back, and journal files made by systemd-journal-remote. Writing and rotating numbered log
lines is in logwriter.py; reading a topic back and accounting for every line, in ledger.py.

Lines are `<tag> <n> <padding>\\n`, n = 1, 2, 3… per tag; one tag is one logical log file (`TAG.log` and its
rotated names `TAG.log.*`, all in one directory) and one agent source, `files.TAG`. The writer writes lines
1..N of a tag in order and nothing else, so "what was written" is one count per tag."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from conftest import HOST, GiveUp, free_port, port_accepts, skeind_path, wait_until
from ledger import MiB
from logwriter import line_text

# The agent's metric families the tests read (README, skein-agent metrics).
LINES_READ = "skein_agent_file_lines_read_total"
BYTES_READ = "skein_agent_file_bytes_read_total"
LAG_BYTES = "skein_agent_file_lag_bytes"
ROTATIONS = "skein_agent_file_rotations_total"
TRUNCATIONS = "skein_agent_file_truncations_total"
LINES_LOST = "skein_agent_file_lines_lost_total"
TRANSACTIONS = "skein_agent_transactions_total"
BUFFERED_BYTES = "skein_agent_buffered_bytes"


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
