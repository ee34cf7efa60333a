"""Codec cross-check: for each API and version skeind supports, a request encoded by kafka-python's protocol
classes (kafka.protocol.*, generated from Kafka's JSON schemas) goes over a raw socket, and the response is
decoded with kafka-python's response class for that version. The decode must consume every byte and the
fields must be sane. This checks skeind's codec against an independent one, version by version, including the
flexible (compact, tagged-field) versions.

Against the mock only the versions it advertises are exercised (it has none of the admin APIs)."""

import struct
import uuid

import pytest
from kafka.protocol.admin import (AlterConfigsRequest, AlterConfigsResponse, CreateTopicsRequest,
                                  CreateTopicsResponse, DeleteGroupsRequest, DeleteGroupsResponse,
                                  DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest,
                                  DescribeConfigsResponse, IncrementalAlterConfigsRequest,
                                  IncrementalAlterConfigsResponse)
from kafka.protocol.consumer import (FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
                                     OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest,
                                     OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse,
                                     OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse)
from kafka.protocol.metadata import (ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
                                     FindCoordinatorResponse, MetadataRequest, MetadataResponse)
from kafka.protocol.producer import InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse

from conftest import IS_MOCK, create_topic, raw_fetch
from kafkawire import (Conn, build_batch, kp_decode_response_exact, kp_encode_request, parse_batches,
                       read_uvarint)

# What skeind supports (the contract for this suite): api_key -> (name, min, max, request, response).
CONTRACT = {
    18: ("ApiVersions", 0, 4, ApiVersionsRequest, ApiVersionsResponse),
    3: ("Metadata", 0, 12, MetadataRequest, MetadataResponse),
    0: ("Produce", 3, 9, ProduceRequest, ProduceResponse),
    1: ("Fetch", 4, 12, FetchRequest, FetchResponse),
    2: ("ListOffsets", 1, 7, ListOffsetsRequest, ListOffsetsResponse),
    19: ("CreateTopics", 2, 7, CreateTopicsRequest, CreateTopicsResponse),
    20: ("DeleteTopics", 1, 6, DeleteTopicsRequest, DeleteTopicsResponse),
    32: ("DescribeConfigs", 1, 4, DescribeConfigsRequest, DescribeConfigsResponse),
    22: ("InitProducerId", 0, 4, InitProducerIdRequest, InitProducerIdResponse),
    10: ("FindCoordinator", 0, 4, FindCoordinatorRequest, FindCoordinatorResponse),
    23: ("OffsetForLeaderEpoch", 2, 4, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse),
    33: ("AlterConfigs", 0, 2, AlterConfigsRequest, AlterConfigsResponse),
    44: ("IncrementalAlterConfigs", 0, 1, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse),
    42: ("DeleteGroups", 0, 2, DeleteGroupsRequest, DeleteGroupsResponse),
    47: ("OffsetDelete", 0, 0, OffsetDeleteRequest, OffsetDeleteResponse),
}

# Versions kafka-python 3.0.12 has classes for (its classes encode any version from 0 to max_version).
CASES, MISSING = [], []
for _key, (_name, _lo, _hi, _req, _resp) in CONTRACT.items():
    for _v in range(_lo, _hi + 1):
        if _v <= min(_req.max_version, _resp.max_version):
            CASES.append(pytest.param(_key, _v, id="%s-v%d" % (_name, _v)))
        else:
            MISSING.append("%s v%d" % (_name, _v))


@pytest.fixture(scope="module")
def advertised(broker):
    """The broker's advertised ranges, from ApiVersions v0 (every broker and client speaks it)."""
    with Conn(broker.host, broker.port) as c:
        corr, resp = kp_decode_response_exact(ApiVersionsResponse, 0,
                                              c.roundtrip(kp_encode_request(ApiVersionsRequest(), 0, 1)))
    assert corr == 1 and resp.error_code == 0
    return {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}


