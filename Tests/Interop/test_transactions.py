"""Transactions (issue #11) with real clients: confluent-kafka (librdkafka 2.16) and kafka-python 3 transactional
producers commit and abort, read_committed consumers see every committed record exactly once and no aborted one,
a second producer with the same transactional id fences the first, offsets sent to a transaction appear only when
it commits, the broker aborts a transaction that outlives its timeout, and the raw transaction APIs answer bad
input with Kafka's error codes in every version skeind advertises (checked with kafka-python's own codec)."""

import time
import uuid

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from conftest import create_topic, metric_sample, wait_until
from kafkawire import (Conn, build_batch, kp_decode_response_exact, kp_encode_request, parse_produce_v3_response,
                       produce_v3_request)

pytestmark = pytest.mark.skeind_only("transactions are tested against skeind's coordinator")

# Timed-out transactions are looked for every 200 ms, so the timeout test needs no long wait.
SKEIND_SETTINGS = {"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"}

PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE, INVALID_PRODUCER_ID_MAPPING = 90, 47, 48, 49


def txn_id(prefix: str) -> str:
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def read_all(broker, topic: str, isolation: str, partitions: int = 1, timeout: float = 30.0) -> list[bytes]:
    """Every value of the topic, read with confluent-kafka to the end of each partition."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": txn_id("reader"), "enable.auto.commit": False,
                  "enable.partition.eof": True, "isolation.level": isolation})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values, at_end = [], set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < partitions:
            assert time.monotonic() < deadline, "%s not read to its end in %.0fs" % (topic, timeout)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                at_end.add(m.partition())
                continue
            values.append(m.value())
    finally:
        c.close()
    return values


def transactional_producer(broker, tid: str, **extra) -> Producer:
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": tid, "linger.ms": 5, **extra})
    p.init_transactions(20)
    return p


def test_confluent_commit_and_abort(broker, topic_name):
    topic_name = topic_name()
    create_topic(broker, topic_name, 2)
    p = transactional_producer(broker, txn_id("ck"))
    expected = []
    for t, commit in enumerate([True, False, True, False, True]):
        p.begin_transaction()
        values = [b"t%d-%d" % (t, i) for i in range(20)]
        for i, v in enumerate(values):
            p.produce(topic_name, value=v, partition=i % 2)
        if commit:
            p.commit_transaction(20)
            expected += values
        else:
            p.flush(20)  # librdkafka purges unsent messages on abort: these must reach the log first
            p.abort_transaction(20)
    committed = read_all(broker, topic_name, "read_committed", partitions=2)
    assert sorted(committed) == sorted(expected), "read_committed must see each committed record exactly once"
    everything = read_all(broker, topic_name, "read_uncommitted", partitions=2)
    assert sorted(everything) == sorted(b"t%d-%d" % (t, i) for t in range(5) for i in range(20))


def test_kafka_python_commit_and_abort(broker, topic_name):
    topic_name = topic_name()
    from kafka import KafkaConsumer, KafkaProducer
    create_topic(broker, topic_name, 1)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=txn_id("kp"))
    try:
        p.init_transactions()
        for t, commit in enumerate([True, False, True]):
            p.begin_transaction()
            for i in range(10):
                p.send(topic_name, value=b"kp%d-%d" % (t, i))
            p.flush(20)
            if commit:
                p.commit_transaction()
            else:
                p.abort_transaction()
    finally:
        p.close(10)
    expected = sorted(b"kp%d-%d" % (t, i) for t in (0, 2) for i in range(10))
    assert sorted(read_all(broker, topic_name, "read_committed")) == expected
    c = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap, isolation_level="read_committed",
                      auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=3000)
    try:
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < len(expected) and time.monotonic() < deadline:
            seen += [m.value for m in c]
    finally:
        c.close()
    assert sorted(seen) == expected, "kafka-python read_committed"


def test_zombie_is_fenced(broker, topic_name):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    tid = txn_id("zombie")
    zombie = transactional_producer(broker, tid)
    zombie.begin_transaction()
    zombie.produce(topic_name, value=b"zombie-before")
    zombie.flush(20)
    successor = transactional_producer(broker, tid)  # bumps the epoch and aborts the zombie's transaction
    successor.begin_transaction()
    successor.produce(topic_name, value=b"successor")
    successor.commit_transaction(20)
    zombie.produce(topic_name, value=b"zombie-after")
    with pytest.raises(KafkaException) as raised:
        zombie.commit_transaction(20)
    error = raised.value.args[0]
    assert error.fatal() or error.code() in (KafkaError._FENCED, KafkaError.PRODUCER_FENCED,
                                             KafkaError.INVALID_PRODUCER_EPOCH), error
    assert read_all(broker, topic_name, "read_committed") == [b"successor"]


def test_offsets_sent_to_a_transaction_appear_only_on_commit(broker, topic_name):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    group = txn_id("ctp-group")
    # read_uncommitted: librdkafka's default (read_committed) asks OffsetFetch for stable offsets and retries
    # UNSTABLE_OFFSET_COMMIT while the transaction is open (test_transactions_stable_offsets.py).
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                         "isolation.level": "read_uncommitted"})
    p = transactional_producer(broker, txn_id("offsets"))

    def committed():
        (tp,) = consumer.committed([TopicPartition(topic_name, 0)], 10)
        return tp.offset

    try:
        p.begin_transaction()
        p.produce(topic_name, value=b"x")
        p.send_offsets_to_transaction([TopicPartition(topic_name, 0, 7)], consumer.consumer_group_metadata(), 20)
        assert committed() < 0, "offsets of an open transaction must not be visible"
        p.abort_transaction(20)
        assert committed() < 0, "offsets of an aborted transaction must never be visible"
        p.begin_transaction()
        p.produce(topic_name, value=b"y")
        p.send_offsets_to_transaction([TopicPartition(topic_name, 0, 11)], consumer.consumer_group_metadata(), 20)
        p.commit_transaction(20)
        assert committed() == 11
    finally:
        consumer.close()


def test_broker_aborts_a_transaction_past_its_timeout(broker, topic_name):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    p = transactional_producer(broker, txn_id("timeout"), **{"transaction.timeout.ms": 1500})
    p.begin_transaction()
    p.produce(topic_name, value=b"abandoned")
    p.flush(20)
    # The LSO moves past the abandoned transaction once the broker aborts it: a read_committed reader then
    # reaches the end of the partition without ever seeing the record.
    wait_until(lambda: read_all(broker, topic_name, "read_committed", timeout=20) == [] and
               lso(broker, topic_name) == high_watermark(broker, topic_name), 30,
               "the broker to abort the transaction that outlived transaction.timeout.ms")
    with pytest.raises(KafkaException):
        p.commit_transaction(20)
    assert read_all(broker, topic_name, "read_uncommitted") == [b"abandoned"]


# ---------------------------------------------------------------------------------------------- raw wire

def call(broker, api_key: int, version: int, req):
    """One request, its response decoded by kafka-python's codec (every byte must be consumed)."""
    from kafka.protocol.admin.transactions import DescribeTransactionsResponse, ListTransactionsResponse
    from kafka.protocol.consumer import ListOffsetsResponse
    from kafka.protocol.producer.transaction import (AddPartitionsToTxnResponse, EndTxnResponse,
                                                     InitProducerIdResponse)
    responses = {2: ListOffsetsResponse, 22: InitProducerIdResponse, 24: AddPartitionsToTxnResponse,
                 26: EndTxnResponse, 65: DescribeTransactionsResponse, 66: ListTransactionsResponse}
    with Conn(broker.host, broker.port) as c:
        payload = c.roundtrip(kp_encode_request(req, version, 1000))
    corr, resp = kp_decode_response_exact(responses[api_key], version, payload)
    assert corr == 1000
    return resp


