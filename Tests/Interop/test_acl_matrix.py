"""The ACL matrix of issue #15: for each operation, one principal the ACLs allow (alice) and one they do not
(mallory), through real clients (confluent-kafka and kafka-python) logged in with SASL PLAIN on a
SASL_PLAINTEXT listener. The administrator is a super user; users are made offline with `skein users add`
before the broker starts. Each row checks that alice's call works and that mallory's is refused with Kafka's
error code, or (for listings) leaves out what she may not describe."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AdminClient, AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   ConfigResource, NewPartitions, NewTopic, ResourcePatternType, ResourceType)

from conftest import HOST, Skeind, skeind_path, wait_until

pytestmark = pytest.mark.skeind_only("the mock has no authorizer or SASL users")

USERS = {"admin": "admin-Pw-31c9", "alice": "alice-Pw-77d1", "mallory": "mallory-Pw-0e4b"}
TOPIC = "m-orders"
DENIED_TOPIC = "m-deny"
SECRET_TOPIC = "m-secret"
GROUP = "m-group"
TXN = "m-tx"


def skein(*args, env=None, check=True):
    res = subprocess.run([str(skeind_path().parent / "skein"), *args], capture_output=True, timeout=60,
                         env=dict(os.environ, **(env or {})))
    if check:
        assert res.returncode == 0, "skein %s: %s" % (" ".join(args), res.stderr.decode())
    return res


def conf(broker, user, **extra):
    c = {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
         "sasl.username": user, "sasl.password": USERS[user], "socket.timeout.ms": 10000}
    c.update(extra)
    return c


def kp_admin(broker, user):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username=user, sasl_plain_password=USERS[user],
                            request_timeout_ms=15000)


def acl(restype, name, operation, principal="User:alice", permission=AclPermissionType.ALLOW,
        pattern=ResourcePatternType.LITERAL):
    return AclBinding(restype, name, pattern, principal, "*", operation, permission)


def code_of(excinfo):
    err = excinfo.value.args[0]
    return err.code() if hasattr(err, "code") else err


class SASLSkeind(Skeind):
    """skeind whose one listener (the harness's port) is SASL_PLAINTEXT."""

    def command(self) -> list[str]:
        cmd = super().command()
        at = cmd.index("--listen")
        del cmd[at:at + 2]
        return cmd + ["--set", "listeners=SASL_PLAINTEXT://%s:%d" % (HOST, self.port)]


@pytest.fixture(scope="module")
def matrix(work_dir):
    base = Path(tempfile.mkdtemp(prefix="acl-matrix-", dir=work_dir))
    data = base / "data"
    data.mkdir()
    for user, password in USERS.items():
        pw = base / (user + ".pw")
        pw.write_text(password + "\n")
        skein("users", "add", user, "--data-dir", str(data), "--password-file", str(pw))
    b = SASLSkeind(data, base, settings={
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin",
    }).start()
    admin = AdminClient(conf(b, "admin"))
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in (TOPIC, DENIED_TOPIC, SECRET_TOPIC)],
                                      request_timeout=15).values():
        future.result(timeout=20)
    grants = [
        # alice: everything on topics starting with m- ...
        *[acl(ResourceType.TOPIC, "m-", op, pattern=ResourcePatternType.PREFIXED)
          for op in (AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DELETE,
                     AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS)],
        # ... her group, her transactional id, and the ACL APIs on the cluster.
        *[acl(ResourceType.GROUP, GROUP, op) for op in (AclOperation.READ, AclOperation.DELETE)],
        acl(ResourceType.TRANSACTIONAL_ID, TXN, AclOperation.WRITE),
        *[acl(ResourceType.BROKER, "kafka-cluster", op)
          for op in (AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.IDEMPOTENT_WRITE)],
        # Any consumer group named unused-*, for the group-less reads below (librdkafka still looks it up).
        *[acl(ResourceType.GROUP, "unused-", op, principal="User:*", pattern=ResourcePatternType.PREFIXED)
          for op in (AclOperation.READ, AclOperation.DESCRIBE)],
        # mallory may see m-orders (so her clients get as far as Produce and Fetch), nothing more.
        acl(ResourceType.TOPIC, TOPIC, AclOperation.DESCRIBE, principal="User:mallory"),
        # Everyone may read m-deny, but mallory is denied: DENY wins.
        acl(ResourceType.TOPIC, DENIED_TOPIC, AclOperation.READ, principal="User:*"),
        acl(ResourceType.TOPIC, DENIED_TOPIC, AclOperation.READ, principal="User:mallory",
            permission=AclPermissionType.DENY),
    ]
    for future in admin.create_acls(grants, request_timeout=15).values():
        assert future.result(timeout=20) is None
    p = Producer(conf(b, "admin", acks="all"))
    for topic in (TOPIC, DENIED_TOPIC):
        p.produce(topic, b"seed")
    assert p.flush(20) == 0
    yield b
    alive = b.alive()
    assert alive and b.terminate() == 0, b.log_tail()


