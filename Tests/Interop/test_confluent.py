"""confluent-kafka 2.16.1 (librdkafka 2.16) against skeind: idempotent acks=all producer, compression, the admin
client (create/describe/delete topics), and a consumer with assign/seek/offsets_for_times/watermarks."""

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from conftest import admin_client, create_topic, topic_partitions, wait_until


def consumer(broker, **extra):
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": "interop-%d" % time.monotonic_ns(),
            "enable.auto.commit": False, "auto.offset.reset": "error", "enable.partition.eof": True}
    conf.update(extra)
    return Consumer(conf)


def consume_to_end(c: Consumer, partitions: int, timeout: float = 20.0):
    """Polls an assigned consumer until every assigned partition reported EOF; returns the messages."""
    msgs, eof = [], set()
    deadline = time.monotonic() + timeout
    while len(eof) < partitions:
        assert time.monotonic() < deadline, "no EOF on all partitions within %.0fs (got %d messages, eof %s)" % (
            timeout, len(msgs), sorted(eof))
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
                continue
            raise AssertionError("consumer error: %s" % m.error())
        eof.discard(m.partition())
        msgs.append(m)
    return msgs


def produce_all(p: Producer, records, timeout: float = 30.0):
    """records: iterable of produce() kwargs. Returns delivery reports [(err, partition, offset, value)] in
    delivery order; fails if anything is left undelivered."""
    reports = []

    def on_delivery(err, msg):
        reports.append((err, msg.partition(), msg.offset(), msg.value()))

    for kw in records:
        p.produce(on_delivery=on_delivery, **kw)
        p.poll(0)
    assert p.flush(timeout) == 0, "messages still undelivered after %.0fs" % timeout
    return reports


def test_idempotent_producer_acks_all(broker, topic_name):
    topic = topic_name()
    parts = create_topic(broker, topic, 3)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "batch.num.messages": 50})
    n = 600
    reports = produce_all(p, ({"topic": topic, "partition": i % parts, "key": b"k%d" % i, "value": b"v%04d" % i}
                              for i in range(n)))
    assert [r for r in reports if r[0] is not None] == []
    assert len(reports) == n
    # Offsets per partition are 0..k-1 in produce order (idempotence keeps order across retries).
    for part in range(parts):
        got = [(off, val) for _, pp, off, val in reports if pp == part]
        expected_vals = [b"v%04d" % i for i in range(n) if i % parts == part]
        assert sorted(got) == list(enumerate(expected_vals)), "partition %d" % part

    c = consumer(broker)
    c.assign([TopicPartition(topic, part, OFFSET_BEGINNING) for part in range(parts)])
    msgs = consume_to_end(c, parts)
    c.close()
    for part in range(parts):
        rows = [(m.offset(), m.key(), m.value()) for m in msgs if m.partition() == part]
        assert rows == [(k, b"k%d" % i, b"v%04d" % i) for k, i in enumerate(range(part, n, parts))]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compressed_produce_with_headers(broker, topic_name, codec):
    topic = topic_name()
    create_topic(broker, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "compression.type": codec,
                  "linger.ms": 20})
    headers = [("trace", b"t-1"), ("dup", b"one"), ("dup", b"two"), ("nothing", None)]
    n = 300
    reports = produce_all(p, ({"topic": topic, "partition": 0, "value": b"%s payload %05d " % (codec.encode(), i) * 3,
                               "key": None if i % 5 == 0 else b"key%d" % i, "headers": headers}
                              for i in range(n)))
    assert [r[0] for r in reports] == [None] * n
    assert [r[2] for r in reports] == list(range(n))

    c = consumer(broker)
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    msgs = consume_to_end(c, 1)
    c.close()
    assert [(m.offset(), m.key(), m.value()) for m in msgs] == [
        (i, None if i % 5 == 0 else b"key%d" % i, b"%s payload %05d " % (codec.encode(), i) * 3) for i in range(n)]
    assert all(m.headers() == headers for m in msgs), msgs[0].headers()