@pytest.fixture(scope="module")
def data_topic(broker):
    """A topic with known content: partition 0 holds 10 records in 2 batches, partition 1 is empty."""
    name = "it-codec-%s" % uuid.uuid4().hex[:10]
    create_topic(broker, name, 2)
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(10):
        p.produce(name, b"value-%d" % i, key=b"key-%d" % i, partition=0)
        if i == 4:
            p.flush(10)
    assert p.flush(10) == 0
    return name


def call(broker, api_key, version, req, correlation_id=1000):
    resp_cls = CONTRACT[api_key][4]
    with Conn(broker.host, broker.port) as c:
        payload = c.roundtrip(kp_encode_request(req, version, correlation_id))
    corr, resp = kp_decode_response_exact(resp_cls, version, payload)
    assert corr == correlation_id
    return resp


def high_watermark(broker, topic, partition=0):
    err, hw, _ = raw_fetch(broker, topic, partition)
    assert err == 0
    return hw


def metadata_leader_epoch(broker, topic):
    """Partition 0's leader epoch from Metadata v7 (or 0 when the broker has no Metadata v7)."""
    resp = call(broker, 3, 7, MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
                                               allow_auto_topic_creation=False))
    (t,) = resp.topics
    return {p.partition_index: p.leader_epoch for p in t.partitions}[0]


# ---------------------------------------------------------------------------------------------- per API


def check_api_versions(broker, v, topic):
    kw = {"client_software_name": "skein-interop", "client_software_version": "1.0.0"} if v >= 3 else {}
    resp = call(broker, 18, v, ApiVersionsRequest(**kw))
    assert resp.error_code == 0
    ranges = {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}
    assert len(ranges) == len(resp.api_keys), "an API is listed twice"
    assert all(lo <= hi for lo, hi in ranges.values()), ranges
    if v >= 1:
        assert resp.throttle_time_ms >= 0
    if not IS_MOCK:
        for key, (name, lo, hi, _, _) in CONTRACT.items():
            assert key in ranges, "%s is not advertised" % name
            assert ranges[key][0] <= lo and ranges[key][1] >= hi, "%s advertised %s, need %d-%d" % (
                name, ranges[key], lo, hi)


def check_metadata(broker, v, topic):
    T = MetadataRequest.MetadataRequestTopic
    req = MetadataRequest(topics=[T(name=topic, topic_id=uuid.UUID(int=0)) if v >= 10 else T(name=topic)])
    if v >= 4:
        req.allow_auto_topic_creation = False
    if v >= 8:
        req.include_topic_authorized_operations = False
        if v <= 10:
            req.include_cluster_authorized_operations = False
    resp = call(broker, 3, v, req)
    assert [(b.node_id, b.host, b.port) for b in resp.brokers] == [(broker.node_id, broker.host, broker.port)]
    if v >= 1 and not IS_MOCK:
        assert resp.controller_id == broker.node_id
    if v >= 2 and not IS_MOCK:
        assert resp.cluster_id, "empty cluster id"
    (t,) = resp.topics
    assert t.error_code == 0 and t.name == topic
    if v >= 1:
        assert t.is_internal is False
    parts = sorted(t.partitions, key=lambda p: p.partition_index)
    assert [p.partition_index for p in parts] == list(range(len(parts))) and len(parts) >= 2
    for p in parts:
        assert p.error_code == 0 and p.leader_id == broker.node_id
        assert list(p.replica_nodes) == [broker.node_id] and list(p.isr_nodes) == [broker.node_id]
        if v >= 5:
            assert list(p.offline_replicas) == []
        if v >= 7:
            assert p.leader_epoch >= 0

    if v < 4:
        return  # v0-3 cannot ask not to auto-create
    # Unknown topic: per-topic error, not a failed request.
    missing = "it-codec-missing-%s" % uuid.uuid4().hex[:8]
    req = MetadataRequest(topics=[T(name=missing, topic_id=uuid.UUID(int=0)) if v >= 10 else T(name=missing)],
                          allow_auto_topic_creation=False)
    (t,) = call(broker, 3, v, req).topics
    assert t.name == missing and t.error_code == 3  # UNKNOWN_TOPIC_OR_PARTITION


