"""skeind, skein-agent and the `skein` CLI run as an unprivileged user (issue #14), as a service manager
with `User=` or `DynamicUser=` runs them: no capabilities, no supplementary groups.

skeind once asked for SO_DEBUG on every accepted socket (NIO's `socketOption(.tcp_nodelay)` is SOL_SOCKET's
option 1), which only CAP_NET_ADMIN may set: as any other user every connection was closed before its first
byte and nothing was logged. These tests run a produce/consume round trip with kcat and confluent-kafka, an
agent shipping a file, and the CLI reading it back, every Skein process as `nobody`."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import create_topic, give_to, kcat, kcat_consume, run_as, skeind_path, wait_until

pytestmark = pytest.mark.skeind_only("runs skeind as another user")

USER = "nobody"


def uid_of(pid: int) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[2])  # effective
    raise AssertionError("no Uid line for pid %d" % pid)


def expected_uid() -> int:
    return pwd.getpwnam(USER).pw_uid if os.geteuid() == 0 else os.geteuid()


def test_unprivileged_broker_agent_and_cli(skeind_factory, agent_factory, tmp_path):
    broker = skeind_factory.new(user=USER).start()
    assert uid_of(broker.pid) == expected_uid(), "skeind does not run as %s" % USER
    assert uid_of(broker.pid) != 0 or os.geteuid() != 0
    # The HTTP listener had the same SO_DEBUG on its connections.
    with urllib.request.urlopen(broker.metrics_url + "/health", timeout=10) as res:
        assert res.status == 200

    # kcat: produce and consume.
    topic = "unpriv-" + uuid.uuid4().hex[:8]
    create_topic(broker, topic)
    lines = ["kcat-%d" % i for i in range(50)]
    kcat(broker, "-P", "-t", topic, "-p", "0", input=("\n".join(lines) + "\n").encode())
    assert kcat_consume(broker, topic, 0, "%s\n") == lines

    # confluent-kafka: produce and consume with a group (coordinator, offsets commit).
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for i in range(20):
        producer.produce(topic, value=b"ck-%d" % i, partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unpriv-" + topic,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        got: list[bytes] = []

        def all_read():
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append(msg.value())
            return len(got) >= 70
        wait_until(all_read, 30, "confluent-kafka to read 70 records")
        assert got == [line.encode() for line in lines] + [b"ck-%d" % i for i in range(20)]
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        assert committed[0].offset == 70
    finally:
        consumer.close()

    # skein-agent as the same user ships a file it may read into its own topic.
    logs_topic = topic + "-logs"
    create_topic(broker, logs_topic)
    log_dir = tmp_path / "logs"
    give_to(USER, log_dir)
    log_file = log_dir / "app.log"
    shipped = ["agent line %d %s" % (i, topic) for i in range(30)]
    log_file.write_text("\n".join(shipped) + "\n")
    os.chmod(log_file, 0o644)
    agent = agent_factory.new(broker.bootstrap, logs_topic, {"app": {"paths": [str(log_file)]}})
    give_to(USER, agent.state_dir)
    agent.command_prefix = run_as(USER)
    agent.start()
    assert uid_of(agent.pid) == expected_uid(), "skein-agent does not run as %s" % USER
    assert agent.scrape(), "the agent's /metrics answered nothing"

    # The CLI as the same user reads the shipped lines back.
    skein = [*run_as(USER), str(skeind_path().parent / "skein")]

    def cli_lines():
        res = subprocess.run(skein + ["logs", "-t", logs_topic, "-o", "cat", "--bootstrap", broker.bootstrap],
                             capture_output=True, timeout=30)
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        return [line for line in res.stdout.decode().splitlines() if topic in line]
    wait_until(lambda: len(cli_lines()) == len(shipped), 60, "the agent's lines in `skein logs` run as %s" % USER)
    assert cli_lines() == shipped
    assert agent.terminate() == 0

    # The CLI's own produce/consume round trip.
    res = subprocess.run(skein + ["produce", "-t", topic, "--bootstrap", broker.bootstrap], input=b"cli-line\n",
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert kcat_consume(broker, topic, 0, "%s\n")[-1] == "cli-line"

    # Nothing went wrong on the broker's side, and it stops cleanly as that user.
    broker.assert_alive()
    assert "could not accept or set up a connection" not in broker.log_tail()
    assert broker.terminate() == 0
