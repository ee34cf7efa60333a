"""A broker holding more partitions than its open file limit allows: skeind started under a low RLIMIT_NOFILE
(prlimit) on a data directory with 1,000 partitions starts, serves produce and consume on every partition,
and restarts on the same directory, after SIGKILL too, without warning about its own files (issue #10).

Skeind only: the mock has no data directory."""

import os
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from conftest import Skeind, create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the mock has no data directory or descriptor budget")

PARTITIONS = 1000
NOFILE = 256


class LimitedSkeind(Skeind):
    """skeind under a hard open file limit it cannot raise. prlimit execs it, so the pid is skeind's."""

    def command(self):
        return ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), "--"] + super().command()


def open_descriptors(pid: int) -> int:
    return len(os.listdir("/proc/%d/fd" % pid))


def produce_one_each(broker, topic, tag: str):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 20})
    failures = []
    for partition in range(PARTITIONS):
        p.produce(topic, value=b"%s-%d" % (tag.encode(), partition), partition=partition,
                  on_delivery=lambda err, msg: err and failures.append(err))
        p.poll(0)
    assert p.flush(60) == 0, "records still queued after 60 s"
    assert not failures, "%d deliveries failed, first %s" % (len(failures), failures[0])


def read_all(broker, topic, timeout: float = 90.0, chunk_size: int = 50) -> dict:
    """Every record value of every partition, {partition: [values]}, assigned chunk_size partitions at a
    time."""
    values = {}
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "fd-limits-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    deadline = time.monotonic() + timeout
    try:
        for start in range(0, PARTITIONS, chunk_size):
            chunk = list(range(start, min(PARTITIONS, start + chunk_size)))
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in chunk])
            at_end = set()
            while len(at_end) < len(chunk):
                assert time.monotonic() < deadline, "partitions %d.. not read to their end in %.0fs" % (
                    start, timeout)
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    assert m.error().code() == KafkaError._PARTITION_EOF, "consumer error: %s" % m.error()
                    at_end.add(m.partition())
                    continue
                values.setdefault(m.partition(), []).append(m.value())
            c.unassign()
    finally:
        c.close()
    return values


@pytest.mark.timeout(300)  # three starts over 1,000 partitions, two full reads: about 80 s on a quiet machine
def test_a_broker_with_more_partitions_than_descriptors_serves_them_and_restarts(skeind_factory, topic_name):
    first = skeind_factory.new()
    first.start()
    topic = topic_name()
    create_topic(first, topic, PARTITIONS)
    assert first.terminate() == 0

    limited = LimitedSkeind(first.data_dir, first.log_dir, settings=first.settings)
    skeind_factory.started.append(limited)
    limited.start(timeout=60)
    log = limited.log_tail(400)
    assert "idle segment files will be closed and reopened" in log, log

    produce_one_each(limited, topic, "a")
    peak = open_descriptors(limited.pid)
    values = read_all(limited, topic)
    peak = max(peak, open_descriptors(limited.pid))
    assert sorted(values) == list(range(PARTITIONS))
    assert all(values[p] == [b"a-%d" % p] for p in range(PARTITIONS))
    assert peak < NOFILE, "skeind held %d descriptors, limit %d" % (peak, NOFILE)

    # An unclean stop, then a restart that rescans every partition under the same limit.
    limited.kill()
    limited.start(timeout=90)
    produce_one_each(limited, topic, "b")
    # All 1,000 at once: a fetch answers only as many partitions with data as the descriptor budget spares,
    # and the consumer fetches the rest next time.
    values = read_all(limited, topic, chunk_size=PARTITIONS)
    assert all(values[p] == [b"a-%d" % p, b"b-%d" % p] for p in range(PARTITIONS))
    text = limited.log_tail(100000)
    assert "Too many open files" not in text
    assert "not a partition directory" not in text, "warned about the broker's own files:\n" + text
    assert limited.terminate() == 0

    # A clean stop under the limit reopens too.
    limited.start(timeout=60)
    wait_until(lambda: limited.alive(), 5, "skeind to stay up")
    assert limited.terminate() == 0