def check_produce(broker, v, topic):
    hw = high_watermark(broker, topic)
    T = ProduceRequest.TopicProduceData
    batch = build_batch([(b"k", b"produce v%d" % v), (None, b"second")])
    req = ProduceRequest(transactional_id=None, acks=-1, timeout_ms=10000,
                         topic_data=[T(name=topic, partition_data=[T.PartitionProduceData(index=0, records=batch)])])
    resp = call(broker, 0, v, req)
    (t,) = resp.responses
    (p,) = t.partition_responses
    assert t.name == topic and p.index == 0
    assert p.error_code == 0 and p.base_offset == hw
    if not IS_MOCK:
        assert p.log_append_time_ms == -1  # CreateTime topic
        if v >= 5:
            assert p.log_start_offset == 0
    if v >= 8:
        assert list(p.record_errors) == [] and p.error_message is None
    assert resp.throttle_time_ms >= 0
    assert high_watermark(broker, topic) == hw + 2


def check_fetch(broker, v, topic):
    hw = high_watermark(broker, topic)
    T = FetchRequest.FetchTopic
    req = FetchRequest(replica_id=-1, max_wait_ms=100, min_bytes=1, max_bytes=1 << 20, isolation_level=1,
                       topics=[T(topic=topic, partitions=[T.FetchPartition(partition=0, fetch_offset=0,
                                                                           partition_max_bytes=1 << 20)])])
    if v >= 7:
        req.session_id, req.session_epoch, req.forgotten_topics_data = 0, -1, []
    resp = call(broker, 1, v, req)
    if v >= 7:
        assert resp.error_code == 0 and resp.session_id == 0
    (t,) = resp.responses
    (p,) = t.partitions
    assert t.topic == topic and p.partition_index == 0 and p.error_code == 0
    assert p.high_watermark == hw
    assert p.last_stable_offset == hw  # no transactions: LSO == high watermark (read_committed asked)
    if v >= 5:
        assert p.log_start_offset == 0
    assert not p.aborted_transactions
    if v >= 11:
        assert p.preferred_read_replica == -1
    batches = parse_batches(bytes(p.records))
    assert batches and batches[0].base_offset == 0 and all(b.magic == 2 and b.crc_ok() for b in batches)
    for a, b in zip(batches, batches[1:]):
        assert b.base_offset == a.last_offset + 1


def check_list_offsets(broker, v, topic):
    hw = high_watermark(broker, topic)
    T = ListOffsetsRequest.ListOffsetsTopic
    # One partition per request: the mock garbles multi-partition responses from v4.
    for partition, ts, expected in ((0, -1, hw), (0, -2, 0), (1, -1, 0)):
        req = ListOffsetsRequest(replica_id=-1, topics=[T(name=topic, partitions=[
            T.ListOffsetsPartition(partition_index=partition, timestamp=ts)])])
        if v >= 2:
            req.isolation_level = 0
        resp = call(broker, 2, v, req)
        (t,) = resp.topics
        (p,) = t.partitions
        assert t.name == topic and p.partition_index == partition
        assert p.error_code == 0 and p.offset == expected, (partition, ts, p)
        assert p.timestamp == -1
        if v >= 4 and not IS_MOCK:
            assert p.leader_epoch >= 0
    if IS_MOCK:
        return  # the mock has no timestamp lookup
    # By timestamp: 0 finds the first record (with its CreateTime); a time far ahead finds nothing (-1).
    for ts, expected in ((0, 0), (4102444800000, -1)):
        req = ListOffsetsRequest(replica_id=-1, topics=[T(name=topic, partitions=[
            T.ListOffsetsPartition(partition_index=0, timestamp=ts)])])
        if v >= 2:
            req.isolation_level = 0
        (p,) = call(broker, 2, v, req).topics[0].partitions
        assert p.error_code == 0 and p.offset == expected, (ts, p)
        if expected == 0:
            assert 1_600_000_000_000 < p.timestamp < 4102444800000, p
        else:
            assert p.timestamp == -1, p