def list_offsets(broker, topic: str, isolation: int) -> int:
    from kafka.protocol.consumer import ListOffsetsRequest
    T = ListOffsetsRequest.ListOffsetsTopic
    req = ListOffsetsRequest(replica_id=-1, isolation_level=isolation, topics=[
        T(name=topic, partitions=[T.ListOffsetsPartition(partition_index=0, timestamp=-1)])])
    resp = call(broker, 2, 4, req)
    (t,) = resp.topics
    (part,) = t.partitions
    assert part.error_code == 0, part
    return part.offset


def lso(broker, topic):
    return list_offsets(broker, topic, 1)


def high_watermark(broker, topic):
    return list_offsets(broker, topic, 0)


def init_producer_id(broker, tid: str, timeout_ms: int = 60000) -> tuple[int, int]:
    from kafka.protocol.producer.transaction import InitProducerIdRequest
    resp = call(broker, 22, 1, InitProducerIdRequest(transactional_id=tid, transaction_timeout_ms=timeout_ms))
    assert resp.error_code == 0, resp
    return resp.producer_id, resp.producer_epoch


def add_partitions(broker, version, tid, pid, epoch, topic, partitions=(0,)) -> dict:
    from kafka.protocol.producer.transaction import AddPartitionsToTxnRequest
    T = AddPartitionsToTxnRequest.AddPartitionsToTxnTopic
    req = AddPartitionsToTxnRequest(v3_and_below_transactional_id=tid, v3_and_below_producer_id=pid,
                                    v3_and_below_producer_epoch=epoch,
                                    v3_and_below_topics=[T(name=topic, partitions=list(partitions))])
    resp = call(broker, 24, version, req)
    return {(t.name, r.partition_index): r.partition_error_code for t in resp.results_by_topic_v3_and_below
            for r in t.results_by_partition}


