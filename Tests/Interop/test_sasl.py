"""SASL on a SASL_PLAINTEXT listener (issue #15): PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 through kcat,
confluent-kafka, kafka-python, aiokafka and `skein`; users bootstrapped offline and added through
AlterUserScramCredentials; refusals (wrong password, unknown mechanism, requests before login) answered quickly
and closed, repeated failures delayed and counted, and no password in skeind's log."""
import asyncio
import os
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Skeind, free_port, metric_sample, skeind_path, wait_until
import kafkawire

ADMIN, ADMIN_PW = "admin", "admin-Pw-7f3a9c"
ALICE, ALICE_PW = "alice", "alice-Pw-b81e22"
MECHANISMS = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


def skein_bin() -> Path:
    return skeind_path().parent / "skein"


def skein(*args: str, env: dict | None = None, input: bytes | None = None, check: bool = True):
    res = subprocess.run([str(skein_bin()), *args], capture_output=True, timeout=60, input=input,
                         env=dict(os.environ, **(env or {})))
    if check:
        assert res.returncode == 0, "skein %s exited %d:\n%s" % (" ".join(args), res.returncode, res.stderr.decode())
    return res


@pytest.fixture(scope="module")
def sasl_broker(work_dir):
    base = Path(tempfile.mkdtemp(prefix="sasl-", dir=work_dir))
    port = free_port()
    data = base / "data"
    data.mkdir()
    # The first user, with the broker not yet running (nobody could log in to add one).
    pw_file = base / "admin.pw"
    pw_file.write_text(ADMIN_PW + "\n")
    skein("users", "add", ADMIN, "--data-dir", str(data), "--password-file", str(pw_file))
    b = Skeind(data, base, port=port, settings={
        "listeners": "SASL_PLAINTEXT://127.0.0.1:%d" % port,
        "connection.failed.authentication.delay.ms": "100",
        "connection.failed.authentication.delay.max.ms": "800",
    }).start()
    b.admin_env = {"SKEIN_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SKEIN_SASL_USERNAME": ADMIN,
                   "SKEIN_SASL_PASSWORD": ADMIN_PW, "SKEIN_BOOTSTRAP": b.bootstrap}
    # A second user through AlterUserScramCredentials, the password salted by the client (kafka-configs' way).
    skein("users", "add", ALICE, "--password", ALICE_PW, env=b.admin_env)
    yield b
    alive = b.alive()
    code = b.terminate()
    assert alive and code == 0, b.log_tail()
    log = "\n".join(p.read_text(errors="replace") for p in base.glob("skeind-*.stderr"))
    for secret in (ADMIN_PW, ALICE_PW, "wrong-Pw-0001"):
        assert secret not in log, "a password appears in skeind's log"