def check_create_topics(broker, v, topic):
    name = "it-codec-create-v%d-%s" % (v, uuid.uuid4().hex[:8])
    T = CreateTopicsRequest.CreatableTopic
    req = CreateTopicsRequest(topics=[T(name=name, num_partitions=3, replication_factor=1, assignments=[],
                                        configs=[T.CreatableTopicConfig(name="retention.ms", value="3600000")])],
                              timeout_ms=10000, validate_only=False)
    resp = call(broker, 19, v, req)
    (r,) = resp.topics
    assert r.name == name and r.error_code == 0 and r.error_message is None, r
    if v >= 5:
        assert r.num_partitions == 3 and r.replication_factor == 1
        if r.configs:
            values = {c.name: c.value for c in r.configs}
            assert values.get("retention.ms") == "3600000", values
    # And again: TOPIC_ALREADY_EXISTS (36), same layout.
    (r,) = call(broker, 19, v, req).topics
    assert r.name == name and r.error_code == 36


def check_delete_topics(broker, v, topic):
    name = "it-codec-delete-v%d-%s" % (v, uuid.uuid4().hex[:8])
    create_topic(broker, name, 1)
    if v >= 6:
        S = DeleteTopicsRequest.DeleteTopicState
        req = DeleteTopicsRequest(topics=[S(name=name, topic_id=uuid.UUID(int=0))], timeout_ms=10000)
    else:
        req = DeleteTopicsRequest(topic_names=[name], timeout_ms=10000)
    (r,) = call(broker, 20, v, req).responses
    assert r.name == name and r.error_code == 0, r
    if v >= 5:
        assert r.error_message is None
    (r,) = call(broker, 20, v, req).responses
    assert r.name == name and r.error_code == 3, r  # gone: UNKNOWN_TOPIC_OR_PARTITION


def check_describe_configs(broker, v, topic):
    R = DescribeConfigsRequest.DescribeConfigsResource
    req = DescribeConfigsRequest(resources=[R(resource_type=2, resource_name=topic, configuration_keys=None),
                                            R(resource_type=2, resource_name=topic,
                                              configuration_keys=["retention.ms"])],
                                 include_synonyms=False)
    if v >= 3:
        req.include_documentation = False
    resp = call(broker, 32, v, req)
    full, one = resp.results
    for r in (full, one):
        assert r.error_code == 0 and r.resource_type == 2 and r.resource_name == topic, r
    names = [c.name for c in full.configs]
    assert "retention.ms" in names and len(names) == len(set(names)), names
    for c in full.configs:
        assert isinstance(c.name, str) and (c.value is None or isinstance(c.value, str))
        assert c.config_source in (1, 2, 3, 4, 5, 6, 7, 8), c
    assert [(c.name, c.value) for c in one.configs] == [("retention.ms", "604800000")]


def check_init_producer_id(broker, v, topic):
    ids = []
    for _ in range(2):
        req = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60000)
        if v >= 3:
            req.producer_id, req.producer_epoch = -1, -1
        resp = call(broker, 22, v, req)
        assert resp.error_code == 0 and resp.producer_id >= 0 and resp.producer_epoch >= 0, resp
        ids.append(resp.producer_id)
    assert ids[0] != ids[1], "two idempotent producers got the same id"


def check_find_coordinator(broker, v, topic):
    key = "it-codec-group"
    if v >= 4:
        req = FindCoordinatorRequest(key_type=0, coordinator_keys=[key])
    else:
        req = FindCoordinatorRequest(key=key)
        if v >= 1:
            req.key_type = 0
    resp = call(broker, 10, v, req)
    if v >= 4:
        (c,) = resp.coordinators
        assert c.key == key and c.error_code == 0
        got = (c.node_id, c.host, c.port)
    else:
        assert resp.error_code == 0
        got = (resp.node_id, resp.host, resp.port)
    assert got == (broker.node_id, broker.host, broker.port)


