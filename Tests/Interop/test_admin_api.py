"""The rest of the admin API with real admin clients: CreatePartitions, CreateTopics with a replica assignment,
AlterConfigs with the topic configs a single node accepts without effect (message.format.version, as
librdkafka's test 0092 sets), DeleteRecords, DescribeCluster, DescribeLogDirs and DescribeProducers, from
confluent-kafka's AdminClient and kafka-python's KafkaAdminClient. Growth and deletions must survive kill -9."""

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from conftest import admin_client, create_topic, kcat_consume, topic_partitions, wait_until

pytestmark = pytest.mark.skeind_only("the mock has none of these admin APIs and cannot restart")

DYNAMIC_TOPIC_CONFIG = 1


def produce(broker, topic, values, partition=0):
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for value in values:
        p.produce(topic, value.encode(), partition=partition)
    assert p.flush(20) == 0


def watermarks(broker, topic, partition):
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watermarks-" + topic})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def kafka_error(excinfo):
    return excinfo.value.args[0]


def test_confluent_create_partitions_are_usable_at_once_and_survive_kill(skeind_factory, topic_name):
    from confluent_kafka.admin import NewPartitions
    b = skeind_factory.new().start()
    topic = topic_name()
    create_topic(b, topic, 2)
    admin = admin_client(b)

    def grow(count, assignment=None, validate_only=False):
        # The binding refuses replica_assignment=None, so it is passed only when given.
        new = NewPartitions(topic, count) if assignment is None else NewPartitions(topic, count, assignment)
        (future,) = admin.create_partitions([new], validate_only=validate_only, request_timeout=15).values()
        return future.result(timeout=20)

    assert grow(4, validate_only=True) is None
    assert topic_partitions(b, topic) == 2
    assert grow(4) is None
    wait_until(lambda: topic_partitions(b, topic) == 4, 10, "metadata with 4 partitions")
    produce(b, topic, ["on-partition-3"], partition=3)
    assert kcat_consume(b, topic, 3, "%s\\n") == ["on-partition-3"]

    # Fewer or as many partitions as now: INVALID_PARTITIONS, with Kafka's reason.
    for count in (3, 4):
        with pytest.raises(Exception) as refused:
            grow(count)
        assert kafka_error(refused).code() == KafkaError.INVALID_PARTITIONS
    # An assignment may name only this broker, one replica per new partition.
    with pytest.raises(Exception) as elsewhere:
        grow(5, assignment=[[7]])
    assert kafka_error(elsewhere).code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert "broker 7" in kafka_error(elsewhere).str()
    assert grow(5, assignment=[[b.node_id]]) is None
    wait_until(lambda: topic_partitions(b, topic) == 5, 10, "metadata with 5 partitions")

    b.kill()
    b.start()
    assert topic_partitions(b, topic) == 5
    assert kcat_consume(b, topic, 3, "%s\\n") == ["on-partition-3"]
    produce(b, topic, ["after-restart"], partition=4)
    assert kcat_consume(b, topic, 4, "%s\\n") == ["after-restart"]
    assert b.terminate() == 0


def test_confluent_create_topics_with_a_replica_assignment(broker, topic_name):
    from confluent_kafka.admin import NewTopic
    placed, elsewhere = topic_name("placed"), topic_name("elsewhere")
    admin = admin_client(broker)
    # librdkafka wants the partition count beside an assignment, and no replication factor.
    futures = admin.create_topics(
        [NewTopic(placed, num_partitions=3, replica_assignment=[[0], [0], [0]]),
         NewTopic(elsewhere, num_partitions=1, replica_assignment=[[0, 1]])],
        request_timeout=15)
    assert futures[placed].result(timeout=20) is None
    with pytest.raises(Exception) as refused:
        futures[elsewhere].result(timeout=20)
    assert kafka_error(refused).code() == KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert "broker 1" in kafka_error(refused).str()
    wait_until(lambda: topic_partitions(broker, placed) == 3, 10, "metadata of %s" % placed)
    # Listing all topics does not auto-create one (asking for it by name would).
    assert elsewhere not in admin.list_topics(timeout=10).topics


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_confluent_alter_configs_accepts_what_a_single_node_ignores(broker, topic_name):
    """librdkafka's test 0092 sets message.format.version; replication and compaction settings are accepted
    too, stored and described, while unknown names and bad values are still refused."""
    from confluent_kafka.admin import ConfigResource
    topic = topic_name()
    create_topic(broker, topic, 1, config={"message.format.version": "2.8-IV1"})
    admin = admin_client(broker)
    settings = {"message.format.version": "0.10.0", "unclean.leader.election.enable": "true",
                "min.insync.replicas": "1", "follower.replication.throttled.replicas": "*",
                "min.cleanable.dirty.ratio": "0.3", "segment.jitter.ms": "100", "retention.ms": "86400000"}
    (future,) = admin.alter_configs([ConfigResource(ConfigResource.Type.TOPIC, topic, set_config=settings)],
                                    request_timeout=15).values()
    assert future.result(timeout=20) is None
    (described,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)],
                                          request_timeout=15).values()
    configs = described.result(timeout=20)
    for name, value in settings.items():
        assert (configs[name].value, int(configs[name].source)) == (value, DYNAMIC_TOPIC_CONFIG), name
    for name, value in [("no.such.config", "1"), ("message.format.version", "newest")]:
        (future,) = admin.alter_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={name: value})],
            request_timeout=15).values()
        with pytest.raises(Exception) as refused:
            future.result(timeout=20)
        assert kafka_error(refused).code() == KafkaError.INVALID_CONFIG, name