def test_consumer_assign_seek_and_watermarks(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    produce_all(p, ({"topic": topic, "partition": 0, "value": b"p0-%03d" % i} for i in range(50)))
    produce_all(p, ({"topic": topic, "partition": 1, "value": b"p1-%03d" % i} for i in range(7)))

    c = consumer(broker)
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10, cached=False) == (0, 50)
    assert c.get_watermark_offsets(TopicPartition(topic, 1), timeout=10, cached=False) == (0, 7)

    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING), TopicPartition(topic, 1, 3)])
    msgs = consume_to_end(c, 2)
    assert [(m.offset(), m.value()) for m in msgs if m.partition() == 0] == [(i, b"p0-%03d" % i) for i in range(50)]
    assert [(m.offset(), m.value()) for m in msgs if m.partition() == 1] == [(i, b"p1-%03d" % i) for i in range(3, 7)]

    # seek() back into the middle of partition 0 re-reads from there.
    c.seek(TopicPartition(topic, 0, 25))
    again = []

    def reread():
        m = c.poll(0.2)
        if m is not None and not m.error():
            again.append(m)
        return len(again) >= 25

    wait_until(reread, 20, "25 records re-read after seek", interval=0)
    assert [(m.partition(), m.offset(), m.value()) for m in again] == [(0, i, b"p0-%03d" % i) for i in range(25, 50)]
    # position() agrees.
    pos = {tp.partition: tp.offset for tp in c.position([TopicPartition(topic, 0), TopicPartition(topic, 1)])}
    assert pos == {0: 50, 1: 7}
    c.close()


@pytest.mark.mock_xfail("the mock's ListOffsets has no timestamp lookup")
def test_offsets_for_times(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    base = int(time.time() * 1000) - 300_000
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(30):  # one request per record: many batches, many time index entries
        produce_all(p, [{"topic": topic, "partition": 0, "value": b"t%02d" % i, "timestamp": base + 1000 * i}])

    c = consumer(broker)
    # Exact hit, between two records, before the first, after the last (-1: no such record).
    queries = {base + 4000: 4, base + 10500: 11, base - 1: 0, base + 29000: 29, base + 10 ** 6: -1}
    for ts, offset in queries.items():  # one lookup per call: a request names each partition once
        (tp,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
        assert (tp.error, tp.offset) == (None, offset), "timestamp base%+d" % (ts - base)

    # Seek to what offsets_for_times found and read from there; timestamps are the produced CreateTimes.
    (tp,) = c.offsets_for_times([TopicPartition(topic, 0, base + 20000)], timeout=10)
    c.assign([tp])
    msgs = consume_to_end(c, 1)
    c.close()
    assert [(m.offset(), m.value(), m.timestamp()) for m in msgs] == [
        (i, b"t%02d" % i, (1, base + 1000 * i)) for i in range(20, 30)]  # 1: TIMESTAMP_CREATE_TIME


# ---------------------------------------------------------------------------------------------- admin (skeind only)

TOPIC_CONFIG = {"retention.ms": "3600000", "segment.bytes": "1048576", "compression.type": "producer",
                "max.message.bytes": "200000", "retention.bytes": "1073741824"}


@pytest.mark.skeind_only("the mock has no CreateTopics/DescribeConfigs/DeleteTopics")
def test_admin_create_describe_delete(broker, topic_name):
    from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic

    admin = admin_client(broker)
    topic = topic_name()
    fs = admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1, config=TOPIC_CONFIG)],
                             operation_timeout=10, request_timeout=15)
    assert fs[topic].result(timeout=20) is None
    wait_until(lambda: topic_partitions(broker, topic) == 4, 15, "metadata shows 4 partitions")

    (res,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)],
                                    request_timeout=15).values()
    configs = res.result(timeout=20)
    for name, value in TOPIC_CONFIG.items():
        assert name in configs, "describe_configs lacks %s (has %s)" % (name, sorted(configs))
        assert configs[name].value == value, (name, configs[name])
        assert ConfigSource(configs[name].source) == ConfigSource.DYNAMIC_TOPIC_CONFIG, (name, configs[name].source)
        assert not configs[name].is_default, configs[name]
    # Settings left out are described with their defaults (README: Settings).
    for name, value in {"segment.ms": "604800000", "message.timestamp.type": "CreateTime"}.items():
        assert name in configs, "describe_configs lacks %s" % name
        assert configs[name].value == value, configs[name]
        assert configs[name].is_default, configs[name]

    # Creating it again, or with an invalid name, fails with Kafka's errors.
    fs = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1),
                              NewTopic("bad topic!", num_partitions=1, replication_factor=1)], request_timeout=15)
    with pytest.raises(Exception) as exists:
        fs[topic].result(timeout=20)
    assert exists.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    with pytest.raises(Exception) as invalid:
        fs["bad topic!"].result(timeout=20)
    assert invalid.value.args[0].code() == KafkaError.TOPIC_EXCEPTION

    # Data, then delete: the topic leaves metadata, and a re-created topic of the same name starts empty.
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    reports = produce_all(p, [{"topic": topic, "partition": 2, "value": b"before delete"}])
    assert reports[0][0] is None
    del p
    fs = admin.delete_topics([topic], operation_timeout=10, request_timeout=15)
    assert fs[topic].result(timeout=20) is None
    wait_until(lambda: topic not in admin.list_topics(timeout=5).topics, 15, "deleted topic to leave metadata")
    fs = admin.delete_topics([topic], request_timeout=15)
    with pytest.raises(Exception) as gone:
        fs[topic].result(timeout=20)
    assert gone.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART

    create_topic(broker, topic, 3)
    c = consumer(broker)
    assert [c.get_watermark_offsets(TopicPartition(topic, i), timeout=10, cached=False) for i in range(3)] == [
        (0, 0)] * 3
    c.close()