def check_offset_for_leader_epoch(broker, v, topic):
    hw = high_watermark(broker, topic)
    epoch = metadata_leader_epoch(broker, topic)
    T = OffsetForLeaderEpochRequest.OffsetForLeaderTopic
    req = OffsetForLeaderEpochRequest(topics=[T(topic=topic, partitions=[
        T.OffsetForLeaderPartition(partition=0, current_leader_epoch=epoch, leader_epoch=epoch)])])
    if v >= 3:
        req.replica_id = -1
    (t,) = call(broker, 23, v, req).topics
    (p,) = t.partitions
    assert t.topic == topic and p.partition == 0
    assert p.error_code == 0 and p.leader_epoch == epoch and p.end_offset == hw, p


def topic_config(broker, topic, name):
    """(value, source) of one topic config, from DescribeConfigs v4."""
    R = DescribeConfigsRequest.DescribeConfigsResource
    req = DescribeConfigsRequest(resources=[R(resource_type=2, resource_name=topic, configuration_keys=[name])],
                                 include_synonyms=False, include_documentation=False)
    (r,) = call(broker, 32, 4, req).results
    assert r.error_code == 0, r
    ((value, source),) = [(c.value, c.config_source) for c in r.configs]
    return value, source


def check_alter_configs(broker, v, topic):
    name = "it-codec-alter-v%d-%s" % (v, uuid.uuid4().hex[:8])
    create_topic(broker, name, 1)
    R = AlterConfigsRequest.AlterConfigsResource
    C = R.AlterableConfig
    req = AlterConfigsRequest(resources=[R(resource_type=2, resource_name=name,
                                           configs=[C(name="retention.ms", value="7200000")]),
                                         R(resource_type=2, resource_name=name + "-missing",
                                           configs=[C(name="retention.ms", value="1")]),
                                         R(resource_type=4, resource_name="0",
                                           configs=[C(name="num.partitions", value="2")])],
                              validate_only=False)
    ok, missing, brokerwide = call(broker, 33, v, req).responses
    assert (ok.error_code, ok.error_message, ok.resource_type, ok.resource_name) == (0, None, 2, name), ok
    assert missing.error_code == 3 and missing.resource_name == name + "-missing", missing
    assert brokerwide.error_code == 44 and "read-only" in brokerwide.error_message, brokerwide
    assert topic_config(broker, name, "retention.ms") == ("7200000", 1)
    bad = AlterConfigsRequest(resources=[R(resource_type=2, resource_name=name,
                                           configs=[C(name="retention.ms", value="later")])], validate_only=False)
    (r,) = call(broker, 33, v, bad).responses
    assert r.error_code == 40 and "retention.ms" in r.error_message, r
    # The whole set is replaced: an empty set returns retention.ms to its default.
    empty = AlterConfigsRequest(resources=[R(resource_type=2, resource_name=name, configs=[])], validate_only=False)
    (r,) = call(broker, 33, v, empty).responses
    assert r.error_code == 0, r
    assert topic_config(broker, name, "retention.ms") == ("604800000", 5)


def check_incremental_alter_configs(broker, v, topic):
    name = "it-codec-incr-v%d-%s" % (v, uuid.uuid4().hex[:8])
    create_topic(broker, name, 1)
    R = IncrementalAlterConfigsRequest.AlterConfigsResource
    C = R.AlterableConfig
    SET, DELETE = 0, 1
    req = IncrementalAlterConfigsRequest(
        resources=[R(resource_type=2, resource_name=name,
                     configs=[C(name="retention.ms", config_operation=SET, value="7200000"),
                              C(name="segment.ms", config_operation=SET, value="3600000")]),
                   R(resource_type=4, resource_name="0",
                     configs=[C(name="log.retention.ms", config_operation=SET, value="1")])],
        validate_only=False)
    ok, brokerwide = call(broker, 44, v, req).responses
    assert (ok.error_code, ok.error_message, ok.resource_type, ok.resource_name) == (0, None, 2, name), ok
    assert brokerwide.error_code == 44 and brokerwide.resource_type == 4, brokerwide
    assert brokerwide.error_message == "broker configs are read-only; set them in the config file"
    assert topic_config(broker, name, "segment.ms") == ("3600000", 1)
    req = IncrementalAlterConfigsRequest(
        resources=[R(resource_type=2, resource_name=name,
                     configs=[C(name="segment.ms", config_operation=DELETE, value=None)])], validate_only=False)
    (r,) = call(broker, 44, v, req).responses
    assert r.error_code == 0, r
    assert topic_config(broker, name, "segment.ms") == ("604800000", 5)
    assert topic_config(broker, name, "retention.ms") == ("7200000", 1)


