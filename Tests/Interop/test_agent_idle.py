"""An idle skein-agent uses no CPU (issue #12, "Reading cost": no busy polling): once a followed file has been
shipped and nothing more is written, the agent's CPU time (utime + stime of /proc/PID/stat) hardly moves and
its RSS stays put over a measuring window."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import HOST, free_port, skeind_path, wait_until

TICKS = os.sysconf("SC_CLK_TCK")
WINDOW = 5.0  # seconds of idleness measured (a measurement, not a wait for something to happen)


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kib(pid: int) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def metric(port: int, series: str) -> float | None:
    with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, port), timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


@pytest.fixture
def idle_agent(broker, topic_name, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    followed = logs / "app.log"
    with open(followed, "w") as f:
        for n in range(1, 1001):
            f.write("idle test line %06d %s\n" % (n, "y" * (n % 80)))
    metrics_port = free_port()
    config = tmp_path / "agent.toml"
    config.write_text(
        '[agent]\nbootstrap = "%s"\nhost_name = "idle-host"\nname = "idle"\nstate_dir = "%s"\n'
        'metrics_listen = "%s:%d"\n\n[delivery]\ntopic = "%s"\n\n[sources.host_metrics]\nenabled = false\n\n'
        '[sources.files.app]\npaths = ["%s"]\nstart_at = "beginning"\n'
        % (broker.bootstrap, tmp_path / "state", HOST, metrics_port, topic_name("idle"), followed))
    exe = skeind_path().parent / "skein-agent"
    assert os.access(exe, os.X_OK), "skein-agent not built at %s" % exe
    log_path = tmp_path / "agent.stderr"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen([str(exe), "--config", str(config)], stdin=subprocess.DEVNULL, stdout=err,
                                stderr=err, start_new_session=True)
    yield proc, metrics_port, log_path
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)  # by pid: the agent this fixture started
        proc.wait(10)


def test_an_idle_agent_uses_no_cpu(idle_agent):
    proc, port, log_path = idle_agent
    committed = 'skein_agent_log_records_committed_total{source="files.app"}'
    wait_until(lambda: metric(port, committed) == 1000, 60,
               "the agent to commit the file's 1000 lines (log: %s)" % log_path)
    # Let the last transaction's bookkeeping (checkpoint cache, metrics) finish before measuring.
    wait_until(lambda: metric(port, 'skein_agent_buffered_bytes{source="files.app"}') in (0, None), 20,
               "the agent's buffers to empty")
    cpu0, rss0, t0 = cpu_seconds(proc.pid), rss_kib(proc.pid), time.monotonic()
    time.sleep(WINDOW)  # the idle window itself is what is measured
    cpu = cpu_seconds(proc.pid) - cpu0
    elapsed = time.monotonic() - t0
    rss1 = rss_kib(proc.pid)
    assert proc.poll() is None, "skein-agent exited:\n" + log_path.read_text(errors="replace")[-4000:]
    assert cpu <= 0.05 * elapsed, "idle agent used %.2f s of CPU in %.1f s (%.0f %% of a core)" % (
        cpu, elapsed, 100 * cpu / elapsed)
    assert rss1 - rss0 < 16 * 1024, "idle agent's RSS grew from %d to %d KiB in %.1f s" % (rss0, rss1, elapsed)
