"""skeind's sd_notify messages without systemd (issue #14): the test binds the AF_UNIX datagram socket that
NOTIFY_SOCKET names, as the service manager does, and reads what skeind sends. READY=1 comes only once the
Kafka listener accepts, with a STATUS= line naming partitions and connections; WATCHDOG=1 comes every half
WATCHDOG_USEC while the process runs and stops while it is SIGSTOPped; SIGTERM sends STOPPING=1 and the broker
still writes its clean-shutdown marker."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from conftest import port_accepts, wait_until

pytestmark = pytest.mark.skeind_only("sd_notify is skeind's own code")


class NotifySocket:
    """The manager's end of NOTIFY_SOCKET: every datagram, split into NAME=value assignments."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.messages: list[tuple[float, dict[str, str]]] = []

    def drain(self) -> list[tuple[float, dict[str, str]]]:
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return self.messages
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            self.messages.append((time.monotonic(), fields))

    def with_key(self, key: str) -> list[tuple[float, dict[str, str]]]:
        return [(t, m) for t, m in self.drain() if key in m]

    def close(self):
        self.sock.close()


def test_notify_ready_status_watchdog_and_stopping(skeind_factory, tmp_path):
    notify = NotifySocket(tmp_path / "notify.sock")
    try:
        broker = skeind_factory.new()
        broker.env = {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"}
        broker.start()
        ready = wait_until(lambda: notify.with_key("READY"), 20, "READY=1 from skeind")
        assert ready[0][1]["READY"] == "1"
        assert port_accepts(broker.host, broker.port)
        status = ready[0][1]["STATUS"]
        assert "partitions" in status and "connections" in status and "opened cleanly" in status, status

        # WATCHDOG=1 about every 0.5 s while running.
        pings = wait_until(lambda: len(w := notify.with_key("WATCHDOG")) >= 4 and w, 10, "four WATCHDOG=1")
        gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
        assert max(gaps) < 1.0, gaps

        # Stopped, it sends nothing, so the manager's watchdog would fire; continued, it pings again.
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            time.sleep(0.2)  # let a datagram sent just before the stop arrive
            before = len(notify.with_key("WATCHDOG"))
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:  # bounded: 1.5 s of silence is what we assert
                time.sleep(0.1)
            assert len(notify.with_key("WATCHDOG")) == before, "WATCHDOG=1 while SIGSTOPped"
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        wait_until(lambda: len(notify.with_key("WATCHDOG")) > before, 5, "WATCHDOG=1 after SIGCONT")

        assert broker.terminate() == 0
        stopping = notify.with_key("STOPPING")
        assert stopping and stopping[0][1]["STOPPING"] == "1"
        assert (broker.data_dir / ".skein-clean-shutdown").exists()
    finally:
        notify.close()


def test_notify_nothing_without_notify_socket(skeind_factory):
    """Without NOTIFY_SOCKET skeind runs as before (the quick path of the README)."""
    broker = skeind_factory.new()
    broker.env = {"WATCHDOG_USEC": "1000000"}
    broker.start()
    assert port_accepts(broker.host, broker.port)
    assert broker.terminate() == 0


def test_agent_notify_ready_with_its_sources_watchdog_and_stopping(broker, agent_factory, tmp_path):
    notify = NotifySocket(tmp_path / "agent-notify.sock")
    try:
        log_file = tmp_path / "app.log"
        log_file.write_text("one\ntwo\n")
        agent = agent_factory.new(broker.bootstrap, "notify-logs", {"app": {"paths": [str(log_file)]}})
        # env execs the agent in the same process, so the agent's pid is the one started.
        agent.command_prefix = ["env", "NOTIFY_SOCKET=" + notify.path, "WATCHDOG_USEC=1000000"]
        agent.start()
        ready = wait_until(lambda: notify.with_key("READY"), 30, "READY=1 from skein-agent")
        assert "files.app" in ready[0][1]["STATUS"], ready[0][1]
        wait_until(lambda: len(notify.with_key("WATCHDOG")) >= 3, 10, "three WATCHDOG=1 from skein-agent")
        assert agent.terminate() == 0
        assert notify.with_key("STOPPING"), "no STOPPING=1 from skein-agent"
    finally:
        notify.close()
