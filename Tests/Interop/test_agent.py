"""skein-agent against a real skeind: host-metrics records arrive in the metrics topic keyed by host, with the
documented content type and JSON shape; delivery resumes after a broker restart (records sampled during the outage
are buffered and delivered); SIGTERM stops the agent cleanly even when no broker answers.

Skeind only: the tests restart the broker on its data directory, which the mock cannot do."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from conftest import HOST, free_port, skeind_path, wait_until

pytestmark = pytest.mark.skeind_only("restarts skeind on its data directory")

CONTENT_TYPE = b"application/vnd.skein.host-metrics.v1+json"
REQUIRED_FAMILIES = {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_load1",
                     "node_network_receive_bytes_total", "node_filesystem_avail_bytes", "node_time_seconds"}


def agent_path() -> Path:
    return skeind_path().parent / "skein-agent"


class Agent:
    """One skein-agent process, stopped by pid."""

    def __init__(self, args: list[str], log_path: Path):
        exe = agent_path()
        assert os.access(exe, os.X_OK), "skein-agent not built at %s" % exe
        # Otherwise every agent listens on the default 127.0.0.1:9645, which a concurrent test or session may
        # hold (the agent then exits at startup); tests that scrape an agent give --metrics-listen a free port.
        if "--metrics-listen" not in args:
            args = args + ["--metrics-listen", "off"]
        self.log_path = log_path
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen([str(exe)] + args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

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

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def agents(tmp_path):
    started: list[Agent] = []

    def start(*args: str) -> Agent:
        a = Agent(list(args), tmp_path / ("agent-%d.stderr" % len(started)))
        started.append(a)
        return a

    yield start
    for a in started:
        a.kill()


class TopicReader:
    """Reads partition 0 of a topic from the beginning with confluent-kafka, keeping what it has seen."""

    def __init__(self, bootstrap: str, topic: str):
        self.topic = topic
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "agent-it-%d" % time.monotonic_ns(),
                                  "enable.auto.commit": False, "topic.metadata.refresh.interval.ms": 1000,
                                  "reconnect.backoff.max.ms": 500})
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.messages = []

    def read_until(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while not predicate(self.messages):
            assert time.monotonic() < deadline, "timed out after %.0fs waiting for %s (have %d records)" % (
                timeout, what, len(self.messages))
            m = self.consumer.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART,
                                        KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
                    continue
                raise AssertionError("consumer error: %s" % m.error())
            self.messages.append(m)
        return self.messages

    def close(self):
        self.consumer.close()


def decoded(message) -> dict:
    return json.loads(message.value().decode("utf-8"))


def check_record(message, host: str, interval: float):
    assert message.key() == host.encode()
    assert dict(message.headers() or []).get("content-type") == CONTENT_TYPE
    record = decoded(message)
    assert record["schema"] == "skein.host-metrics.v1"
    assert record["host"] == host
    assert record["interval_seconds"] == interval
    assert abs(record["timestamp_ms"] - message.timestamp()[1]) < 1000, "record timestamp differs from the value's"
    names = {f["name"] for f in record["families"]}
    assert REQUIRED_FAMILIES <= names, "missing %s" % (REQUIRED_FAMILIES - names)
    for family in record["families"]:
        assert family["type"] in ("counter", "gauge", "untyped")
        assert family["samples"], family["name"]
        for sample in family["samples"]:
            assert isinstance(sample["value"], (int, float))
            assert all(isinstance(v, str) for v in sample["labels"].values())
    return record


def test_records_arrive_keyed_by_host(broker, agents, topic_name):
    topic = topic_name("metrics")
    agent = agents("--bootstrap", broker.bootstrap, "--interval", "1", "--topic", topic, "--host-name", "it-host-1")
    reader = TopicReader(broker.bootstrap, topic)
    try:
        messages = reader.read_until(lambda ms: len(ms) >= 3, 30, "three sample sets")
    finally:
        reader.close()
    records = [check_record(m, "it-host-1", 1) for m in messages]
    stamps = [r["timestamp_ms"] for r in records]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), "sample sets out of order: %s" % stamps
    # Counters move forward between sample sets (node_time_seconds at least).
    times = [next(f for f in r["families"] if f["name"] == "node_time_seconds")["samples"][0]["value"]
             for r in records]
    assert times[-1] > times[0]
    assert agent.alive(), agent.log()
    assert agent.stop() == 0, agent.log()


def test_config_file_sets_broker_topic_host_and_interval(broker, agents, topic_name, tmp_path):
    topic = topic_name("metrics")
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nbootstrap = "%s"\nhost_name = "from-config"\n\n'
                      '[sources.host_metrics]\ninterval = 0.5\ntopic = "%s"\n' % (broker.bootstrap, topic))
    agent = agents("--config", str(config))
    reader = TopicReader(broker.bootstrap, topic)
    try:
        messages = reader.read_until(lambda ms: len(ms) >= 2, 30, "two sample sets")
    finally:
        reader.close()
    for m in messages:
        check_record(m, "from-config", 0.5)
    assert agent.stop() == 0, agent.log()


def test_delivery_resumes_after_a_broker_restart(skeind_factory, agents, topic_name):
    b = skeind_factory.new().start()
    topic = topic_name("metrics")
    agent = agents("--bootstrap", b.bootstrap, "--interval", "1", "--topic", topic, "--host-name", "it-restart")
    reader = TopicReader(b.bootstrap, topic)
    try:
        reader.read_until(lambda ms: len(ms) >= 2, 30, "two sample sets before the restart")
        stopped_at_ms = time.time() * 1000
        assert b.terminate() == 0, b.log_tail()
        # The agent notices (its next send fails) and keeps sampling into its buffer.
        wait_until(lambda: "cannot deliver" in agent.log(), 30, "the agent to report the broker unreachable")
        assert agent.alive(), agent.log()
        restarted_at_ms = time.time() * 1000
        b.start()
        messages = reader.read_until(
            lambda ms: any(decoded(m)["timestamp_ms"] > restarted_at_ms + 1000 for m in ms), 60,
            "a sample set taken after the restart")
    finally:
        reader.close()
    records = [check_record(m, "it-restart", 1) for m in messages]
    during_outage = [r for r in records if stopped_at_ms < r["timestamp_ms"] < restarted_at_ms]
    assert during_outage, "no sample set taken while the broker was down was delivered after it came back"
    stamps = [r["timestamp_ms"] for r in records]
    assert stamps == sorted(stamps), "buffered sample sets delivered out of order"
    assert agent.alive(), agent.log()
    assert agent.stop() == 0, agent.log()
    assert "delivering again" in agent.log()


def test_sigterm_stops_promptly_when_no_broker_answers(agents, tmp_path):
    dead = "%s:%d" % (HOST, free_port())  # nothing listens here
    config = tmp_path / "agent.toml"
    config.write_text("[agent]\nshutdown_flush_seconds = 2\n")
    agent = agents("--config", str(config), "--bootstrap", dead, "--interval", "0.2", "--topic", "metrics")
    wait_until(lambda: "cannot deliver" in agent.log(), 30, "the agent to report the broker unreachable")
    assert agent.alive(), agent.log()
    started = time.monotonic()
    assert agent.stop(timeout=15) == 0, agent.log()
    assert time.monotonic() - started < 10, "SIGTERM took %.1fs with a 2 s flush limit" % (time.monotonic() - started)


def test_sigterm_delivers_what_is_buffered(skeind_factory, agents, topic_name, tmp_path):
    b = skeind_factory.new()  # its port is chosen; it starts later
    topic = topic_name("metrics")
    config = tmp_path / "agent.toml"
    config.write_text("[agent]\nshutdown_flush_seconds = 20\n")
    agent = agents("--config", str(config), "--bootstrap", b.bootstrap, "--interval", "0.2", "--topic", topic,
                   "--host-name", "it-flush")
    wait_until(lambda: "cannot deliver" in agent.log(), 30, "the agent to report the broker unreachable")
    b.start()
    # Stop at once: whatever is still buffered must go out during the shutdown flush.
    assert agent.stop(timeout=40) == 0, agent.log()
    log = agent.log()
    sent = re.search(r"\bsent=(\d+)", log)
    undelivered = re.search(r"\bundelivered=(\d+)", log)
    assert sent and undelivered, log
    assert int(undelivered.group(1)) == 0, log
    assert int(sent.group(1)) >= 2, log
    reader = TopicReader(b.bootstrap, topic)
    try:
        messages = reader.read_until(lambda ms: len(ms) >= int(sent.group(1)), 30, "every sample set sent")
    finally:
        reader.close()
    assert len(messages) == int(sent.group(1))
    for m in messages:
        check_record(m, "it-flush", 0.2)


def family_value(record: dict, name: str) -> float:
    return next(f for f in record["families"] if f["name"] == name)["samples"][0]["value"]


def test_a_full_buffer_drops_the_oldest_and_counts_them(skeind_factory, agents, topic_name, tmp_path):
    b = skeind_factory.new()  # not started yet: nothing can be delivered
    topic = topic_name("metrics")
    config = tmp_path / "agent.toml"
    config.write_text("[agent]\nbuffer_records = 3\n")
    agent = agents("--config", str(config), "--bootstrap", b.bootstrap, "--interval", "0.2", "--topic", topic,
                   "--host-name", "it-drop")
    wait_until(lambda: "delivery buffer full" in agent.log() and "cannot deliver" in agent.log(), 30,
               "the agent to fail a delivery and drop a sample set")
    started_ms = time.time() * 1000
    b.start()
    reader = TopicReader(b.bootstrap, topic)
    try:
        messages = reader.read_until(lambda ms: any(decoded(m)["timestamp_ms"] > started_ms + 500 for m in ms), 60,
                                     "a sample set taken after the broker started")
    finally:
        reader.close()
    records = [check_record(m, "it-drop", 0.2) for m in messages]
    before = [r for r in records if r["timestamp_ms"] < started_ms]
    # At most the 3 buffered plus the one in flight survived the outage; the rest were dropped, and counted.
    assert 1 <= len(before) <= 4, [r["timestamp_ms"] for r in before]
    assert family_value(records[-1], "skein_agent_records_dropped_total") >= 1
    assert family_value(records[-1], "skein_agent_send_failures_total") >= 1
    assert agent.stop() == 0, agent.log()