def end_txn(broker, version, tid, pid, epoch, commit=True) -> int:
    from kafka.protocol.producer.transaction import EndTxnRequest
    resp = call(broker, 26, version, EndTxnRequest(transactional_id=tid, producer_id=pid, producer_epoch=epoch,
                                                   committed=commit))
    return resp.error_code


def produce_raw(broker, topic, records: bytes) -> int:
    with Conn(broker.host, broker.port) as c:
        _, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(7, topic, 0, records)))
    (_, _, code, _, _) = parts[0]
    return code


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_end_txn_bad_input_gets_kafka_error_codes(broker, topic_name, version):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    fenced = PRODUCER_FENCED if version >= 2 else INVALID_PRODUCER_EPOCH
    assert end_txn(broker, version, txn_id("unknown"), 1234, 0) == INVALID_PRODUCER_ID_MAPPING
    tid = txn_id("raw")
    pid, epoch = init_producer_id(broker, tid)
    assert end_txn(broker, version, tid, pid, epoch) == INVALID_TXN_STATE, "EndTxn with no transaction open"
    assert end_txn(broker, version, tid, pid + 1, epoch) == INVALID_PRODUCER_ID_MAPPING
    assert add_partitions(broker, version, tid, pid, epoch, topic_name) == {(topic_name, 0): 0}
    assert end_txn(broker, version, tid, pid, epoch - 1 if epoch > 0 else epoch + 1) == fenced
    assert lso(broker, topic_name) == high_watermark(broker, topic_name), "nothing written yet"
    before = high_watermark(broker, topic_name)
    assert end_txn(broker, version, tid, pid, epoch, commit=False) == 0
    assert high_watermark(broker, topic_name) == before + 1, "one ABORT marker"
    assert lso(broker, topic_name) == high_watermark(broker, topic_name)


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_add_partitions_bad_input(broker, topic_name, version):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    tid = txn_id("addp")
    pid, epoch = init_producer_id(broker, tid)
    assert add_partitions(broker, version, tid, pid, epoch, topic_name, (0, 5)) == {
        (topic_name, 0): 55, (topic_name, 5): 3}, "an unknown partition fails the request and adds nothing"
    newer = init_producer_id(broker, tid)
    assert newer == (pid, epoch + 1), "the same id maps to the same producer id, with the epoch bumped"
    fenced = PRODUCER_FENCED if version >= 2 else INVALID_PRODUCER_EPOCH
    assert add_partitions(broker, version, tid, pid, epoch, topic_name) == {(topic_name, 0): fenced}