def commit_standalone(broker, group, topic, offsets):
    """Commits {partition: offset} outside any generation (what assign()ed consumers do), OffsetCommit v2."""
    T = OffsetCommitRequest.OffsetCommitRequestTopic
    P = T.OffsetCommitRequestPartition
    req = OffsetCommitRequest(group_id=group, generation_id_or_member_epoch=-1, member_id="", retention_time_ms=-1,
                              topics=[T(name=topic, partitions=[P(partition_index=p, committed_offset=o,
                                                                  committed_metadata="")
                                                                for p, o in offsets.items()])])
    with Conn(broker.host, broker.port) as c:
        _, resp = kp_decode_response_exact(OffsetCommitResponse, 2, c.roundtrip(kp_encode_request(req, 2, 77)))
    assert all(p.error_code == 0 for t in resp.topics for p in t.partitions), resp


def committed_offsets(broker, group, topic, partitions):
    T = OffsetFetchRequest.OffsetFetchRequestTopic
    req = OffsetFetchRequest(group_id=group, topics=[T(name=topic, partition_indexes=partitions)])
    with Conn(broker.host, broker.port) as c:
        _, resp = kp_decode_response_exact(OffsetFetchResponse, 1, c.roundtrip(kp_encode_request(req, 1, 78)))
    return [p.committed_offset for t in resp.topics for p in sorted(t.partitions, key=lambda p: p.partition_index)]


def check_delete_groups(broker, v, topic):
    group = "it-codec-delgroup-v%d-%s" % (v, uuid.uuid4().hex[:8])
    commit_standalone(broker, group, topic, {0: 3, 1: 0})
    req = DeleteGroupsRequest(groups_names=[group, group + "-never"])
    done, never = call(broker, 42, v, req).results
    assert (done.group_id, done.error_code) == (group, 0), done
    assert (never.group_id, never.error_code) == (group + "-never", 69), never  # GROUP_ID_NOT_FOUND
    assert committed_offsets(broker, group, topic, [0, 1]) == [-1, -1]


def check_offset_delete(broker, v, topic):
    group = "it-codec-offdel-v%d-%s" % (v, uuid.uuid4().hex[:8])
    commit_standalone(broker, group, topic, {0: 3, 1: 0})
    T = OffsetDeleteRequest.OffsetDeleteRequestTopic
    P = T.OffsetDeleteRequestPartition
    req = OffsetDeleteRequest(group_id=group, topics=[T(name=topic, partitions=[P(partition_index=0)]),
                                                      T(name=topic + "-missing", partitions=[P(partition_index=0)])])
    resp = call(broker, 47, v, req)
    assert resp.error_code == 0, resp
    assert {(t.name, p.partition_index): p.error_code for t in resp.topics for p in t.partitions} == {
        (topic, 0): 0, (topic + "-missing", 0): 3}
    assert committed_offsets(broker, group, topic, [0, 1]) == [-1, 0]
    resp = call(broker, 47, v, OffsetDeleteRequest(group_id=group + "-never", topics=[]))
    assert resp.error_code == 69 and list(resp.topics) == [], resp


CHECKS = {18: check_api_versions, 3: check_metadata, 0: check_produce, 1: check_fetch, 2: check_list_offsets,
          19: check_create_topics, 20: check_delete_topics, 32: check_describe_configs,
          22: check_init_producer_id, 10: check_find_coordinator, 23: check_offset_for_leader_epoch,
          33: check_alter_configs, 44: check_incremental_alter_configs, 42: check_delete_groups,
          47: check_offset_delete}


# Codec bugs of librdkafka 2.0.2's mock that this cross-check finds (strict xfail against the mock).
MOCK_CODEC_BUGS = {
    (0, 5): "the mock omits LogStartOffset from Produce v5 responses (it starts at v6)",
    (2, 4): "the mock misplaces LeaderEpoch in ListOffsets v4+ responses",
    (2, 5): "the mock misplaces LeaderEpoch in ListOffsets v4+ responses",
}


