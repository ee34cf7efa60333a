"""skein-agent against a broker without transactions (issue #12): it falls back to at-least-once, ships the file
anyway, says so in a warning log line and shows skein_agent_exactly_once 0 on its /metrics.

The broker is librdkafka's mock cluster with the transaction APIs switched off (tools/mockbroker_notxn.c, built
by conftest.build_tool), in two shapes: an idempotent-only broker (InitProducerId kept, AddPartitionsToTxn,
AddOffsetsToTxn, EndTxn, WriteTxnMarkers and TxnOffsetCommit gone) and a pre-0.11 one (InitProducerId gone too).
The skeind the session starts is not used."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from conftest import HOST, GiveUp, NoTxnMockBroker, free_port, skeind_path, wait_until

LINES = 300
TOPIC = "logs-fallback"
VARIANTS = {"idempotent-only": [], "pre-0.11": ["--no-idempotence"]}


def agent_path() -> Path:
    return skeind_path().parent / "skein-agent"


@pytest.fixture(params=sorted(VARIANTS))
def notxn_broker(request, tmp_path):
    work = tmp_path / "mock"
    work.mkdir()
    b = NoTxnMockBroker(work, "--topic", "%s:1" % TOPIC, *VARIANTS[request.param])
    yield b
    alive = b.alive()
    b.stop()
    assert alive, "the mock broker died during the test:\n" + b.log_tail()


class FileAgent:
    """skein-agent with one file source read from the beginning, started here and stopped by pid."""

    def __init__(self, work: Path, bootstrap: str, followed: Path, exactly_once: str = "auto"):
        exe = agent_path()
        assert os.access(exe, os.X_OK), "skein-agent not built at %s" % exe
        self.metrics_port = free_port()
        self.config = work / "agent.toml"
        self.config.write_text(
            '[agent]\nbootstrap = "%s"\nhost_name = "fallback-host"\nname = "fallback"\nstate_dir = "%s"\n'
            'metrics_listen = "%s:%d"\n\n[delivery]\ntopic = "%s"\nexactly_once = "%s"\nbatch_linger_ms = 20\n\n'
            '[sources.host_metrics]\nenabled = false\n\n'
            '[sources.files.app]\npaths = ["%s"]\nstart_at = "beginning"\n'
            % (bootstrap, work / "state", HOST, self.metrics_port, TOPIC, exactly_once, followed))
        self.log_path = work / "agent.stderr"
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen([str(exe), "--config", str(self.config), "--log-level", "info"],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled sample (or the first sample) of family `name`, None when absent."""
        import urllib.request
        with urllib.request.urlopen("http://%s:%d/metrics" % (HOST, self.metrics_port), timeout=5) as r:
            for line in r.read().decode().splitlines():
                if re.match(re.escape(name) + r"(\{[^}]*\})? ", line):
                    return float(line.rsplit(" ", 1)[1])
        return None

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                raise AssertionError("skein-agent did not stop within %.0fs of SIGTERM:\n%s" % (timeout, self.log()))
        return self.proc.returncode


@pytest.fixture
def file_agent(tmp_path):
    started: list[FileAgent] = []

    def start(bootstrap: str, followed: Path, **kw) -> FileAgent:
        d = tmp_path / ("agent-%d" % len(started))
        d.mkdir()
        a = FileAgent(d, bootstrap, followed, **kw)
        started.append(a)
        return a

    yield start
    for a in started:
        if a.proc.poll() is None:
            os.kill(a.proc.pid, signal.SIGKILL)
            a.proc.wait(10)


def write_lines(path: Path, first: int, count: int):
    with open(path, "a") as f:
        for n in range(first, first + count):
            f.write("fallback line %06d %s\n" % (n, "x" * (n % 50)))