def test_confluent_delete_records_survives_kill(skeind_factory, topic_name):
    b = skeind_factory.new(settings={"log.segment.bytes": "300"}).start()
    topic = topic_name()
    create_topic(b, topic, 2)
    produce(b, topic, ["record-%d" % i for i in range(10)])
    produce(b, topic, ["other-%d" % i for i in range(3)], partition=1)
    admin = admin_client(b)
    futures = admin.delete_records([TopicPartition(topic, 0, 6), TopicPartition(topic, 1, -1)],
                                   request_timeout=15, operation_timeout=10)
    results = {tp.partition: f.result(timeout=20) for tp, f in futures.items()}
    assert results[0].low_watermark == 6
    assert results[1].low_watermark == 3
    assert watermarks(b, topic, 0) == (6, 10)
    assert kcat_consume(b, topic, 0, "%s\\n") == ["record-%d" % i for i in range(6, 10)]
    assert kcat_consume(b, topic, 1, "%s\\n") == []

    (beyond,) = admin.delete_records([TopicPartition(topic, 0, 11)], request_timeout=15).values()
    with pytest.raises(Exception) as refused:
        beyond.result(timeout=20)
    assert kafka_error(refused).code() == KafkaError.OFFSET_OUT_OF_RANGE

    # The new start is checkpointed before the answer: SIGKILL does not bring the records back.
    b.kill()
    b.start()
    assert watermarks(b, topic, 0) == (6, 10)
    assert watermarks(b, topic, 1) == (3, 3)
    assert kcat_consume(b, topic, 0, "%s\\n") == ["record-%d" % i for i in range(6, 10)]
    assert b.terminate() == 0


def test_confluent_describe_cluster(broker):
    admin = admin_client(broker)
    cluster = admin.describe_cluster(request_timeout=15).result(timeout=20)
    assert cluster.cluster_id == "skein-cluster"
    assert cluster.controller.id == broker.node_id
    assert [(n.id, n.host, n.port) for n in cluster.nodes] == [(broker.node_id, broker.host, broker.port)]


