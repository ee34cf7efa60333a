"""ACLs through real admin clients, without SASL (every connection is User:ANONYMOUS): kafka-python's and
confluent-kafka's create/describe/delete ACLs, SECURITY_DISABLED without an authorizer, ACLs kept across a
restart, and a change that reaches a producer whose connection is already open. The per-principal matrix
with SASL users is test_acl_matrix.py."""

import json
import re
import urllib.request

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType,
                                   ResourcePatternType, ResourceType)

from conftest import admin_client, create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the mock has no authorizer")

AUTHORIZER = {"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"}


def kp_admin(broker):
    from kafka.admin import KafkaAdminClient
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)


def kp_filter(resource_type=None, name=None, pattern=None, principal=None):
    from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePatternFilter
    from kafka.admin import ResourceType as KpResourceType
    return ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                     permission_type=ACLPermissionType.ANY,
                     resource_pattern=ResourcePatternFilter(resource_type or KpResourceType.ANY, name,
                                                            pattern or ACLResourcePatternType.ANY))


def binding(name, operation, permission=AclPermissionType.ALLOW, principal="User:ANONYMOUS",
            restype=ResourceType.TOPIC, pattern=ResourcePatternType.LITERAL):
    return AclBinding(restype, name, pattern, principal, "*", operation, permission)


def any_filter(**kw):
    args = dict(restype=ResourceType.ANY, name=None, resource_pattern_type=ResourcePatternType.ANY, principal=None,
                host=None, operation=AclOperation.ANY, permission_type=AclPermissionType.ANY)
    args.update(kw)
    return AclBindingFilter(args["restype"], args["name"], args["resource_pattern_type"], args["principal"],
                            args["host"], args["operation"], args["permission_type"])


def create(admin, bindings):
    for future in admin.create_acls(bindings, request_timeout=15).values():
        assert future.result(timeout=20) is None


def delete(admin, filters):
    deleted = []
    for future in admin.delete_acls(filters, request_timeout=15).values():
        deleted += future.result(timeout=20)
    return deleted


def denied_total(broker):
    with urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(m) for m in re.findall(
        r'^skein_authorization_denied_total\{operation="WRITE",resource_type="TOPIC"\} (\S+)$', text, re.M))


def test_acl_apis_with_both_admin_clients_survive_a_restart(skeind_factory):
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import InvalidRequestError
    b = skeind_factory.new(settings=dict(AUTHORIZER, **{"super.users": "User:ANONYMOUS"})).start()
    kp = kp_admin(b)
    try:
        created = kp.create_acls([
            ACL("User:alice", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                ResourcePattern(KpResourceType.TOPIC, "billing", ACLResourcePatternType.LITERAL)),
            ACL("User:bob", "10.1.2.3", ACLOperation.WRITE, ACLPermissionType.ALLOW,
                ResourcePattern(KpResourceType.TOPIC, "logs-", ACLResourcePatternType.PREFIXED)),
            ACL("User:*", "*", ACLOperation.ALTER, ACLPermissionType.DENY,
                ResourcePattern(KpResourceType.CLUSTER, "kafka-cluster", ACLResourcePatternType.LITERAL)),
            ACL("alice", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
                ResourcePattern(KpResourceType.TOPIC, "t", ACLResourcePatternType.LITERAL)),
        ])
        assert len(created["succeeded"]) == 3
        assert created["failed"] == [InvalidRequestError]
        acls, _ = kp.describe_acls(kp_filter())
        assert len(acls) == 3

        admin = admin_client(b)
        # MATCH: what applies to logs-web is bob's prefixed ACL only.
        matched = admin.describe_acls(
            any_filter(restype=ResourceType.TOPIC, name="logs-web", resource_pattern_type=ResourcePatternType.MATCH),
            request_timeout=15).result(timeout=20)
        assert [(a.name, a.resource_pattern_type, a.principal, a.host, a.operation) for a in matched] == [
            ("logs-", ResourcePatternType.PREFIXED, "User:bob", "10.1.2.3", AclOperation.WRITE)]
        assert broker_config(admin, "authorizer.class.name") == AUTHORIZER["authorizer.class.name"]
        removed = delete(admin, [any_filter(principal="User:alice")])
        assert [(a.name, a.operation) for a in removed] == [("billing", AclOperation.READ)]
    finally:
        kp.close()

    assert b.terminate() == 0
    b.start()
    kp = kp_admin(b)
    try:
        acls, _ = kp.describe_acls(kp_filter())
        assert sorted((a.resource_pattern.resource_name, a.principal) for a in acls) == [
            ("kafka-cluster", "User:*"), ("logs-", "User:bob")]
    finally:
        kp.close()
    stored = json.loads((b.data_dir / "acls.json").read_text())
    assert sorted(a["principal"] for a in stored) == ["User:*", "User:bob"]