@pytest.mark.parametrize("api_key,version", CASES)
def test_codec(request, broker, advertised, data_topic, api_key, version):
    if IS_MOCK:
        lo, hi = advertised.get(api_key, (0, -1))
        if not lo <= version <= hi:
            pytest.skip("mock advertises %s %s" % (CONTRACT[api_key][0], advertised.get(api_key, "nothing")))
        if (api_key, version) in MOCK_CODEC_BUGS:
            request.applymarker(pytest.mark.xfail(reason=MOCK_CODEC_BUGS[(api_key, version)], strict=True,
                                                  raises=AssertionError))
    CHECKS[api_key](broker, version, data_topic)


def test_kafka_python_covers_contract():
    """Records which contract versions kafka-python has no classes for (none for 3.0.12)."""
    assert MISSING == [], "kafka-python lacks %s; these versions go unchecked" % MISSING


@pytest.mark.mock_xfail("librdkafka's mock answers a too-new ApiVersions in the flexible layout")
def test_api_versions_too_new_gets_v0_error_reply(broker, advertised):
    """A client newer than the broker sends ApiVersions v(max+1) with a v2 header and a flexible body; the
    broker answers UNSUPPORTED_VERSION with a v0 body that lists its ranges (how librdkafka, kafka-python 3 and
    Java clients negotiate down)."""
    version = advertised[18][1] + 1
    name, ver = b"skein-interop", b"9.9"
    header = struct.pack(">hhi", 18, version, 555) + struct.pack(">h", 8) + b"newcli-1" + b"\x00"
    body = bytes([len(name) + 1]) + name + bytes([len(ver) + 1]) + ver + b"\x00"
    with Conn(broker.host, broker.port) as c:
        payload = c.roundtrip(header + body)
        corr, resp = kp_decode_response_exact(ApiVersionsResponse, 0, payload)
        assert corr == 555
        assert resp.error_code == 35
        ranges = {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}
        assert ranges.get(18) == advertised[18], ranges
        # The connection stays usable: the client retries with a version the broker supports.
        corr, resp = kp_decode_response_exact(ApiVersionsResponse, 3, c.roundtrip(kp_encode_request(
            ApiVersionsRequest(client_software_name="skein-interop", client_software_version="9.9"), 3, 556)))
        assert corr == 556 and resp.error_code == 0


def test_pipelined_requests_answered_in_order(broker, data_topic):
    """Several requests written at once on one connection are answered in order (Kafka's per-connection
    ordering), each decoding exactly."""
    versions = [(18, 0), (3, 1), (10, 0), (18, 2), (3, 2), (1, 4), (2, 1), (3, 0)]
    frames = b""
    for i, (key, v) in enumerate(versions):
        if key == 18:
            req = ApiVersionsRequest()
        elif key == 3:
            req = MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=data_topic)])
        elif key == 10:
            req = FindCoordinatorRequest(key="g")
        elif key == 1:
            T = FetchRequest.FetchTopic
            req = FetchRequest(replica_id=-1, max_wait_ms=0, min_bytes=0, max_bytes=1 << 20, isolation_level=0,
                               topics=[T(topic=data_topic, partitions=[T.FetchPartition(
                                   partition=0, fetch_offset=0, partition_max_bytes=1 << 20)])])
        else:
            T = ListOffsetsRequest.ListOffsetsTopic
            req = ListOffsetsRequest(replica_id=-1, topics=[T(name=data_topic, partitions=[
                T.ListOffsetsPartition(partition_index=0, timestamp=-1)])])
        payload = kp_encode_request(req, v, 9000 + i)
        frames += struct.pack(">i", len(payload)) + payload
    with Conn(broker.host, broker.port) as c:
        c.send(frames)
        for i, (key, v) in enumerate(versions):
            corr, _ = kp_decode_response_exact(CONTRACT[key][4], v, c.recv_frame())
            assert corr == 9000 + i, "response %d out of order" % i