def test_transactional_produce_is_checked_and_control_batches_refused(broker, topic_name):
    topic_name = topic_name()
    create_topic(broker, topic_name, 1)
    tid = txn_id("produce")
    pid, epoch = init_producer_id(broker, tid)
    batch = build_batch([(None, b"v")], attributes=0x10, producer_id=pid, producer_epoch=epoch, base_sequence=0)
    assert produce_raw(broker, topic_name, batch) == INVALID_TXN_STATE, "partition not added to the transaction"
    forged = build_batch([(b"\x00\x00\x00\x01", b"\x00\x00\x00\x00\x00\x00")], attributes=0x30, producer_id=pid,
                         producer_epoch=epoch, base_sequence=-1)
    assert produce_raw(broker, topic_name, forged) == 87, "a client may not write a COMMIT marker"
    assert high_watermark(broker, topic_name) == 0, "refused batches change nothing"
    assert add_partitions(broker, 3, tid, pid, epoch, topic_name) == {(topic_name, 0): 0}
    assert produce_raw(broker, topic_name, batch) == 0
    assert high_watermark(broker, topic_name) == 1 and lso(broker, topic_name) == 0, "the open transaction holds the LSO"
    assert metric_sample(broker, 'skein_log_unstable_offsets{topic="%s",partition="0"}' % topic_name) == 1
    stale = build_batch([(None, b"old")], attributes=0x10, producer_id=pid, producer_epoch=epoch - 1 if epoch else 9,
                        base_sequence=1)
    assert produce_raw(broker, topic_name, stale) == INVALID_PRODUCER_EPOCH
    committed_before = metric_sample(broker, 'skein_transactions_total{outcome="committed"}')
    assert end_txn(broker, 3, tid, pid, epoch) == 0
    assert lso(broker, topic_name) == high_watermark(broker, topic_name) == 2
    assert metric_sample(broker, 'skein_log_unstable_offsets{topic="%s",partition="0"}' % topic_name) == 0
    assert metric_sample(broker, 'skein_transactions_total{outcome="committed"}') == committed_before + 1



def test_describe_and_list_transactions(broker, topic_name):
    topic_name = topic_name()
    from kafka.protocol.admin.transactions import (DescribeTransactionsRequest, ListTransactionsRequest)
    create_topic(broker, topic_name, 1)
    tid = txn_id("describe")
    pid, epoch = init_producer_id(broker, tid, timeout_ms=45000)
    assert add_partitions(broker, 3, tid, pid, epoch, topic_name) == {(topic_name, 0): 0}
    resp = call(broker, 65, 0, DescribeTransactionsRequest(transactional_ids=[tid, tid + "-nope"]))
    known, unknown = resp.transaction_states
    assert (known.error_code, known.transaction_state, known.producer_id, known.producer_epoch,
            known.transaction_timeout_ms) == (0, "Ongoing", pid, epoch, 45000)
    assert [(t.topic, list(t.partitions)) for t in known.topics] == [(topic_name, [0])]
    assert unknown.error_code == 105  # TRANSACTIONAL_ID_NOT_FOUND
    resp = call(broker, 66, 1, ListTransactionsRequest(state_filters=["Ongoing"], producer_id_filters=[],
                                                       duration_filter=-1))
    assert (tid, pid, "Ongoing") in [(t.transactional_id, t.producer_id, t.transaction_state)
                                     for t in resp.transaction_states]
    # The same view through `skein transactions`.
    from test_cli import ok, one_line_error, skein
    listed = ok(skein(broker, "transactions", "list", "--state", "Ongoing"))
    assert any(line.split() == [tid, str(pid), "Ongoing"] for line in listed.splitlines()), listed
    described = ok(skein(broker, "transactions", "describe", tid)).splitlines()
    assert described[1].split()[:5] == [tid, str(pid), str(epoch), "Ongoing", "45000"], described
    assert described[1].split()[-1] == "%s-0" % topic_name, described
    one_line_error(skein(broker, "transactions", "describe", tid + "-nope"), 2, "no transactional id")
    assert end_txn(broker, 3, tid, pid, epoch, commit=True) == 0
    resp = call(broker, 66, 0, ListTransactionsRequest(state_filters=["Ongoing"], producer_id_filters=[pid]))
    assert list(resp.transaction_states) == []
    assert tid not in ok(skein(broker, "transactions", "list", "--state", "Ongoing"))