def test_without_an_authorizer_the_acl_apis_answer_security_disabled(skeind_factory):
    from kafka.errors import SecurityDisabledError
    b = skeind_factory.new().start()
    kp = kp_admin(b)
    try:
        with pytest.raises(SecurityDisabledError):
            kp.describe_acls(kp_filter())
    finally:
        kp.close()
    admin = admin_client(b)
    with pytest.raises(KafkaException) as refused:
        create(admin, [binding("t", AclOperation.READ)])
    assert refused.value.args[0].code() == KafkaError.SECURITY_DISABLED
    # librdkafka drops DescribeAcls' error code (an empty list comes back); tools that must tell "no
    # authorizer" from "no ACLs" read the broker's authorizer.class.name, as with Kafka.
    assert admin.describe_acls(any_filter(), request_timeout=15).result(timeout=20) == []
    assert broker_config(admin, "authorizer.class.name") == ""


def broker_config(admin, name):
    from confluent_kafka.admin import ConfigResource
    (future,) = admin.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "0")],
                                       request_timeout=15).values()
    return future.result(timeout=20)[name].value


def test_a_change_reaches_an_open_producer_and_metadata_hides_what_may_not_be_described(skeind_factory, topic_name):
    # Until its first ACL a resource allows everyone, so ANONYMOUS can manage ACLs on the cluster resource.
    b = skeind_factory.new(settings=dict(AUTHORIZER, **{"allow.everyone.if.no.acl.found": "true"})).start()
    shown, hidden = topic_name("shown"), topic_name("hidden")
    create_topic(b, shown)
    create_topic(b, hidden)
    admin = admin_client(b)
    results = []
    # librdkafka remembers a topic's authorization failure until its next metadata refresh: refresh often.
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "retries": 0,
                  "topic.metadata.refresh.interval.ms": 500})

    def send(topic):
        results.clear()
        p.produce(topic, b"x", on_delivery=lambda err, msg: results.append(err))
        assert p.flush(20) == 0
        return results[0]

    assert send(shown) is None
    before = denied_total(b)
    # ALLOW ALL and DENY WRITE for everyone: DENY wins for WRITE. (Once a resource has any ACL the
    # no-ACL default no longer applies to it, as in Kafka, hence the ALLOW.)
    create(admin, [binding(shown, AclOperation.ALL, principal="User:*"),
                   binding(shown, AclOperation.WRITE, AclPermissionType.DENY, principal="User:*")])
    # The producer's connection was open before the ACL: its next request is refused.
    err = send(shown)
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert denied_total(b) >= before + 1
    # DENY WRITE does not hide the topic; DENY DESCRIBE does, from a listing, while other topics stay.
    assert shown in admin.list_topics(timeout=10).topics
    create(admin, [binding(hidden, AclOperation.DESCRIBE, AclPermissionType.DENY)])
    wait_until(lambda: hidden not in admin.list_topics(timeout=10).topics, 10, "%s left out of Metadata" % hidden)
    assert shown in admin.list_topics(timeout=10).topics
    named = admin.list_topics(topic=hidden, timeout=10).topics[hidden]
    assert named.error is not None and named.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED

    removed = delete(admin, [any_filter(permission_type=AclPermissionType.DENY)])
    assert sorted(a.name for a in removed) == sorted([shown, hidden])
    assert all(a.permission_type == AclPermissionType.DENY for a in removed)

    def sends():
        try:
            return send(shown) is None
        except KafkaException:
            return False

    wait_until(sends, 15, "the same producer writing again once the DENY is gone")
    assert hidden in admin.list_topics(timeout=10).topics
