"""OffsetFetch with require_stable (KIP-447): while a transaction holds offsets for a group's partition, a
consumer that asks for stable offsets gets UNSTABLE_OFFSET_COMMIT (and retries) instead of the offset before
the transaction. Without that, a consume-transform-produce worker that takes over a partition during a
rebalance would restart from the old offset and, once the previous owner's transaction commits, produce the
same outputs twice. librdkafka asks for stable offsets when isolation.level is read_committed.

Skeind only: raw OffsetFetch requests against transactional offsets."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import create_topic
from kafkawire import Conn, kp_decode_response_exact, kp_encode_request

pytestmark = pytest.mark.skeind_only("raw OffsetFetch against the transaction coordinator's pending offsets")

NONE, UNSTABLE_OFFSET_COMMIT = 0, 88


def offset_fetch(broker, version: int, group: str, topic: str, partition: int, require_stable: bool):
    """(error code, committed offset) of one partition from a raw OffsetFetch."""
    from kafka.protocol.consumer import OffsetFetchRequest, OffsetFetchResponse
    if version >= 8:
        G = OffsetFetchRequest.OffsetFetchRequestGroup
        req = OffsetFetchRequest(groups=[G(group_id=group, topics=[G.OffsetFetchRequestTopics(
            name=topic, partition_indexes=[partition])])], require_stable=require_stable)
    else:
        T = OffsetFetchRequest.OffsetFetchRequestTopic
        req = OffsetFetchRequest(group_id=group, require_stable=require_stable,
                                 topics=[T(name=topic, partition_indexes=[partition])])
    with Conn(broker.host, broker.port) as c:
        corr, resp = kp_decode_response_exact(OffsetFetchResponse, version,
                                              c.roundtrip(kp_encode_request(req, version, 4447)))
    assert corr == 4447
    if version >= 8:
        (g,) = resp.groups
        assert g.error_code == NONE, g
        topics = g.topics
    else:
        assert resp.error_code == NONE, resp
        topics = resp.topics
    (t,) = topics
    (p,) = t.partitions
    return p.error_code, p.committed_offset


@pytest.mark.parametrize("version", [7, 8])
def test_require_stable_waits_for_transactional_offsets(broker, topic_name, version):
    topic = topic_name()
    create_topic(broker, topic, 2)
    group = "stable-" + topic
    member = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "stable-" + topic})
    p.init_transactions(15)

    def fetch(partition: int, stable: bool):
        return offset_fetch(broker, version, group, topic, partition, stable)

    p.begin_transaction()
    p.produce(topic, b"output", partition=1)
    p.send_offsets_to_transaction([TopicPartition(topic, 0, 5)], member.consumer_group_metadata(), 15)
    assert fetch(0, True) == (UNSTABLE_OFFSET_COMMIT, -1), "pending offset of an open transaction"
    assert fetch(0, False) == (NONE, -1), "a pending offset is not visible"
    assert fetch(1, True) == (NONE, -1), "a partition the transaction holds no offset for is stable"
    p.commit_transaction(15)
    assert fetch(0, True) == (NONE, 5)

    p.begin_transaction()
    p.send_offsets_to_transaction([TopicPartition(topic, 0, 9)], member.consumer_group_metadata(), 15)
    assert fetch(0, True) == (UNSTABLE_OFFSET_COMMIT, -1)
    assert fetch(0, False) == (NONE, 5)
    p.abort_transaction(15)
    assert fetch(0, True) == (NONE, 5), "an aborted transaction's offset is dropped"

    # librdkafka's read_committed consumer asks for stable offsets and reads the committed one.
    reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                       "isolation.level": "read_committed"})
    try:
        assert [tp.offset for tp in reader.committed([TopicPartition(topic, 0)], timeout=15)] == [5]
    finally:
        reader.close()
        member.close()


def test_takeover_resumes_after_the_open_transaction(broker, topic_name):
    """Worker A has consumed offsets 0-9, written its outputs and sent offset 10 to its open transaction when
    worker B takes the partition over: B must not start at 0 (A's transaction may still commit, and then the
    outputs of 0-9 would exist twice); it starts once A's transaction is decided, at 10."""
    source, group = topic_name("in"), "takeover-" + topic_name()
    create_topic(broker, source, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(20):
        p.produce(source, b"in%02d" % i, partition=0)
    assert p.flush(15) == 0

    a = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    a.assign([TopicPartition(source, 0, 0)])
    got = []
    deadline = time.monotonic() + 20
    while len(got) < 10:
        assert time.monotonic() < deadline, "worker A read only %d records" % len(got)
        got += [m for m in a.consume(10 - len(got), 0.5) if m.error() is None]
    assert [m.offset() for m in got] == list(range(10))
    pa = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": "takeover-a-" + source})
    pa.init_transactions(15)
    pa.begin_transaction()
    pa.send_offsets_to_transaction([TopicPartition(source, 0, 10)], a.consumer_group_metadata(), 15)

    b = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    b.assign([TopicPartition(source, 0)])  # from the group's committed offset
    try:
        # While A's transaction is open, B's committed-offset lookup answers UNSTABLE_OFFSET_COMMIT and is
        # retried: B reads nothing (a bounded look for something that must not happen).
        early = [m for m in b.consume(5, 2.0) if m.error() is None]
        assert early == [], "B started at offset %d while A's transaction was open" % early[0].offset()
        pa.commit_transaction(15)
        first = None
        deadline = time.monotonic() + 20
        while first is None:
            assert time.monotonic() < deadline, "B read nothing after A committed"
            first = next((m for m in b.consume(1, 0.5) if m.error() is None), None)
        assert first.offset() == 10, "B resumed at %d, not after A's committed transaction" % first.offset()
    finally:
        b.close()
        a.close()
