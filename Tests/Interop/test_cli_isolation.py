"""`skein consume` and `skein logs` read committed data by default (issue #11): records written by a
confluent-kafka transactional producer show once committed, never when aborted, not while their transaction
is open; `--isolation-level read_uncommitted` (alias `--isolation`) shows everything as written, and control
batches never show in either mode."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer

from conftest import create_topic
from test_cli import ok, skein

pytestmark = pytest.mark.skeind_only


def transactional_producer(broker) -> Producer:
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "cli-" + uuid.uuid4().hex[:8],
                  "linger.ms": 5})
    p.init_transactions(20)
    return p


def write(p: Producer, topic: str, values: list[bytes], commit: bool | None):
    """Writes `values` in one transaction, then commits (True), aborts (False) or leaves it open (None)."""
    p.begin_transaction()
    for i, v in enumerate(values):
        p.produce(topic, value=v, partition=i % 2)
    p.flush(20)
    if commit is True:
        p.commit_transaction(20)
    elif commit is False:
        p.abort_transaction(20)


def test_consume_reads_committed_by_default(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 2)
    p = transactional_producer(broker)
    committed = [b"c-%d" % i for i in range(6)]
    aborted = [b"a-%d" % i for i in range(4)]
    write(p, topic, committed[:3], True)
    write(p, topic, aborted, False)
    write(p, topic, committed[3:], True)

    default = ok(skein(broker, "consume", "-t", topic)).split("\n")
    assert sorted(line for line in default if line) == sorted(v.decode() for v in committed)
    explicit = ok(skein(broker, "consume", "-t", topic, "--isolation-level", "read_committed")).split("\n")
    assert sorted(line for line in explicit if line) == sorted(v.decode() for v in committed)
    everything = ok(skein(broker, "consume", "-t", topic, "--isolation", "read_uncommitted")).split("\n")
    assert sorted(line for line in everything if line) == sorted(v.decode() for v in committed + aborted)

    # An open transaction: read_committed stops before it (and the command still ends), read_uncommitted
    # shows its records.
    open_values = [b"o-%d" % i for i in range(4)]
    write(p, topic, open_values, None)
    while_open = ok(skein(broker, "consume", "-t", topic, timeout=30)).split("\n")
    assert sorted(line for line in while_open if line) == sorted(v.decode() for v in committed)
    uncommitted = ok(skein(broker, "consume", "-t", topic, "--isolation-level", "read_uncommitted")).split("\n")
    assert set(v.decode() for v in open_values) <= set(uncommitted)
    p.commit_transaction(20)
    after = ok(skein(broker, "consume", "-t", topic)).split("\n")
    assert sorted(line for line in after if line) == sorted(v.decode() for v in committed + open_values)


def test_logs_reads_committed_by_default(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 2)
    p = transactional_producer(broker)

    def entry(message: str) -> bytes:
        return json.dumps({"host": "h1", "unit": "app", "severity": "info", "message": message}).encode()

    write(p, topic, [entry("kept-%d" % i) for i in range(3)], True)
    write(p, topic, [entry("dropped-%d" % i) for i in range(3)], False)
    shown = ok(skein(broker, "logs", "-t", topic, "-o", "cat"))
    assert sorted(shown.split()) == ["kept-0", "kept-1", "kept-2"]
    everything = ok(skein(broker, "logs", "-t", topic, "-o", "cat", "--isolation", "read_uncommitted"))
    assert sorted(everything.split()) == sorted(["kept-%d" % i for i in range(3)] + ["dropped-%d" % i for i in range(3)])


def test_bad_isolation_level_is_a_usage_error(broker, topic_name):
    res = skein(broker, "consume", "-t", topic_name(), "--isolation-level", "committed")
    assert res.returncode == 64, res.stderr
