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


def test_notify_extends_the_start_timeout_while_recovering_after_kill9(skeind_factory, tmp_path):
    """After kill -9 the broker rescans its segments before READY=1; EXTEND_TIMEOUT_USEC= (30 s, with a STATUS
    saying it recovers storage) comes before READY=1, whose STATUS says it recovered after an unclean shutdown."""
    from confluent_kafka import Producer

    from conftest import create_topic

    broker = skeind_factory.new()
    broker.start()
    create_topic(broker, "recovering", 4)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
    for i in range(2000):
        producer.produce("recovering", value=b"record %d" % i, partition=i % 4)
    assert producer.flush(30) == 0
    broker.kill()
    notify = NotifySocket(tmp_path / "notify-recover.sock")
    try:
        broker.env = {"NOTIFY_SOCKET": notify.path}
        broker.start()
        ready = wait_until(lambda: notify.with_key("READY"), 30, "READY=1 from skeind after kill -9")
        assert "recovered after an unclean shutdown" in ready[0][1]["STATUS"], ready[0][1]
        extends = notify.with_key("EXTEND_TIMEOUT_USEC")
        assert extends, "no EXTEND_TIMEOUT_USEC= before READY=1: %s" % notify.messages
        assert extends[0][0] <= ready[0][0]
        assert extends[0][1]["EXTEND_TIMEOUT_USEC"] == "30000000", extends[0][1]
        assert "recovering storage" in extends[0][1]["STATUS"], extends[0][1]
        assert broker.terminate() == 0
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
        # The broker answers, so READY waits for it rather than saying the agent waits.
        assert "waiting for the broker" not in ready[0][1]["STATUS"], ready[0][1]
        wait_until(lambda: len(notify.with_key("WATCHDOG")) >= 3, 10, "three WATCHDOG=1 from skein-agent")
        assert agent.terminate() == 0
        assert notify.with_key("STOPPING"), "no STOPPING=1 from skein-agent"
    finally:
        notify.close()


def test_agent_ready_when_the_broker_is_down_then_status_once_it_answers(skeind_factory, agent_factory, tmp_path):
    """The broker is down when the agent starts: READY=1 still comes (after the agent's 5 s wait), with a STATUS
    saying it waits for the broker, and WATCHDOG=1 keeps coming (retrying is progress). Once a broker listens on
    that address, STATUS names the sources and the file's lines arrive."""
    from ledger import TopicReader, wait_all_delivered
    from conftest import free_port

    notify = NotifySocket(tmp_path / "agent-notify-down.sock")
    try:
        port = free_port()
        log_file = tmp_path / "down.log"
        log_file.write_text("".join("dn %d x\n" % n for n in range(1, 101)))
        agent = agent_factory.new("127.0.0.1:%d" % port, "notify-down", {"dn": {"paths": [str(log_file)]}})
        agent.command_prefix = ["env", "NOTIFY_SOCKET=" + notify.path, "WATCHDOG_USEC=1000000"]
        started = time.monotonic()
        agent.start()
        ready = wait_until(lambda: notify.with_key("READY"), 30, "READY=1 from skein-agent with the broker down")
        at, fields = ready[0]
        assert "waiting for the broker at 127.0.0.1:%d" % port in fields["STATUS"], fields
        assert at - started >= 4.0, "READY after %.1fs, before the 5 s wait for the broker" % (at - started)
        count = len(notify.with_key("WATCHDOG"))
        wait_until(lambda: len(notify.with_key("WATCHDOG")) >= count + 3, 10, "WATCHDOG=1 while the broker is down")
        # No create_topic: the agent may reach the broker first, and its metadata request auto-creates the topic.
        broker = skeind_factory.new(port=port).start()

        def sources_status():
            return [m for _, m in notify.drain() if m.get("STATUS", "").startswith("sources: ")]

        wait_until(sources_status, 60, "STATUS naming the sources once the broker answers")
        reader = TopicReader(broker.bootstrap, "notify-down")
        try:
            assert wait_all_delivered(reader, {"dn": 100}, timeout=60), reader.ledger.verdict({"dn": 100}).summary()
        finally:
            reader.close()
        assert agent.terminate() == 0, agent.log_tail()
    finally:
        notify.close()