def client_conf(broker, mechanism, user=ALICE, password=ALICE_PW) -> dict:
    return {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": mechanism, "sasl.username": user, "sasl.password": password}


def test_users_bootstrapped_offline_and_added_remotely(sasl_broker):
    out = skein("users", "list", env=sasl_broker.admin_env).stdout.decode()
    rows = {tuple(line.split()) for line in out.splitlines()[1:]}
    for user in (ADMIN, ALICE):
        assert (user, "SCRAM-SHA-256", "8192") in rows and (user, "SCRAM-SHA-512", "8192") in rows, out
    text = (sasl_broker.data_dir / "scram-credentials.json").read_text()
    assert ADMIN_PW not in text and ALICE_PW not in text
    assert os.stat(sasl_broker.data_dir / "scram-credentials.json").st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kcat(sasl_broker, mechanism, topic_name):
    topic_name = topic_name()
    conf = client_conf(sasl_broker, mechanism)
    x = []
    for k in ("security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password"):
        x += ["-X", "%s=%s" % (k, conf[k])]
    base = ["kcat", "-b", sasl_broker.bootstrap, "-X", "socket.timeout.ms=10000", *x]
    res = subprocess.run(base + ["-P", "-t", topic_name], input=b"one\ntwo\n", capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    res = subprocess.run(base + ["-C", "-q", "-t", topic_name, "-o", "beginning", "-e", "-f", "%s\n"],
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout.decode().split() == ["one", "two"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_confluent_kafka(sasl_broker, mechanism, topic_name):
    topic_name = topic_name()
    from confluent_kafka import Consumer, Producer
    p = Producer(client_conf(sasl_broker, mechanism))
    for i in range(3):
        p.produce(topic_name, value=b"v%d" % i)
    assert p.flush(20) == 0
    c = Consumer(dict(client_conf(sasl_broker, mechanism), **{"group.id": "g-" + topic_name,
                                                             "auto.offset.reset": "earliest"}))
    c.subscribe([topic_name])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [b"v0", b"v1", b"v2"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kafka_python(sasl_broker, mechanism, topic_name):
    topic_name = topic_name()
    from kafka import KafkaConsumer, KafkaProducer
    kw = dict(bootstrap_servers=sasl_broker.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
              sasl_plain_username=ALICE, sasl_plain_password=ALICE_PW)
    p = KafkaProducer(**kw)
    for i in range(3):
        p.send(topic_name, b"k%d" % i).get(timeout=20)
    p.close()
    c = KafkaConsumer(topic_name, auto_offset_reset="earliest", consumer_timeout_ms=5000, **kw)
    got = [m.value for m in c]
    c.close()
    assert got == [b"k0", b"k1", b"k2"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_aiokafka(sasl_broker, mechanism, topic_name):
    topic_name = topic_name()
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    kw = dict(bootstrap_servers=sasl_broker.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
              sasl_plain_username=ALICE, sasl_plain_password=ALICE_PW)

    async def run():
        p = AIOKafkaProducer(**kw)
        await p.start()
        try:
            for i in range(3):
                await p.send_and_wait(topic_name, b"a%d" % i)
        finally:
            await p.stop()
        c = AIOKafkaConsumer(topic_name, auto_offset_reset="earliest", **kw)
        await c.start()
        got = []
        try:
            async with asyncio.timeout(30):
                while len(got) < 3:
                    batch = await c.getmany(timeout_ms=500)
                    for msgs in batch.values():
                        got += [m.value for m in msgs]
        finally:
            await c.stop()
        return got

    assert asyncio.run(run()) == [b"a0", b"a1", b"a2"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_skein_produce_and_consume(sasl_broker, mechanism, topic_name):
    topic_name = topic_name()
    env = dict(sasl_broker.admin_env, SKEIN_SASL_MECHANISM=mechanism, SKEIN_SASL_USERNAME=ALICE,
               SKEIN_SASL_PASSWORD=ALICE_PW)
    skein("produce", "-t", topic_name, input=b"s1\ns2\n", env=env)
    out = skein("consume", "-t", topic_name, "-n", "2", env=env).stdout.decode()
    assert out.split() == ["s1", "s2"]


# --------------------------------------------------------------------------------------------- refusals

def handshake(conn, mechanism: str, correlation: int = 1) -> tuple[int, list[str]]:
    body = kafkawire.request_header_v1(17, 1, correlation) + kafkawire.kstring(mechanism)
    resp = conn.roundtrip(body)
    (corr, err, n) = struct.unpack(">ihi", resp[:10])
    assert corr == correlation
    names, pos = [], 10
    for _ in range(n):
        (size,) = struct.unpack(">h", resp[pos:pos + 2])
        names.append(resp[pos + 2:pos + 2 + size].decode())
        pos += 2 + size
    return err, names


def authenticate_v0(conn, token: bytes, correlation: int = 2) -> tuple[int, str | None, float]:
    body = kafkawire.request_header_v1(36, 0, correlation) + struct.pack(">i", len(token)) + token
    started = time.monotonic()
    resp = conn.roundtrip(body, timeout=15)
    elapsed = time.monotonic() - started
    (corr, err, size) = struct.unpack(">ihh", resp[:8])
    assert corr == correlation
    message = resp[8:8 + size].decode() if size >= 0 else None
    return err, message, elapsed


def test_wrong_password_fails_quickly_and_closes(sasl_broker):
    before = metric_sample(sasl_broker, 'skein_sasl_authentications_total{mechanism="PLAIN",result="failure"}') \
        if _has_metric(sasl_broker, "PLAIN", "failure") else 0
    delays = []
    for attempt in range(4):
        with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
            assert handshake(conn, "PLAIN")[0] == 0
            err, message, elapsed = authenticate_v0(conn, b"\0" + ALICE.encode() + b"\0wrong-Pw-0001")
            assert err == 58, (err, message)  # SASL_AUTHENTICATION_FAILED
            assert message and "wrong-Pw" not in message
            conn.wait_closed(5)
            delays.append(elapsed)
    # 100, 200, 400, 800 ms (capped at 800): quick, yet growing.
    assert delays[0] < 2.0 and delays[-1] >= 0.7 and delays[-1] < 3.0, delays
    assert delays[2] > delays[0], delays
    after = metric_sample(sasl_broker, 'skein_sasl_authentications_total{mechanism="PLAIN",result="failure"}')
    assert after - before >= 4
    assert metric_sample(sasl_broker, 'skein_sasl_authentication_failures_total{reason="bad_credentials"}') >= 4


def _has_metric(broker, mechanism, result) -> bool:
    try:
        metric_sample(broker, 'skein_sasl_authentications_total{mechanism="%s",result="%s"}' % (mechanism, result))
        return True
    except AssertionError:
        return False


def test_wrong_scram_password_through_kcat(sasl_broker, topic_name):
    topic_name = topic_name()
    started = time.monotonic()
    res = subprocess.run(["kcat", "-b", sasl_broker.bootstrap, "-L", "-m", "5", "-X", "security.protocol=SASL_PLAINTEXT",
                          "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=" + ALICE,
                          "-X", "sasl.password=wrong-Pw-0001"], capture_output=True, timeout=30)
    assert res.returncode != 0
    assert b"Authentication failed" in res.stderr or b"SASL authentication error" in res.stderr, res.stderr
    assert time.monotonic() - started < 15


def test_unknown_mechanism_lists_the_enabled_ones(sasl_broker):
    with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
        err, names = handshake(conn, "GSSAPI")
        assert err == 33  # UNSUPPORTED_SASL_MECHANISM
        assert names == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        conn.wait_closed(5)


def test_requests_before_login_close_the_connection(sasl_broker):
    before = metric_sample(sasl_broker, 'skein_connections_closed_by_broker_total{reason="unauthenticated_request"}') \
        if "unauthenticated_request" in _metrics(sasl_broker) else 0
    with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
        # Metadata v1, all topics.
        conn.send(kafkawire.frame(kafkawire.request_header_v1(3, 1, 5) + struct.pack(">i", -1)))
        assert conn.wait_closed(5) == b""
    with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
        # A half-done login does not count: handshake, then Metadata.
        assert handshake(conn, "SCRAM-SHA-256")[0] == 0
        conn.send(kafkawire.frame(kafkawire.request_header_v1(3, 1, 6) + struct.pack(">i", -1)))
        assert conn.wait_closed(5) == b""
    after = metric_sample(sasl_broker, 'skein_connections_closed_by_broker_total{reason="unauthenticated_request"}')
    assert after - before == 2


def test_authenticate_without_handshake_is_refused(sasl_broker):
    with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
        err, _, _ = authenticate_v0(conn, b"\0a\0b")
        assert err == 34  # ILLEGAL_SASL_STATE
        conn.wait_closed(5)


def test_deleted_user_cannot_log_in(sasl_broker, topic_name):
    topic_name = topic_name()
    env = sasl_broker.admin_env
    skein("users", "add", "carol", "--password", "carol-Pw-1", "--mechanism", "SCRAM-SHA-256", env=env)
    from confluent_kafka.admin import AdminClient
    ok = AdminClient(client_conf(sasl_broker, "SCRAM-SHA-256", "carol", "carol-Pw-1")).list_topics(timeout=10)
    assert ok.brokers
    skein("users", "delete", "carol", env=env)
    res = skein("users", "delete", "carol", env=env, check=False)
    assert res.returncode == 2, res.stderr
    with kafkawire.Conn(sasl_broker.host, sasl_broker.port) as conn:
        assert handshake(conn, "PLAIN")[0] == 0
        err, _, _ = authenticate_v0(conn, b"\0carol\0carol-Pw-1")
        assert err == 58


def _metrics(broker) -> str:
    import urllib.request
    with urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=10) as r:
        return r.read().decode()
