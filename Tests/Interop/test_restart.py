"""Restarts on the same data directory: a clean SIGTERM keeps everything; after SIGKILL every record acknowledged
with acks=all is there, at its acknowledged offset, exactly once and in order (DESIGN.md §7, crash tests).

Skeind only: the mock keeps nothing across a restart."""

import os
import random
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from conftest import create_topic, kcat, kcat_consume

pytestmark = pytest.mark.skeind_only("the mock cannot restart on a data directory")

CRASH_ROUNDS = int(os.environ.get("SKEIN_INTEROP_CRASH_ROUNDS", "3"))


def read_partition(broker, topic, partition, timeout=30.0):
    """Every record of the partition as [(offset, key, value)], read with confluent-kafka to the end."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "restart-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, partition, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline, "partition %d not read to its end in %.0fs" % (partition, timeout)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError("consumer error: %s" % m.error())
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()


def watermarks(broker, topic, partition):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "wm"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def test_sigterm_restart_keeps_everything(skeind_factory, topic_name, tmp_path):
    b = skeind_factory.new(settings={"log.segment.bytes": "1048576"}).start()
    topic = topic_name()
    create_topic(b, topic, 3)

    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5, "compression.type": "lz4"})
    expected = {0: [], 1: [], 2: []}
    rng = random.Random(7)
    for i in range(6000):
        part = i % 3
        value = b"r%05d-" % i + rng.randbytes(i % 2000)  # incompressible: ~2 MB per partition even with lz4
        p.produce(topic, value, key=b"k%d" % i, partition=part)
        expected[part].append((b"k%d" % i, value))
        p.poll(0)
    assert p.flush(30) == 0
    # And one partition written by kcat (librdkafka 2.0.2), gzip.
    lines = [b"kcat line %d" % i for i in range(100)]
    (tmp_path / "in.txt").write_bytes(b"".join(l + b"\n" for l in lines))
    kcat(b, "-P", "-t", topic, "-p", "2", "-z", "gzip", "-l", str(tmp_path / "in.txt"))
    expected[2] += [(None, l) for l in lines]

    assert b.terminate() == 0, "SIGTERM must exit 0:\n" + b.log_tail()
    assert (b.data_dir / ".skein-clean-shutdown").exists(), "no clean-shutdown marker after SIGTERM"
    assert len(list((b.data_dir / ("%s-0" % topic)).glob("*.log"))) >= 2, "expected several segments"

    b.start()  # same data directory, same port
    for part in range(3):
        assert watermarks(b, topic, part) == (0, len(expected[part]))
        got = read_partition(b, topic, part)
        assert [o for o, _, _ in got] == list(range(len(expected[part])))
        assert [(k, v) for _, k, v in got] == expected[part], "partition %d differs after restart" % part

    # Appends continue at the old end.
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all"})
    reports = []
    p.produce(topic, b"after restart", partition=1, on_delivery=lambda e, m: reports.append((e, m.offset())))
    assert p.flush(20) == 0
    assert reports == [(None, len(expected[1]))]
    assert kcat_consume(b, topic, 1, "%o %s\n", offset=str(len(expected[1]))) == ["%d after restart" % len(expected[1])]
    assert b.terminate() == 0


def test_sigkill_keeps_every_acknowledged_record(skeind_factory, topic_name):
    rng = random.Random(20240611)
    b = skeind_factory.new(settings={"log.segment.bytes": "1048576"}).start()
    topic = topic_name()
    parts = 2
    create_topic(b, topic, parts)
    acked = {}  # (partition, offset) -> value
    seq = 0

    for round_no in range(CRASH_ROUNDS):
        p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True,
                      "linger.ms": 2, "message.timeout.ms": 10000, "reconnect.backoff.max.ms": 200})
        round_acks = []

        def on_delivery(err, msg):
            if err is None:
                round_acks.append((msg.partition(), msg.offset(), msg.value()))

        target = rng.randint(500, 3000)
        extra = rng.randint(0, 800)
        deadline = time.monotonic() + 30
        killed = False
        sent_after_target = 0
        while not killed:
            assert time.monotonic() < deadline, "round %d: only %d acks in 30s" % (round_no, len(round_acks))
            for _ in range(50):
                p.produce(topic, b"s%08d|" % seq + b"x" * rng.randint(0, 300), partition=seq % parts,
                          on_delivery=on_delivery)
                seq += 1
                if len(round_acks) >= target:
                    sent_after_target += 1
            p.poll(0.001)
            if len(round_acks) >= target and sent_after_target >= extra:
                b.kill()  # a random moment: requests are in flight
                killed = True
        # Reports already received from the broker before it died count as acknowledged.
        p.poll(0.5)
        p.purge(in_queue=True, in_flight=True)
        p.flush(5)
        del p
        for part, off, value in round_acks:
            assert (part, off) not in acked, "offset %d of partition %d acknowledged twice" % (off, part)
            acked[(part, off)] = value

        b.start()  # recovery after SIGKILL
        for part in range(parts):
            got = read_partition(b, topic, part)
            offsets = [o for o, _, _ in got]
            assert offsets == list(range(len(got))), "round %d partition %d: offsets not contiguous" % (round_no, part)
            seqs = [int(v[1:9]) for _, _, v in got]
            assert seqs == sorted(set(seqs)), "round %d partition %d: duplicates or disorder" % (round_no, part)
            by_offset = {o: v for o, _, v in got}
            missing = [(o, v[:10]) for (pp, o), v in sorted(acked.items()) if pp == part and by_offset.get(o) != v]
            assert not missing, "round %d partition %d: %d acknowledged records lost or changed, first %s" % (
                round_no, part, len(missing), missing[:5])
    assert b.terminate() == 0
