"""Changing topic configs and deleting groups with real admin clients: confluent-kafka's
incremental_alter_configs and delete_consumer_groups, kafka-python's alter_configs (both AlterConfigs and
IncrementalAlterConfigs), delete_groups and delete_group_offsets (OffsetDelete), each followed across a broker
restart where the change must be durable."""

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import admin_client, create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the mock has none of these admin APIs and cannot restart")

SETTINGS = {"group.initial.rebalance.delay.ms": "0"}
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5
NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND = 68, 69


def described(broker, topic):
    """{name: (value, source)} of a topic, from confluent-kafka's describe_configs."""
    from confluent_kafka.admin import ConfigResource
    admin = admin_client(broker)
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)],
                                       request_timeout=15).values()
    return {name: (entry.value, int(entry.source)) for name, entry in future.result(timeout=20).items()}


def incremental(broker, resource_type, name, changes):
    """confluent-kafka incremental_alter_configs of {config: (operation, value)}; returns the future's result."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource
    entries = [ConfigEntry(key, value, incremental_operation=getattr(AlterConfigOpType, op))
               for key, (op, value) in changes.items()]
    admin = admin_client(broker)
    (future,) = admin.incremental_alter_configs(
        [ConfigResource(resource_type, name, incremental_configs=entries)], request_timeout=15).values()
    return future.result(timeout=20)


def test_confluent_incremental_alter_configs_survives_a_crash(skeind_factory, topic_name):
    from confluent_kafka.admin import ConfigResource
    b = skeind_factory.new(settings=SETTINGS).start()
    topic = topic_name()
    create_topic(b, topic, 2, config={"segment.ms": "3600000"})

    assert incremental(b, ConfigResource.Type.TOPIC, topic, {
        "retention.ms": ("SET", "7200000"), "max.message.bytes": ("SET", "500000"),
        "segment.ms": ("DELETE", None)}) is None
    configs = described(b, topic)
    assert configs["retention.ms"] == ("7200000", DYNAMIC_TOPIC_CONFIG)
    assert configs["max.message.bytes"] == ("500000", DYNAMIC_TOPIC_CONFIG)
    assert configs["segment.ms"] == ("604800000", DEFAULT_CONFIG)

    # The new max.message.bytes applies at once: a 600 kB record is refused, a 400 kB one stored.
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "message.max.bytes": 1000000,
                  "compression.type": "none"})
    outcomes = []
    for size in (600_000, 400_000):
        p.produce(topic, b"x" * size, partition=0, on_delivery=lambda err, msg: outcomes.append(err))
        p.flush(20)
    assert [e.code() if e else None for e in outcomes] == [KafkaError.MSG_SIZE_TOO_LARGE, None], outcomes

    # Refusals: an unknown config and a bad value (INVALID_CONFIG), and the broker's own configs.
    with pytest.raises(Exception) as unknown:
        incremental(b, ConfigResource.Type.TOPIC, topic, {"no.such.config": ("SET", "1")})
    assert unknown.value.args[0].code() == KafkaError.INVALID_CONFIG
    with pytest.raises(Exception) as bad:
        incremental(b, ConfigResource.Type.TOPIC, topic, {"retention.ms": ("SET", "tomorrow")})
    assert bad.value.args[0].code() == KafkaError.INVALID_CONFIG
    assert "retention.ms" in bad.value.args[0].str()
    with pytest.raises(Exception) as readonly:
        incremental(b, ConfigResource.Type.BROKER, "0", {"log.retention.ms": ("SET", "1")})
    assert readonly.value.args[0].code() == KafkaError.POLICY_VIOLATION
    assert "read-only" in readonly.value.args[0].str()
    assert described(b, topic)["retention.ms"] == ("7200000", DYNAMIC_TOPIC_CONFIG)

    # topics.json is rewritten durably with each change, so even SIGKILL keeps it.
    b.kill()
    b.start()
    configs = described(b, topic)
    assert configs["retention.ms"] == ("7200000", DYNAMIC_TOPIC_CONFIG)
    assert configs["max.message.bytes"] == ("500000", DYNAMIC_TOPIC_CONFIG)
    assert configs["segment.ms"] == ("604800000", DEFAULT_CONFIG)
    assert b.terminate() == 0


@pytest.mark.parametrize("incremental_api", [False, True], ids=["AlterConfigs", "IncrementalAlterConfigs"])
def test_kafka_python_alter_configs(skeind_factory, topic_name, incremental_api):
    from kafka.admin import ConfigResource, KafkaAdminClient
    b = skeind_factory.new(settings=SETTINGS).start()
    topic = topic_name()
    create_topic(b, topic, 1, config={"retention.ms": "3600000"})
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        result = admin.alter_configs([ConfigResource("TOPIC", topic, {"segment.ms": "1800000"})],
                                     incremental=incremental_api)
        assert result == {"topic": {topic: "OK"}}, result
        configs = described(b, topic)
        assert configs["segment.ms"] == ("1800000", DYNAMIC_TOPIC_CONFIG)
        # AlterConfigs replaces the whole set; kafka-python first reads the modified configs back from
        # DescribeConfigs and resends them, so retention.ms survives either way.
        assert configs["retention.ms"] == ("3600000", DYNAMIC_TOPIC_CONFIG)
        # An unknown key is refused before sending (kafka-python checks DescribeConfigs' names)...
        with pytest.raises(ValueError):
            admin.alter_configs([ConfigResource("TOPIC", topic, {"no.such.config": "1"})],
                                incremental=incremental_api)
        # ...and a bad value by the broker, per resource.
        result = admin.alter_configs([ConfigResource("TOPIC", topic, {"segment.ms": "never"})],
                                     incremental=incremental_api)
        assert "InvalidConfigurationError" in result["topic"][topic], result
    finally:
        admin.close()
    assert b.terminate() == 0
    b.start()
    assert described(b, topic)["segment.ms"] == ("1800000", DYNAMIC_TOPIC_CONFIG)
    assert b.terminate() == 0


def consume_and_commit(broker, group, topic, count):
    """A group member that reads `count` records, commits and leaves; the group is then Empty."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    got = []
    wait_until(lambda: got.extend(m for m in [c.poll(0.2)] if m is not None and not m.error()) or len(got) >= count,
               30, "%d records for %s" % (count, group))
    c.commit(asynchronous=False)
    c.close()
    return got