def test_kafka_python_admin_partitions_records_and_descriptions(broker, topic_name):
    from kafka import KafkaProducer
    from kafka import TopicPartition as KTopicPartition
    from kafka import errors as Errors
    from kafka.admin import KafkaAdminClient
    topic = topic_name()
    create_topic(broker, topic, 1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        admin.create_partitions({topic: 3})
        admin.create_partitions({topic: {"count": 4, "assignments": [[broker.node_id]]}})
        with pytest.raises(Errors.InvalidPartitionsError):
            admin.create_partitions({topic: 2})
        wait_until(lambda: topic_partitions(broker, topic) == 4, 10, "metadata with 4 partitions")

        # kafka-python's producer is idempotent by default, so the partition tracks its producer.
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        for i in range(5):
            producer.send(topic, b"kp-%d" % i, partition=2)
        producer.flush(20)
        producer.close()

        deleted = admin.delete_records({KTopicPartition(topic, 2): 3})
        assert deleted[KTopicPartition(topic, 2)]["low_watermark"] == 3
        assert watermarks(broker, topic, 2) == (3, 5)

        producers = admin.describe_producers([KTopicPartition(topic, 2)])
        (state,) = producers[KTopicPartition(topic, 2)].active_producers
        assert state.producer_id >= 0
        assert state.last_sequence == 4
        assert state.current_transaction_start_offset == -1

        cluster = admin.describe_cluster()
        assert cluster["cluster_id"] == "skein-cluster"
        assert cluster["controller_id"] == broker.node_id
        assert [(n["broker_id"], n["port"]) for n in cluster["brokers"]] == [(broker.node_id, broker.port)]

        (per_broker,) = admin.describe_log_dirs({topic: [0, 1, 2, 3]})
        (log_dir,) = per_broker["log_dirs"]
        assert log_dir["error_code"] == 0
        assert log_dir["log_dir"] == str(broker.data_dir.resolve())
        (described,) = log_dir["topics"]
        sizes = {p["partition_index"]: p["partition_size"] for p in described["partitions"]}
        assert sorted(sizes) == [0, 1, 2, 3]
        assert sizes[2] > 0 and sizes[0] == 0
    finally:
        admin.close()


def test_skein_topics_add_partitions_and_delete_records(broker, topic_name):
    from test_cli import ok, one_line_error, skein
    topic = topic_name()
    create_topic(broker, topic, 2)
    assert "now has 3 partitions" in ok(skein(broker, "topics", "add-partitions", topic, "--partitions", "3"))
    wait_until(lambda: topic_partitions(broker, topic) == 3, 10, "metadata with 3 partitions")
    ok(skein(broker, "topics", "add-partitions", topic, "--partitions", "5", "--validate-only"))
    assert topic_partitions(broker, topic) == 3
    one_line_error(skein(broker, "topics", "add-partitions", topic, "--partitions", "2"), 64, "cannot be removed")
    one_line_error(skein(broker, "topics", "add-partitions", topic_name("gone"), "--partitions", "2"), 2, "no topic")

    produce(broker, topic, ["r%d" % i for i in range(6)], partition=2)
    out = ok(skein(broker, "topics", "delete-records", topic, "--partition", "2", "--before", "4"))
    assert out.splitlines()[1].split() == ["2", "4"], out
    assert watermarks(broker, topic, 2) == (4, 6)
    out = ok(skein(broker, "topics", "delete-records", topic, "--all"))
    assert [line.split() for line in out.splitlines()[1:]] == [["0", "0"], ["1", "0"], ["2", "6"]], out
    one_line_error(skein(broker, "topics", "delete-records", topic, "--partition", "2", "--before", "99"), 64,
                   "past the end")
    one_line_error(skein(broker, "topics", "delete-records", topic), 64)


def test_kafka_python_describe_producers_shows_an_open_transaction(broker, topic_name):
    from kafka import KafkaProducer
    from kafka import TopicPartition as KTopicPartition
    from kafka.admin import KafkaAdminClient
    topic = topic_name()
    create_topic(broker, topic, 1)
    produce(broker, topic, ["before"])
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id="describe-" + topic)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic, b"in-transaction", partition=0)
        producer.flush(20)
        tp = KTopicPartition(topic, 0)
        (state,) = admin.describe_producers([tp])[tp].active_producers
        assert state.current_transaction_start_offset == 1
        producer.commit_transaction()
        (state,) = admin.describe_producers([tp])[tp].active_producers
        assert state.current_transaction_start_offset == -1
    finally:
        producer.close()
        admin.close()


def grow_with_confluent(broker, topic, count):
    from confluent_kafka.admin import NewPartitions
    admin = admin_client(broker)
    (future,) = admin.create_partitions([NewPartitions(topic, count)], request_timeout=15).values()
    assert future.result(timeout=20) is None


def test_a_subscribed_group_member_picks_up_added_partitions(broker, topic_name):
    """What librdkafka's test 0069 checks: a subscribed consumer rebalances onto partitions added later."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "grow-" + topic,
                  "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 500,
                  "session.timeout.ms": 6000})
    try:
        c.subscribe([topic])
        wait_until(lambda: c.poll(0.2) is None and len(c.assignment()) == 1, 30, "the first assignment")
        grow_with_confluent(broker, topic, 3)
        wait_until(lambda: c.poll(0.2) is None and len(c.assignment()) == 3, 30, "an assignment of 3 partitions")
        produce(broker, topic, ["new-partition"], partition=2)
        got = []
        wait_until(lambda: got.extend(m for m in [c.poll(0.2)] if m is not None and not m.error())
                   or any(m.partition() == 2 for m in got), 30, "the record on partition 2")
        assert [m.value() for m in got if m.partition() == 2] == [b"new-partition"]
    finally:
        c.close()


def test_an_assigned_partition_that_does_not_exist_yet_is_read_once_created(broker, topic_name):
    """What librdkafka's test 0112 checks: assign() to a partition beyond the count, then grow the topic."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "assign-" + topic,
                  "auto.offset.reset": "earliest", "topic.metadata.refresh.interval.ms": 500})
    try:
        c.assign([TopicPartition(topic, 2)])
        early = c.poll(1.0)
        assert early is None or early.error() is not None, "a record from a partition that does not exist"
        grow_with_confluent(broker, topic, 3)
        produce(broker, topic, ["late-partition"], partition=2)
        got = []
        wait_until(lambda: got.extend(m for m in [c.poll(0.2)] if m is not None and not m.error()) or got, 30,
                   "the record on the new partition 2")
        assert [(m.partition(), m.value()) for m in got] == [(2, b"late-partition")]
    finally:
        c.close()
