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

from conftest import HOST, Skeind, free_port, metric_sample, skeind_path, wait_until
from tlscerts import Certs
import kafkawire

pytestmark = pytest.mark.skeind_only("SASL listeners are skeind's")

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


class SASLSkeind(Skeind):
    """skeind with two listeners: SASL_PLAINTEXT (the harness's port) and SASL_SSL (certificates from a
    throwaway CA)."""

    def __init__(self, base: Path, certs: Certs):
        self.ssl_port = free_port()
        super().__init__(base / "data", base, settings={
            "ssl.certificate.location": str(certs.server), "ssl.key.location": str(certs.key("server")),
            "connection.failed.authentication.delay.ms": "100",
            "connection.failed.authentication.delay.max.ms": "800",
        })

    def command(self) -> list[str]:
        cmd = super().command()
        at = cmd.index("--listen")
        del cmd[at:at + 2]
        return cmd + ["--set", "listeners=SASL_PLAINTEXT://%s:%d,SASL_SSL://%s:%d" % (
            HOST, self.port, HOST, self.ssl_port)]

    @property
    def ssl_bootstrap(self) -> str:
        return "%s:%d" % (HOST, self.ssl_port)


def command_config(path: Path, user: str, password: str, mechanism: str = "SCRAM-SHA-512",
                   ca: Path | None = None) -> Path:
    """A client properties file, as `skein --command-config` (and Kafka's tools) take it."""
    text = "security.protocol=%s\nsasl.mechanism=%s\nsasl.username=%s\nsasl.password=%s\n" % (
        "SASL_SSL" if ca else "SASL_PLAINTEXT", mechanism, user, password)
    if ca:
        text += "ssl.ca.location=%s\n" % ca
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def sasl_broker(work_dir, certs):
    base = Path(tempfile.mkdtemp(prefix="sasl-", dir=work_dir))
    b = SASLSkeind(base, certs)
    b.data_dir.mkdir(parents=True)
    # The first user, with the broker not yet running (nobody could log in to add one).
    pw_file = base / "admin.pw"
    pw_file.write_text(ADMIN_PW + "\n")
    skein("users", "add", ADMIN, "--data-dir", str(b.data_dir), "--password-file", str(pw_file))
    b.start()
    b.admin_env = {"SKEIN_BOOTSTRAP": b.bootstrap,
                   "SKEIN_COMMAND_CONFIG": str(command_config(base / "admin.properties", ADMIN, ADMIN_PW))}
    b.base = base
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
    config = command_config(sasl_broker.base / ("alice-%s.properties" % mechanism), ALICE, ALICE_PW, mechanism)
    env = dict(sasl_broker.admin_env, SKEIN_COMMAND_CONFIG=str(config))
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


def test_kafka_python_admin_alters_and_describes_scram_users(sasl_broker):
    from kafka.admin import KafkaAdminClient, ScramMechanism, UserScramCredentialDeletion, \
        UserScramCredentialUpsertion
    admin = KafkaAdminClient(bootstrap_servers=sasl_broker.bootstrap, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=ADMIN,
                             sasl_plain_password=ADMIN_PW)
    try:
        result = admin.alter_user_scram_credentials([
            UserScramCredentialUpsertion("dave", ScramMechanism.SCRAM_SHA_256, "dave-Pw-9", iterations=4096),
            UserScramCredentialUpsertion("erin", ScramMechanism.SCRAM_SHA_512, "erin-Pw-9", iterations=1000),
        ])
        assert result["dave"] is None, result
        assert result["erin"] and "iterations" in str(result["erin"]).lower(), result  # UNACCEPTABLE_CREDENTIAL
        described = admin.describe_user_scram_credentials(["dave", "nobody"])
        assert described["dave"]["error"] is None
        assert [(c["mechanism"], c["iterations"]) for c in described["dave"]["credential_infos"]] == \
            [(ScramMechanism.SCRAM_SHA_256, 4096)]
        assert described["nobody"]["error"]  # RESOURCE_NOT_FOUND
        # The client salted the password; dave logs in with it.
        from confluent_kafka.admin import AdminClient
        assert AdminClient(client_conf(sasl_broker, "SCRAM-SHA-256", "dave", "dave-Pw-9")).list_topics(timeout=10).brokers
        result = admin.alter_user_scram_credentials([UserScramCredentialDeletion("dave", ScramMechanism.SCRAM_SHA_256)])
        assert result["dave"] is None
        assert "dave" not in admin.describe_user_scram_credentials()
    finally:
        admin.close()


RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imtcp")
module(load="omkafka")
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="ship")
template(name="msgonly" type="string" string="%msg:2:$%")
ruleset(name="ship") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="msgonly"
         confParam=["security.protocol=SASL_PLAINTEXT", "sasl.mechanisms=SCRAM-SHA-512",
                    "sasl.username={user}", "sasl.password={password}", "linger.ms=50", "acks=all"])
}}
"""


def test_rsyslog_omkafka_over_scram(sasl_broker, work_dir, topic_name):
    import shutil
    import signal
    import socket
    rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(rsyslogd):
        pytest.skip("rsyslogd is not installed")
    topic = topic_name()
    d = Path(tempfile.mkdtemp(prefix="rsyslog-", dir=work_dir))
    port = free_port()
    conf = d / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=d, port=port, bootstrap=sasl_broker.bootstrap, topic=topic,
                                        user=ALICE, password=ALICE_PW))
    with open(d / "rsyslogd.log", "wb") as log:
        proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(d / "rsyslogd.pid")], stdout=log,
                                stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def accepting():
            assert proc.poll() is None, (d / "rsyslogd.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(accepting, 20, "rsyslogd to listen")
        with socket.create_connection(("127.0.0.1", port)) as s:
            for i in range(5):
                s.sendall(b"<134>Dec  5 07:00:00 host app: line-%d\n" % i)
        from confluent_kafka import Consumer
        c = Consumer(dict(client_conf(sasl_broker, "SCRAM-SHA-512"), **{"group.id": "g-" + topic,
                                                                     "auto.offset.reset": "earliest"}))
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value().decode().strip())
        c.close()
        assert got == ["line-%d" % i for i in range(5)], (got, (d / "rsyslogd.log").read_text())
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # by pid: only the rsyslogd this test started
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_agent_ships_over_scram(sasl_broker, agent_factory, work_dir, topic_name):
    import json
    topic = topic_name()
    d = Path(tempfile.mkdtemp(prefix="agent-sasl-", dir=work_dir))
    log = d / "app.log"
    log.write_text("".join("agent-line-%d\n" % i for i in range(5)))
    pw = d / "pw"
    pw.write_text(ALICE_PW + "\n")
    pw.chmod(0o600)
    agent = agent_factory.new(sasl_broker.bootstrap, topic, {"app": {"paths": [str(log)]}}, delivery={
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": ALICE,
        "sasl.password.file": str(pw)})
    agent.start()
    try:
        from confluent_kafka import Consumer
        c = Consumer(dict(client_conf(sasl_broker, "SCRAM-SHA-512"), **{"group.id": "g-" + topic,
                                                                     "auto.offset.reset": "earliest"}))
        c.subscribe([topic])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < 5 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None and m.value():
                record = json.loads(m.value())
                if record.get("message", "").startswith("agent-line-"):
                    got.append(record["message"])
        c.close()
        assert got == ["agent-line-%d" % i for i in range(5)], agent.log_tail()
        assert ALICE_PW not in agent.log()
    finally:
        agent.terminate()


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_ssl_with_every_client(sasl_broker, certs, mechanism, topic_name):
    """SASL over TLS: kcat, confluent-kafka, kafka-python, aiokafka and skein on the SASL_SSL listener."""
    topic = topic_name()
    conf = dict(client_conf(sasl_broker, mechanism), **{"bootstrap.servers": sasl_broker.ssl_bootstrap,
                                                        "security.protocol": "SASL_SSL",
                                                        "ssl.ca.location": str(certs.ca)})
    x = []
    for k in ("security.protocol", "sasl.mechanisms", "sasl.username", "sasl.password", "ssl.ca.location"):
        x += ["-X", "%s=%s" % (k, conf[k])]
    res = subprocess.run(["kcat", "-b", sasl_broker.ssl_bootstrap, *x, "-P", "-t", topic], input=b"k1\n",
                         capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode()
    from confluent_kafka import Producer
    p = Producer(conf)
    p.produce(topic, value=b"c1")
    assert p.flush(20) == 0
    import ssl
    from kafka import KafkaProducer
    context = ssl.create_default_context(cafile=str(certs.ca))
    kp = KafkaProducer(bootstrap_servers=sasl_broker.ssl_bootstrap, security_protocol="SASL_SSL",
                       ssl_context=context, sasl_mechanism=mechanism, sasl_plain_username=ALICE,
                       sasl_plain_password=ALICE_PW)
    kp.send(topic, b"p1").get(timeout=20)
    kp.close()
    from aiokafka import AIOKafkaProducer

    async def aio():
        ap = AIOKafkaProducer(bootstrap_servers=sasl_broker.ssl_bootstrap, security_protocol="SASL_SSL",
                              ssl_context=context, sasl_mechanism=mechanism, sasl_plain_username=ALICE,
                              sasl_plain_password=ALICE_PW)
        await ap.start()
        try:
            await ap.send_and_wait(topic, b"a1")
        finally:
            await ap.stop()

    asyncio.run(aio())
    config = command_config(sasl_broker.base / ("alice-ssl-%s.properties" % mechanism), ALICE, ALICE_PW, mechanism,
                            ca=certs.ca)
    env = {"SKEIN_BOOTSTRAP": sasl_broker.ssl_bootstrap, "SKEIN_COMMAND_CONFIG": str(config)}
    skein("produce", "-t", topic, input=b"s1\n", env=env)
    out = skein("consume", "-t", topic, env=env).stdout.decode()
    assert sorted(out.split()) == ["a1", "c1", "k1", "p1", "s1"]