def read_all(bootstrap: str, want: int, timeout: float, agent: FileAgent) -> list:
    """Data records of the topic (checkpoint records skipped) once at least `want` have arrived."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fallback-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000})
    c.assign([TopicPartition(TOPIC, 0, OFFSET_BEGINNING)])
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < want:
            assert time.monotonic() < deadline, "%d of %d records after %.0fs; agent log:\n%s" % (
                len(records), want, timeout, agent.log()[-4000:])
            assert agent.proc.poll() is None, "skein-agent exited with %s:\n%s" % (agent.proc.returncode,
                                                                                  agent.log()[-4000:])
            for m in c.consume(num_messages=1000, timeout=0.5):
                if m.error():
                    if m.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                headers = dict(m.headers() or [])
                if "skein.checkpoint" not in headers:
                    records.append(m)
    finally:
        c.close()
    return records


def line_number(message) -> int:
    import json
    found = re.search(r"fallback line (\d{6})", json.loads(message.value())["message"])
    assert found, message.value()
    return int(found.group(1))


def test_agent_ships_a_file_at_least_once_without_transactions(notxn_broker, file_agent, tmp_path):
    followed = tmp_path / "app.log"
    write_lines(followed, 1, LINES)
    agent = file_agent(notxn_broker.bootstrap, followed)
    records = read_all(notxn_broker.bootstrap, LINES, 60, agent)
    write_lines(followed, LINES + 1, LINES)  # lines appended while it runs are followed too
    records = read_all(notxn_broker.bootstrap, 2 * LINES, 60, agent)

    numbers = [line_number(m) for m in records]
    assert set(numbers) == set(range(1, 2 * LINES + 1)), "lines missing: %s" % sorted(
        set(range(1, 2 * LINES + 1)) - set(numbers))[:20]
    first_seen = list(dict.fromkeys(numbers))
    assert first_seen == sorted(first_seen), "lines out of order in the partition"
    for m in records:
        headers = dict(m.headers() or [])
        assert m.key() == b"fallback-host"
        assert headers.get("skein.source") == b"files.app"
        assert re.fullmatch(rb"\d+", headers.get("skein.seq", b"")), headers
        assert re.fullmatch(rb"(fp-[0-9a-f]{16}|ino-\d+-\d+)@\d+", headers.get("skein.position", b"")), headers
    # Duplicates are allowed (at-least-once) but each carries the same sequence number as its first copy.
    seq_of: dict[int, bytes] = {}
    for m, n in zip(records, numbers):
        seq = dict(m.headers())["skein.seq"]
        assert seq_of.setdefault(n, seq) == seq, "line %d delivered with two sequence numbers" % n
    assert notxn_broker.alive()
    assert agent.stop() == 0, agent.log()[-4000:]


def test_agent_says_it_fell_back_to_at_least_once(notxn_broker, file_agent, tmp_path):
    followed = tmp_path / "app.log"
    write_lines(followed, 1, 10)
    agent = file_agent(notxn_broker.bootstrap, followed)
    read_all(notxn_broker.bootstrap, 10, 60, agent)
    warning = wait_until(lambda: [l for l in agent.log().splitlines()
                                  if re.search(r"(?i)at[- ]least[- ]once", l)], 20,
                         "a log line saying the agent delivers at-least-once")
    assert re.search(r"(?i)warn", warning[0]), "not logged as a warning: %r" % warning[0]
    wait_until(lambda: agent.metric("skein_agent_exactly_once") is not None, 20,
               "skein_agent_exactly_once on /metrics")
    assert agent.metric("skein_agent_exactly_once") == 0.0
    assert agent.stop() == 0, agent.log()[-4000:]


def end_offset(bootstrap: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fallback-end-%d" % time.monotonic_ns()})
    try:
        return c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)[1]
    finally:
        c.close()


def test_exactly_once_required_refuses_a_broker_without_transactions(notxn_broker, file_agent, tmp_path):
    followed = tmp_path / "app.log"
    write_lines(followed, 1, 10)
    agent = file_agent(notxn_broker.bootstrap, followed, exactly_once="required")

    def refused():
        if agent.proc.poll() is not None and not said_why():
            raise GiveUp("skein-agent exited %d without naming transactions:\n%s"
                         % (agent.proc.returncode, agent.log()[-4000:]))
        return said_why()

    def said_why():
        return [l for l in agent.log().splitlines() if re.search(r"(?i)error|critical", l)
                and re.search(r"(?i)transaction", l)]

    wait_until(refused, 30, "an error line saying the broker has no transactions")
    code = agent.proc.poll()
    assert code is None or code > 0, "skein-agent died from signal %d:\n%s" % (-code, agent.log()[-4000:])
    assert end_offset(notxn_broker.bootstrap) == 0, "records were delivered without transactions"