@pytest.mark.skeind_only("topic configs need CreateTopics")
def test_topic_configs_take_effect(broker, topic_name):
    """segment.bytes rolls segments (README layout: <topic>-<partition>/<20-digit>.log), max.message.bytes
    rejects a larger batch with MESSAGE_TOO_LARGE, LogAppendTime stamps the broker's clock."""
    topic = topic_name("cfg")
    create_topic(broker, topic, 1, {"segment.bytes": "1048576", "max.message.bytes": "60000"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5, "batch.size": 50000,
                  "message.timeout.ms": 20000})
    reports = produce_all(p, ({"topic": topic, "partition": 0, "value": bytes([65 + i % 26]) * 10000}
                              for i in range(300)))
    assert [r[0] for r in reports] == [None] * 300
    assert [r[2] for r in reports] == list(range(300))
    logs = sorted(path.name for path in (broker.data_dir / ("%s-0" % topic)).glob("*.log"))
    assert len(logs) >= 3, "3 MB at segment.bytes=1 MiB should give several segments, found %s" % logs
    assert all(len(n) == len("00000000000000000000.log") for n in logs), logs
    assert logs[0] == "00000000000000000000.log"

    big = produce_all(p, [{"topic": topic, "partition": 0, "value": b"x" * 100000}])
    assert big[0][0] is not None and big[0][0].code() == KafkaError.MSG_SIZE_TOO_LARGE, big

    lat = topic_name("lat")
    create_topic(broker, lat, 1, {"message.timestamp.type": "LogAppendTime"})
    before = int(time.time() * 1000)
    produce_all(p, [{"topic": lat, "partition": 0, "value": b"old", "timestamp": 1_000_000}])
    after = int(time.time() * 1000)
    c = consumer(broker)
    c.assign([TopicPartition(lat, 0, OFFSET_BEGINNING)])
    (m,) = consume_to_end(c, 1)
    c.close()
    kind, ts = m.timestamp()
    assert kind == 2, "expected TIMESTAMP_LOG_APPEND_TIME, got %s" % kind
    assert before - 1000 <= ts <= after + 1000, (before, ts, after)
