"""Hostile load while real clients work: skeind holds 10,000 idle connections, slow-drip (slowloris) frames
and frames claiming 2 GiB, while a confluent-kafka producer (acks=all) and consumer move records. Every record
must be consumed exactly once, fresh connections must still be served, and the producer's p99 latency is
printed with and without the hostile load."""

import resource
import socket
import struct
import re
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import create_topic, wait_until
from kafkawire import Conn, frame, request_header_v1

pytestmark = pytest.mark.skeind_only("measures skeind under load")

IDLE_CONNECTIONS = 10_000
SOURCES = ["127.0.0.%d" % i for i in range(2, 12)]  # 1,000 connections from each
SLOWLORIS = 50
HUGE_CLAIMS = 50
PARTIAL_TIMEOUT_MS = 3000
RECORDS = 3000
SKEIND_SETTINGS = {"socket.partial.request.timeout.ms": PARTIAL_TIMEOUT_MS}


def metric(broker, name: str, labels: str = "") -> float:
    with urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    pattern = r"^%s%s (\S+)$" % (re.escape(name), r"\{%s\}" % re.escape(labels) if labels else "")
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


def produce_timed(broker, topic: str, prefix: str) -> tuple[list[bytes], float]:
    """Produces RECORDS records at a steady pace (acks=all); returns the values and the p99 latency in ms
    from produce() to the delivery report (librdkafka's own measure, Message.latency())."""
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                  "message.timeout.ms": 30000})
    latencies, errors = [], []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            latencies.append(msg.latency())

    values = [b"%s-%06d" % (prefix.encode(), i) for i in range(RECORDS)]
    # Metadata and the connection first, so the figure is steady-state latency, not the client's start.
    assert topic in p.list_topics(topic, timeout=10).topics
    deadline = time.monotonic() + 45
    for i, v in enumerate(values):
        p.produce(topic, v, partition=0, on_delivery=report)
        p.poll(0)
        if i % 20 == 19:
            time.sleep(0.005)  # about 4,000 records/s: latency, not throughput, is measured
        assert time.monotonic() < deadline, "producing took too long"
    assert p.flush(30) == 0, "records still undelivered"
    assert errors == [], errors[:5]
    assert len(latencies) == RECORDS
    latencies.sort()
    return values, latencies[int(len(latencies) * 0.99) - 1] * 1000


def consume_all(broker, topic: str, expected: int) -> list[bytes]:
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "hostile-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "consumed %d of %d records in 30 s" % (len(got), expected)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if len(got) >= expected:
                        return got
                    continue
                raise AssertionError("consumer error: %s" % m.error())
            got.append(m.value())
    finally:
        c.close()


def connect_many(host: str, port: int, count: int, deadline: float) -> list[socket.socket]:
    socks = []
    for i in range(count):
        assert time.monotonic() < deadline, "opened only %d connections in time" % len(socks)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        s.settimeout(10)
        s.connect((host, port))
        socks.append(s)
    return socks


def fresh_connection_answers(broker) -> bool:
    with Conn(broker.host, broker.port, timeout=10) as c:
        corr, err = struct.unpack_from(">ih", c.roundtrip(request_header_v1(18, 0, 77)))
    return corr == 77 and err == 0


def test_real_clients_keep_working_under_hostile_load(broker):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE_CONNECTIONS + SLOWLORIS + HUGE_CLAIMS + 500
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need, "the fd limit is below %d" % need
    topic_quiet, topic_loaded = "hostile-quiet-%d" % time.monotonic_ns(), "hostile-loaded-%d" % time.monotonic_ns()
    create_topic(broker, topic_quiet, 1)
    create_topic(broker, topic_loaded, 1)

    # Baseline: the same producer on a quiet broker.
    quiet_values, quiet_p99 = produce_timed(broker, topic_quiet, "quiet")
    assert consume_all(broker, topic_quiet, RECORDS) == quiet_values

    started = time.monotonic()
    idle = connect_many(broker.host, broker.port, IDLE_CONNECTIONS, started + 40)
    slow, huge = [], []
    try:
        wait_until(lambda: metric(broker, "skein_connections_open") >= IDLE_CONNECTIONS, 20,
                   "skeind to hold %d connections" % IDLE_CONNECTIONS)
        opened_in = time.monotonic() - started
        for i in range(SLOWLORIS):
            s = socket.create_connection((broker.host, broker.port), timeout=10)
            s.sendall(struct.pack(">i", 1000) + request_header_v1(3, 9, i)[:5])  # a frame begun, never finished
            slow.append(s)
        for i in range(HUGE_CLAIMS):
            s = socket.create_connection((broker.host, broker.port), timeout=10)
            s.sendall(struct.pack(">i", 0x7FFFFFFF) + request_header_v1(0, 9, i))
            huge.append(s)

        loaded_values, loaded_p99 = produce_timed(broker, topic_loaded, "loaded")
        # Keep the slow frames dripping while the consumer works; the broker must cut them off regardless.
        for s in slow:
            try:
                s.send(b"\x00")
            except OSError:
                pass
        consumed = consume_all(broker, topic_loaded, RECORDS)
        assert len(consumed) == len(set(consumed)) == RECORDS, "duplicates or losses under load"
        assert consumed == loaded_values, "records out of order or altered under load"
        assert fresh_connection_answers(broker), "a fresh connection was not served under load"

        for s in huge:  # 2 GiB claims: closed at once, nothing allocated
            assert s.recv(1) == b""
        wait_until(lambda: metric(broker, "skein_connections_closed_by_broker_total",
                                  'reason="partial_request_timeout"') >= SLOWLORIS,
                   PARTIAL_TIMEOUT_MS / 1000 + 10, "the slow frames to be cut off")
        assert metric(broker, "skein_connections_closed_by_broker_total", 'reason="invalid_frame"') >= HUGE_CLAIMS
        rss = metric(broker, "process_resident_memory_bytes")
        print("\nhostile load: %d idle connections opened in %.1fs; broker RSS %.0f MiB"
              % (IDLE_CONNECTIONS, opened_in, rss / 2**20))
        print("producer p99 latency (acks=all, %d records): quiet %.1f ms, under hostile load %.1f ms"
              % (RECORDS, quiet_p99, loaded_p99))
        # The idle connections are still held (connections.max.idle.ms is 10 min by default) ...
        assert metric(broker, "skein_connections_open") >= IDLE_CONNECTIONS
    finally:
        for s in idle + slow + huge:
            s.close()
    # ... and given back when their clients go.
    wait_until(lambda: metric(broker, "skein_connections_open") < 10, 30, "the connections to be released")
    assert fresh_connection_answers(broker)