def active_member(broker, group, topic):
    """A subscribed member with its assignment; librdkafka keeps heartbeating in the background."""
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    wait_until(lambda: c.poll(0.2) is None and c.assignment(), 30, "an assignment in %s" % group)
    return c


def committed(broker, group, topic, partitions):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        return [tp.offset for tp in c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)]
    finally:
        c.close()


def produce(broker, topic, count):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(count):
        p.produce(topic, b"record-%d" % i, partition=0)
    assert p.flush(20) == 0


def test_confluent_delete_consumer_groups(skeind_factory, topic_name):
    b = skeind_factory.new(settings=SETTINGS).start()
    topic = topic_name()
    create_topic(b, topic, 1)
    produce(b, topic, 5)
    finished, busy = "g-finished-" + topic, "g-busy-" + topic
    assert len(consume_and_commit(b, finished, topic, 5)) == 5
    assert committed(b, finished, topic, [0]) == [5]
    member = active_member(b, busy, topic)
    try:
        admin = admin_client(b)
        futures = admin.delete_consumer_groups([finished, busy], request_timeout=15)
        assert futures[finished].result(timeout=20) is None
        with pytest.raises(Exception) as non_empty:
            futures[busy].result(timeout=20)
        assert non_empty.value.args[0].code() == KafkaError.NON_EMPTY_GROUP
        assert committed(b, finished, topic, [0]) == [-1001]  # librdkafka's "no committed offset"
        listed = {g.group_id for g in admin.list_consumer_groups(request_timeout=15).result(timeout=20).valid}
        assert finished not in listed and busy in listed, listed
    finally:
        member.close()
    # Deleted for good: the offsets do not come back after a crash.
    b.kill()
    b.start()
    assert committed(b, finished, topic, [0]) == [-1001]
    admin = admin_client(b)
    with pytest.raises(Exception) as gone:
        admin.delete_consumer_groups([finished], request_timeout=15)[finished].result(timeout=20)
    assert gone.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND
    assert b.terminate() == 0


def test_kafka_python_delete_group_offsets_and_groups(skeind_factory, topic_name):
    from kafka import TopicPartition as KTopicPartition
    from kafka import errors as Errors
    from kafka.admin import KafkaAdminClient
    b = skeind_factory.new(settings=SETTINGS).start()
    used, old = topic_name("used"), topic_name("old")
    create_topic(b, used, 1)
    create_topic(b, old, 2)
    produce(b, used, 3)
    produce(b, old, 4)
    group = "g-" + used
    consume_and_commit(b, group, old, 4)
    member = active_member(b, group, used)
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        wait_until(lambda: member.poll(0.2) is None and member.position([TopicPartition(used, 0)])[0].offset == 3,
                   30, "the member to read %s" % used)
        member.commit(asynchronous=False)
        assert committed(b, group, used, [0]) == [3] and committed(b, group, old, [0]) == [4]

        # The member consumes `used`, so only `old` may lose its offsets.
        result = admin.delete_group_offsets(group, [KTopicPartition(used, 0), KTopicPartition(old, 0)])
        assert result == {KTopicPartition(used, 0): Errors.GroupSubscribedToTopicError,
                          KTopicPartition(old, 0): Errors.NoError}, result
        assert committed(b, group, old, [0]) == [-1001]
        assert committed(b, group, used, [0]) == [3]
        with pytest.raises(Errors.GroupIdNotFoundError):
            admin.delete_group_offsets("g-nobody-" + used, [KTopicPartition(old, 0)])
        # kafka-python answers {group: "OK" or the error class's name}.
        assert admin.delete_groups([group]) == {group: "NonEmptyGroupError"}
    finally:
        member.close()
    # Once the group is empty, its remaining offsets can go too; and a group without members can be deleted.
    assert admin.delete_group_offsets(group, [KTopicPartition(used, 0)]) == {KTopicPartition(used, 0): Errors.NoError}
    other = "g-other-" + used
    consume_and_commit(b, other, old, 4)
    assert admin.delete_groups([other]) == {other: "OK"}
    admin.close()
    assert b.terminate() == 0
    b.start()
    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        assert committed(b, group, used, [0]) == [-1001] and committed(b, group, old, [0, 1]) == [-1001, -1001]
        assert committed(b, other, old, [0]) == [-1001]
        # Nothing of either group is left, so after the restart neither exists (Kafka likewise drops empty
        # groups without offsets).
        assert admin.delete_groups([group, other]) == {group: "GroupIdNotFoundError", other: "GroupIdNotFoundError"}
    finally:
        admin.close()
    assert b.terminate() == 0
