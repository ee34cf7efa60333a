#!/usr/bin/env python3
"""CPU and memory of a running skein-agent shipping host metrics to a real skeind.

Starts skeind (temporary data directory, free loopback port) and skein-agent --interval N, lets the agent warm up
(first connection, topic auto-creation), then reads /proc/<agent pid>/stat and /proc/<pid>/status over a bounded
window: CPU share = (utime+stime delta) / wall-clock delta, RSS = VmRSS sampled every second (max reported) and
VmHWM at the end. Both processes are stopped by pid.

Usage: Benchmarks/agent_overhead.py --interval 15 --duration 300 [--agent PATH] [--skeind PATH]
Defaults: the release skein-agent and the skeind of `swift build --show-bin-path` (the broker's speed does not
matter here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def bin_path(configuration: str) -> Path:
    out = subprocess.run(["swift", "build", "-c", configuration, "--show-bin-path"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.strip()
    return Path(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    text = Path("/proc/%d/stat" % pid).read_text()
    after = text[text.rindex(")") + 2:].split()
    return (int(after[11]) + int(after[12])) / TICKS


def status_kib(pid: int, field: str) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def wait_port(port: int, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("skeind did not listen on %d within %.0fs" % (port, timeout))


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=15)
    parser.add_argument("--duration", type=float, default=300, help="measured seconds after warm-up")
    parser.add_argument("--warmup", type=float, default=None, help="default: 2 intervals, at least 5 s")
    parser.add_argument("--agent", type=Path, default=None)
    parser.add_argument("--skeind", type=Path, default=None)
    args = parser.parse_args()
    agent = args.agent or bin_path("release") / "skein-agent"
    skeind = args.skeind or bin_path("debug") / "skeind"
    warmup = args.warmup if args.warmup is not None else max(5.0, 2 * args.interval)

    work = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    port = free_port()
    broker = subprocess.Popen([str(skeind), "--data-dir", str(work / "data"), "--listen", "127.0.0.1:%d" % port,
                               "--http-listen", "127.0.0.1:%d" % free_port()],
                              stdout=subprocess.DEVNULL, stderr=open(work / "skeind.log", "wb"), start_new_session=True)
    agent_proc = None
    try:
        wait_port(port, 30)
        agent_proc = subprocess.Popen([str(agent), "--bootstrap", "127.0.0.1:%d" % port, "--interval",
                                       str(args.interval), "--topic", "metrics"],
                                      stdout=subprocess.DEVNULL, stderr=open(work / "agent.log", "wb"),
                                      start_new_session=True)
        time.sleep(warmup)
        assert agent_proc.poll() is None, (work / "agent.log").read_text()
        pid = agent_proc.pid
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        rss_max = 0
        deadline = wall0 + args.duration
        while time.monotonic() < deadline:
            rss_max = max(rss_max, status_kib(pid, "VmRSS"))
            time.sleep(1)
        cpu1, wall1 = cpu_seconds(pid), time.monotonic()
        hwm = status_kib(pid, "VmHWM")
        anon, file_backed = status_kib(pid, "RssAnon"), status_kib(pid, "RssFile")
        rss_max = max(rss_max, status_kib(pid, "VmRSS"))
        share = (cpu1 - cpu0) / (wall1 - wall0)
        print("interval %.3g s, measured %.0f s after %.0f s warm-up" % (args.interval, wall1 - wall0, warmup))
        print("agent CPU: %.3f s over %.0f s = %.3f %% of one core" % (cpu1 - cpu0, wall1 - wall0, 100 * share))
        print("agent RSS: max %.1f MB while sampling, high-water mark %.1f MB" % (rss_max / 1024, hwm / 1024))
        print("at the end: RssAnon %.1f MB (the agent's own heap and stacks), RssFile %.1f MB (mapped code of"
              " the binary and the Swift runtime, shared with other processes)" % (anon / 1024, file_backed / 1024))
    finally:
        if agent_proc is not None:
            stop(agent_proc)
        stop(broker)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
