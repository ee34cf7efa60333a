"""kafka-python 3.0.12 against skeind: the default (idempotent) producer, a consumer with assign/seek, and the
admin client's describe_configs.

kafka-python opens with ApiVersions v4; librdkafka's mock answers that wrongly, so against the mock these
tests pin api_version=(2, 3) (ApiVersions v2) and thereby skip the negotiation they exercise on skeind."""

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import IS_MOCK, create_topic, topic_partitions, wait_until

CLIENT = {"api_version": (2, 3)} if IS_MOCK else {}


def kp_consume_exactly(consumer: KafkaConsumer, count: int, timeout: float = 20.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        assert time.monotonic() < deadline, "got %d of %d records in %.0fs" % (len(out), count, timeout)
        for recs in consumer.poll(timeout_ms=200).values():
            out.extend(recs)
    return out


def test_default_producer_is_idempotent_and_acked(broker, topic_name):
    topic = topic_name()
    parts = min(2, create_topic(broker, topic, 2))
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000, max_block_ms=15000, **CLIENT)
    assert p.config["enable_idempotence"], "kafka-python 3.x enables idempotence by default"
    base = int(time.time() * 1000)
    n = 200
    futures = [p.send(topic, value=b"kp-%03d" % i, key=b"key-%d" % (i % 7), partition=i % parts,
                      headers=[("seq", str(i).encode())], timestamp_ms=base + i) for i in range(n)]
    metas = [f.get(timeout=20) for f in futures]
    pid = p._transaction_manager.producer_id_and_epoch
    assert pid.producer_id >= 0 and pid.epoch >= 0, "InitProducerId did not give a producer id: %s" % pid
    p.close(timeout=10)

    for part in range(parts):
        offsets = [m.offset for i, m in enumerate(metas) if i % parts == part]
        assert offsets == list(range(len(offsets))), "partition %d offsets %s" % (part, offsets[:10])
    assert all(m.topic == topic for m in metas)
    if not IS_MOCK:  # CreateTime topic: no log_append_time, so the record's own timestamp
        assert [m.timestamp for m in metas] == [base + i for i in range(n)]

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100,
                      request_timeout_ms=15000, **CLIENT)
    tps = [TopicPartition(topic, part) for part in range(parts)]
    c.assign(tps)
    if IS_MOCK:  # see end_offsets below: the mock garbles multi-partition ListOffsets v4+ responses
        for tp in tps:
            c.seek(tp, 0)
    else:
        c.seek_to_beginning()
    recs = kp_consume_exactly(c, n)
    c.close()
    for part in range(parts):
        got = [(r.offset, r.key, r.value, r.headers, r.timestamp) for r in recs if r.partition == part]
        want = [(k, b"key-%d" % (i % 7), b"kp-%03d" % i, [("seq", str(i).encode())], base + i)
                for k, i in enumerate(range(part, n, parts))]
        if IS_MOCK:
            got = [g[:4] for g in got]
            want = [w[:4] for w in want]
        assert got == want, "partition %d" % part


def test_consumer_assign_seek_end_offsets(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, max_block_ms=15000, **CLIENT)
    for i in range(40):
        p.send(topic, value=b"a-%02d" % i, partition=0)
    for i in range(9):
        p.send(topic, value=b"b-%02d" % i, partition=1)
    p.flush(timeout=20)
    p.close(timeout=10)

    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None, fetch_max_wait_ms=100,
                      request_timeout_ms=15000, **CLIENT)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    if IS_MOCK:  # the mock (librdkafka 2.0.2) misencodes ListOffsets v4+ responses with several partitions
        assert {**c.end_offsets([tp0]), **c.end_offsets([tp1])} == {tp0: 40, tp1: 9}
    else:
        assert c.end_offsets([tp0, tp1]) == {tp0: 40, tp1: 9}
        assert c.beginning_offsets([tp0, tp1]) == {tp0: 0, tp1: 0}

    c.assign([tp0, tp1])
    c.seek_to_beginning(tp0)
    c.seek(tp1, 4)
    recs = kp_consume_exactly(c, 40 + 5)
    assert [(r.offset, r.value) for r in recs if r.partition == 0] == [(i, b"a-%02d" % i) for i in range(40)]
    assert [(r.offset, r.value) for r in recs if r.partition == 1] == [(i, b"b-%02d" % i) for i in range(4, 9)]
    assert c.position(tp0) == 40 and c.position(tp1) == 9

    c.seek(tp0, 33)
    c.seek_to_end(tp1)
    recs = kp_consume_exactly(c, 7)
    assert [(r.partition, r.offset, r.value) for r in recs] == [(0, i, b"a-%02d" % i) for i in range(33, 40)]
    assert c.position(tp1) == 9
    assert c.poll(timeout_ms=300) == {}
    c.close()


@pytest.mark.skeind_only("the mock has no CreateTopics/DescribeConfigs")
def test_admin_create_describe_configs(broker, topic_name):
    from kafka.admin import ConfigResource, KafkaAdminClient

    topic = topic_name()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1,
                                 "configs": {"retention.ms": "7200000", "cleanup.policy": "delete",
                                             "segment.bytes": "2097152"}}})
    wait_until(lambda: topic_partitions(broker, topic) == 3, 15, "metadata shows 3 partitions")

    # Default filter ('modified'): exactly the configs set at creation.
    desc = admin.describe_configs([ConfigResource("TOPIC", topic)])
    modified = desc["topic"][topic]
    assert {k: v["value"] for k, v in modified.items()} == {
        "retention.ms": "7200000", "cleanup.policy": "delete", "segment.bytes": "2097152"}, modified
    assert all(v["config_source"] == "DYNAMIC_TOPIC_CONFIG" for v in modified.values()), modified

    # A filtered request returns just that key, with its default when unset.
    desc = admin.describe_configs([ConfigResource("TOPIC", topic, ["retention.ms", "retention.bytes"])],
                                  config_filter="all")
    got = {k: v["value"] for k, v in desc["topic"][topic].items()}
    assert got == {"retention.ms": "7200000", "retention.bytes": "-1"}, got

    admin.delete_topics([topic])
    wait_until(lambda: topic not in admin.list_topics(), 15, "topic deleted")
    admin.close()