def produce(broker, user, topic, **extra):
    """None when delivered, else the Kafka error code of the refusal."""
    errors = []
    settings = dict({"acks": "all", "retries": 0, "message.timeout.ms": 15000}, **extra)
    if settings.get("enable.idempotence"):
        del settings["retries"]  # librdkafka wants retries with idempotence
    p = Producer(conf(broker, user, **settings))
    try:
        p.produce(topic, b"v", on_delivery=lambda err, msg: errors.append(err))
    except KafkaException as e:
        return e.args[0].code()
    assert p.flush(20) == 0
    return None if errors[0] is None else errors[0].code()


def test_write_on_a_topic(matrix):
    assert produce(matrix, "alice", TOPIC) is None
    assert produce(matrix, "mallory", TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def read(broker, user, topic):
    """The values of partition 0 read without a group (confluent-kafka, assign), or the error code."""
    from confluent_kafka import TopicPartition
    errors = []
    c = Consumer(conf(broker, user, **{"group.id": "unused-" + user, "enable.auto.commit": False,
                                       "error_cb": lambda e: errors.append(e)}))
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        values = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                if values:
                    return values
                # A topic the principal may not even describe fails in Metadata, which librdkafka reports
                # through the error callback rather than as a message.
                refused = [e.code() for e in errors if e.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED]
                if refused:
                    return refused[0]
                continue
            if m.error() is not None:
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return values
                return m.error().code()
            values.append(m.value())
        return values
    finally:
        c.close()


def test_read_on_a_topic_and_deny_wins(matrix):
    assert b"seed" in read(matrix, "alice", TOPIC)
    assert read(matrix, "mallory", TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # m-deny: User:* may read, mallory is denied.
    assert read(matrix, "alice", DENIED_TOPIC) == [b"seed"]
    assert read(matrix, "mallory", DENIED_TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_describe_on_topics_filters_metadata(matrix):
    alice = AdminClient(conf(matrix, "alice")).list_topics(timeout=10).topics
    mallory_admin = AdminClient(conf(matrix, "mallory"))
    mallory = mallory_admin.list_topics(timeout=10).topics
    assert {TOPIC, DENIED_TOPIC, SECRET_TOPIC} <= set(alice)
    # READ on m-deny (User:*) implies DESCRIBE for mallory too; a DENY on READ does not hide it.
    assert TOPIC in mallory and DENIED_TOPIC in mallory and SECRET_TOPIC not in mallory
    named = mallory_admin.list_topics(topic=SECRET_TOPIC, timeout=10).topics[SECRET_TOPIC]
    assert named.error is not None and named.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def admin_call(broker, user, call):
    """Runs call(AdminClient) and returns None or the error code of the first failed future."""
    admin = AdminClient(conf(broker, user))  # kept: a destroyed client fails its futures with _DESTROY
    futures = call(admin)
    try:
        for future in (futures.values() if isinstance(futures, dict) else [futures]):
            future.result(timeout=20)
    except KafkaException as e:
        return e.args[0].code()
    return None


def test_create_delete_and_alter_on_topics(matrix):
    def create(name):
        return lambda a: a.create_topics([NewTopic(name, 1, 1)], request_timeout=15)

    assert admin_call(matrix, "alice", create("m-created")) is None
    assert admin_call(matrix, "mallory", create("m-by-mallory")) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    grow = lambda a: a.create_partitions([NewPartitions("m-created", 2)], request_timeout=15)
    assert admin_call(matrix, "mallory", grow) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert admin_call(matrix, "alice", grow) is None
    remove = lambda a: a.delete_topics(["m-created"], request_timeout=15)
    assert admin_call(matrix, "mallory", remove) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert admin_call(matrix, "alice", remove) is None


def test_describe_configs_and_alter_configs_on_a_topic(matrix):
    resource = ConfigResource(ConfigResource.Type.TOPIC, TOPIC)
    describe = lambda a: a.describe_configs([resource], request_timeout=15)
    assert admin_call(matrix, "alice", describe) is None
    assert admin_call(matrix, "mallory", describe) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
    change = ConfigResource(ConfigResource.Type.TOPIC, TOPIC, incremental_configs=[
        ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    alter = lambda a: a.incremental_alter_configs([change], request_timeout=15)
    assert admin_call(matrix, "mallory", alter) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert admin_call(matrix, "alice", alter) is None


def test_idempotent_write_on_the_cluster(matrix):
    # alice has IDEMPOTENT_WRITE (and WRITE on m-*); mallory has neither, so InitProducerId is refused.
    assert produce(matrix, "alice", TOPIC, **{"enable.idempotence": True}) is None
    fatal = []
    p = Producer(conf(matrix, "mallory", **{"enable.idempotence": True, "error_cb": lambda e: fatal.append(e)}))
    try:
        p.produce(TOPIC, b"v")
    except KafkaException as e:
        fatal.append(e.args[0])

    def refused():
        try:
            p.poll(0.1)
        except KafkaException as e:
            fatal.append(e.args[0])
        # librdkafka makes the refused InitProducerId a fatal error with the broker's code (through the error
        # callback or poll); a produce after it only says "Local: Fatal error".
        return any(e.fatal() and e.code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED for e in fatal)

    wait_until(refused, 15, "mallory's idempotent producer to be refused with CLUSTER_AUTHORIZATION_FAILED")


def test_write_on_a_transactional_id(matrix):
    def init(user):
        p = Producer(conf(matrix, user, **{"transactional.id": TXN}))
        try:
            p.init_transactions(20)
            p.begin_transaction()
            p.produce(TOPIC, b"in-a-transaction")
            p.commit_transaction(20)
            return None
        except KafkaException as e:
            return e.args[0].code()

    assert init("alice") is None
    assert init("mallory") == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED


def test_read_describe_and_delete_on_a_group(matrix):
    def consume(user):
        errors = []
        c = Consumer(conf(matrix, user, **{"group.id": GROUP, "auto.offset.reset": "earliest",
                                             "error_cb": lambda e: errors.append(e)}))
        c.subscribe([TOPIC])
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error() is not None:
                    return m.error().code()
                c.commit(message=m, asynchronous=False)
                return None
            return errors[0].code() if errors else "timeout"
        finally:
            c.close()

    assert consume("alice") is None
    assert consume("mallory") == KafkaError.GROUP_AUTHORIZATION_FAILED
    describe = lambda a: a.describe_consumer_groups([GROUP], request_timeout=15)
    assert admin_call(matrix, "alice", describe) is None
    assert admin_call(matrix, "mallory", describe) == KafkaError.GROUP_AUTHORIZATION_FAILED
    def listed(user):
        admin = AdminClient(conf(matrix, user))
        return [g.group_id for g in admin.list_consumer_groups(request_timeout=15).result(timeout=20).valid]

    assert GROUP in listed("alice") and GROUP not in listed("mallory")
    delete = lambda a: a.delete_consumer_groups([GROUP], request_timeout=15)
    assert admin_call(matrix, "mallory", delete) == KafkaError.GROUP_AUTHORIZATION_FAILED
    assert admin_call(matrix, "alice", delete) is None


def test_alter_and_describe_on_the_cluster(matrix):
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import ClusterAuthorizationFailedError
    from test_acls import kp_filter
    new = ACL("User:carol", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
              ResourcePattern(KpResourceType.TOPIC, "carol", ACLResourcePatternType.LITERAL))
    for user, allowed in (("alice", True), ("mallory", False)):
        kp = kp_admin(matrix, user)
        try:
            result = kp.create_acls([new])
            assert (len(result["succeeded"]) == 1) == allowed, (user, result)
            if allowed:
                acls, _ = kp.describe_acls(kp_filter())
                assert any(a.principal == "User:carol" for a in acls)
            else:
                assert result["failed"] == [ClusterAuthorizationFailedError]
                with pytest.raises(ClusterAuthorizationFailedError):
                    kp.describe_acls(kp_filter())
        finally:
            kp.close()
    # DescribeCluster answers anyone, as Kafka's brokers do; DESCRIBE decides what operations it reports.
    def cluster_operations(user):
        admin = AdminClient(conf(matrix, user))
        described = admin.describe_cluster(include_authorized_operations=True, request_timeout=15).result(timeout=20)
        return set(described.authorized_operations or [])

    assert {AclOperation.ALTER, AclOperation.DESCRIBE, AclOperation.IDEMPOTENT_WRITE} <= cluster_operations("alice")
    assert cluster_operations("mallory") == set()


def test_a_new_deny_reaches_alices_open_producer(matrix):
    errors = []
    p = Producer(conf(matrix, "alice", acks="all", retries=0))
    p.produce(TOPIC, b"before", on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(20) == 0 and errors == [None]
    admin = AdminClient(conf(matrix, "admin"))
    deny = acl(ResourceType.TOPIC, TOPIC, AclOperation.WRITE, permission=AclPermissionType.DENY)
    for future in admin.create_acls([deny], request_timeout=15).values():
        future.result(timeout=20)
    try:
        p.produce(TOPIC, b"after", on_delivery=lambda err, msg: errors.append(err))
        assert p.flush(20) == 0
        assert errors[1] is not None and errors[1].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    finally:
        flt = AclBindingFilter(ResourceType.TOPIC, TOPIC, ResourcePatternType.LITERAL, "User:alice", None,
                               AclOperation.WRITE, AclPermissionType.DENY)
        for future in admin.delete_acls([flt], request_timeout=15).values():
            assert len(future.result(timeout=20)) == 1


def test_skein_acls_over_sasl(matrix):
    def env(user):
        # Kafka's client properties, as `skein --command-config` and Kafka's tools take them.
        path = matrix.data_dir.parent / ("%s.properties" % user)
        path.write_text("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
                        "sasl.username=%s\nsasl.password=%s\n" % (user, USERS[user]))
        path.chmod(0o600)
        return {"SKEIN_BOOTSTRAP": matrix.bootstrap, "SKEIN_COMMAND_CONFIG": str(path)}

    out = skein("acls", "add", "--allow-principal", "User:dave", "--consumer", "--topic", "dave-",
                "--resource-pattern-type", "prefixed", "--group", "dave", env=env("admin")).stdout.decode()
    assert out.count("User:dave") == 3, out
    listed = skein("acls", "list", "--topic", "dave-logs", "--resource-pattern-type", "match",
                   env=env("alice")).stdout.decode()
    rows = [line.split() for line in listed.splitlines()[1:]]
    assert sorted(r[5] for r in rows) == ["DESCRIBE", "READ"] and all(r[1] == "dave-" for r in rows), listed
    # mallory has no DESCRIBE or ALTER on the cluster.
    refused = skein("acls", "remove", "--topic", "dave-", "--resource-pattern-type", "prefixed",
                    env=env("mallory"), check=False)
    assert refused.returncode == 1 and "clusterAuthorizationFailed" in refused.stderr.decode(), refused.stderr
    out = skein("acls", "remove", "--allow-principal", "User:dave", "--topic", "dave-",
                "--resource-pattern-type", "prefixed", "--operation", "Read", "--operation", "Describe",
                env=env("alice")).stdout.decode()
    assert out.startswith("Removed 2:"), out
    left = skein("acls", "list", "--principal", "User:dave", env=env("admin")).stdout.decode()
    assert [line.split()[:2] for line in left.splitlines()[1:]] == [["GROUP", "dave"]], left
