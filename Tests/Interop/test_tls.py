"""TLS listeners (issue #15) against real clients: Kafka's listener model (named listeners, a custom name
mapped by listener.security.protocol.map, per-listener ssl.* overrides, Metadata answering with the
listener the client came in on); kcat, confluent-kafka, kafka-python and aiokafka producing and consuming
over SSL and with a client certificate (mTLS, the principal from its subject); refusals (a plaintext client
on a TLS listener, no client certificate, an expired or untrusted one) that come quickly and leak no key
material; certificates reloaded when the files change and on SIGHUP; the HTTP listener over TLS with basic
auth, scraped by a real Prometheus; `skein` and skein-agent over TLS. Certificates come from a throwaway CA
that tlscerts.py makes with openssl."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import HOST, Skeind, free_port, kcat, skeind_path, wait_until
from tlscerts import Certs

pytestmark = pytest.mark.skeind_only("TLS listeners are skeind's")

HTTP_USER, HTTP_PASSWORD = "prometheus", "s3cret-scrape-pw"


def pbkdf2_line(user: str, password: str, rounds: int = 1000) -> str:
    """A users-file line in passlib's $pbkdf2-sha256$ form, made with hashlib as README shows."""
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    ab64 = lambda b: base64.b64encode(b).decode().rstrip("=").replace("+", ".")
    return "%s:$pbkdf2-sha256$%d$%s$%s\n" % (user, rounds, ab64(salt), ab64(digest))


class TLSSkeind(Skeind):
    """skeind with three listeners: PLAINTEXT (the harness's port), SSL, and MTLS (a custom name mapped to
    SSL, with ssl.client.auth=required as a per-listener override); its HTTP listener serves TLS with
    basic auth. Logs at debug level, where each TLS connection's principal is written."""

    def __init__(self, base: Path, certs: Certs):
        self.certs = certs
        self.ssl_port = free_port()
        self.mtls_port = free_port()
        self.users_file = base / "http-users"
        self.users_file.write_text("# scrapers\n" + pbkdf2_line(HTTP_USER, HTTP_PASSWORD))
        # The broker reads copies, so reload tests can replace them.
        for name in ("server.pem", "server.key", "ca.pem"):
            shutil.copy(certs.path(name), base / ("live-" + name))
        settings = {
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL",
            "ssl.certificate.location": str(base / "live-server.pem"),
            "ssl.key.location": str(base / "live-server.key"),
            "ssl.ca.location": str(base / "live-ca.pem"),
            "ssl.reload.check.interval.ms": "300",
            "listener.name.mtls.ssl.client.auth": "required",
            "http.ssl.certificate.location": str(certs.path("server.pem")),
            "http.ssl.key.location": str(certs.key("server")),
            "http.basic.auth.users.file": str(self.users_file),
        }
        super().__init__(base / "data", base, settings=settings)

    def command(self) -> list[str]:
        cmd = super().command()
        at = cmd.index("--listen")
        del cmd[at:at + 2]
        return cmd + ["--set", "listeners=PLAINTEXT://%s:%d,SSL://%s:%d,MTLS://%s:%d" % (
            HOST, self.port, HOST, self.ssl_port, HOST, self.mtls_port), "--log-level", "debug"]

    def ssl_bootstrap(self, mtls: bool = False) -> str:
        return "%s:%d" % (HOST, self.mtls_port if mtls else self.ssl_port)

    @property
    def https_url(self) -> str:
        return "https://%s:%d" % (HOST, self.http_port)

    def full_log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("skeind-*.stderr")))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory, certs):
    b = TLSSkeind(tmp_path_factory.mktemp("tlsbroker"), certs)
    b.start()
    yield b
    code = b.terminate()
    log = b.full_log()
    # Clients closing without TLS's close_notify are routine, not warnings.
    assert "warning" not in "\n".join(l for l in log.splitlines() if "uncleanShutdown" in l)
    # Nothing of any private key, nor the basic-auth password, ever reaches the log.
    for line in certs.key_material():
        assert line not in log, "key material in the broker's log"
    assert HTTP_PASSWORD not in log
    assert code == 0, log[-3000:]


def kcat_ssl(b: TLSSkeind, certs: Certs, *args: str, mtls: bool = False, client: str = "alice", input=None,
             check: bool = True, timeout: float = 30.0):
    cmd = ["kcat", "-b", b.ssl_bootstrap(mtls), "-X", "security.protocol=SSL",
           "-X", "ssl.ca.location=%s" % certs.ca, "-X", "socket.timeout.ms=10000"]
    if mtls and client:
        cmd += ["-X", "ssl.certificate.location=%s" % certs.path(client + ".pem"),
                "-X", "ssl.key.location=%s" % certs.key(client)]
    res = subprocess.run(cmd + list(args), input=input, capture_output=True, timeout=timeout)
    if check:
        assert res.returncode == 0, "kcat exited %d: %s" % (res.returncode, res.stderr.decode(errors="replace"))
    return res


def peer_serial(port: int, certs: Certs) -> str:
    context = ssl.create_default_context(cafile=str(certs.ca))
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert()["serialNumber"].lower()


# ---------------------------------------------------------------------------------------------- real clients


def test_kcat_over_ssl_and_mtls_and_metadata_names_the_listener(tls_broker, certs, topic_name):
    b = tls_broker
    topic = topic_name()
    kcat_ssl(b, certs, "-P", "-t", topic, input=b"one\ntwo\n")
    kcat_ssl(b, certs, "-P", "-t", topic, mtls=True, input=b"three\n")
    out = kcat_ssl(b, certs, "-C", "-t", topic, "-e", "-q", "-f", "%s\n", mtls=True).stdout.decode()
    assert out.splitlines() == ["one", "two", "three"]
    # Metadata answers with the address of the listener asked: each client stays on its own listener.
    for bootstrap, port, extra in [(b.bootstrap, b.port, []),
                                   (b.ssl_bootstrap(), b.ssl_port, ["-X", "security.protocol=SSL",
                                                                    "-X", "ssl.ca.location=%s" % certs.ca])]:
        res = subprocess.run(["kcat", "-b", bootstrap, *extra, "-L", "-J"], capture_output=True, timeout=30)
        assert res.returncode == 0, res.stderr
        brokers = json.loads(res.stdout)["brokers"]
        assert [x["name"] for x in brokers] == ["%s:%d" % (HOST, port)]
    # The client certificate's subject is the principal, RFC 2253 order (Kafka's default mapping).
    wait_until(lambda: "as User:CN=alice,OU=ops,O=Acme,C=US" in b.full_log(), 10, "the mTLS principal in the log")


def test_confluent_kafka_with_client_certificate(tls_broker, certs, topic_name):
    from confluent_kafka import Consumer, Producer
    topic = topic_name()
    conf = {"bootstrap.servers": tls_broker.ssl_bootstrap(mtls=True), "security.protocol": "SSL",
            "ssl.ca.location": str(certs.ca), "ssl.certificate.location": str(certs.alice),
            "ssl.key.location": str(certs.key("alice"))}
    p = Producer(conf)
    for i in range(20):
        p.produce(topic, value=b"c%d" % i)
    assert p.flush(30) == 0
    c = Consumer(dict(conf, **{"group.id": "tls-" + topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 20 and time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [b"c%d" % i for i in range(20)]


def test_kafka_python_over_ssl(tls_broker, certs, topic_name):
    from kafka import KafkaConsumer, KafkaProducer
    topic = topic_name()
    common = dict(bootstrap_servers=tls_broker.ssl_bootstrap(), security_protocol="SSL", ssl_cafile=str(certs.ca))
    p = KafkaProducer(**common)
    for i in range(10):
        p.send(topic, b"k%d" % i)
    p.flush(30)
    p.close()
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000, **common)
    got = [m.value for _, m in zip(range(10), c)]
    c.close()
    assert got == [b"k%d" % i for i in range(10)]


def test_aiokafka_with_client_certificate(tls_broker, certs, topic_name):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.helpers import create_ssl_context
    topic = topic_name()

    async def run():
        context = create_ssl_context(cafile=str(certs.ca), certfile=str(certs.alice),
                                     keyfile=str(certs.key("alice")))
        common = dict(bootstrap_servers=tls_broker.ssl_bootstrap(mtls=True), security_protocol="SSL",
                      ssl_context=context)
        p = AIOKafkaProducer(**common)
        await p.start()
        try:
            for i in range(10):
                await p.send_and_wait(topic, b"a%d" % i)
        finally:
            await p.stop()
        c = AIOKafkaConsumer(topic, auto_offset_reset="earliest", **common)
        await c.start()
        got = []
        try:
            async def collect():
                async for m in c:
                    got.append(m.value)
                    if len(got) == 10:
                        return
            await asyncio.wait_for(collect(), 60)
        finally:
            await c.stop()
        return got

    assert asyncio.run(run()) == [b"a%d" % i for i in range(10)]


# ---------------------------------------------------------------------------------------------- refusals


def test_plaintext_client_on_a_tls_listener_is_closed_quickly(tls_broker):
    # An ApiVersions v0 request in the clear, as a misconfigured client would send it.
    request = b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x03abc"
    started = time.monotonic()
    with socket.create_connection((HOST, tls_broker.ssl_port), timeout=10) as s:
        s.sendall(len(request).to_bytes(4, "big") + request)
        answer = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert time.monotonic() - started < 5
    # Whatever comes back is a TLS alert at most, never a Kafka answer.
    assert not answer or answer[0] == 0x15, answer[:20]
    res = subprocess.run(["kcat", "-b", tls_broker.ssl_bootstrap(), "-L", "-m", "5"], capture_output=True,
                         timeout=30)
    assert res.returncode != 0
    wait_until(lambda: "TLS: handshakeFailed" in tls_broker.full_log(), 10, "the handshake failure logged")


@pytest.mark.parametrize("client", [None, "expired", "mallory"])
def test_mtls_listener_refuses_missing_expired_and_untrusted_certificates(tls_broker, certs, client):
    context = ssl.create_default_context(cafile=str(certs.ca))
    if client:
        context.load_cert_chain(str(certs.path(client + ".pem")), str(certs.key(client)))
    started = time.monotonic()
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with socket.create_connection((HOST, tls_broker.mtls_port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                # TLS 1.3 reports the refusal of a client certificate on the first read.
                tls.sendall(b"\x00\x00\x00\x00")
                assert tls.recv(10) == b"", "an answer on a refused connection"
                raise ConnectionResetError("closed")
    assert time.monotonic() - started < 5
    # The same client with alice's valid certificate works.
    res = kcat_ssl(tls_broker, certs, "-L", mtls=True)
    assert b"1 brokers" in res.stdout


def test_certificates_reload_when_files_change_and_on_sighup(tls_broker, certs):
    b = tls_broker
    first = certs.serial("server")
    assert peer_serial(b.ssl_port, certs) == first
    live = b.log_dir
    # A broken certificate file keeps the old one serving, with an error in the log.
    (live / "live-server.pem").write_text("not a certificate\n")
    wait_until(lambda: "TLS files not reloaded" in b.full_log(), 10, "the reload error")
    assert peer_serial(b.ssl_port, certs) == first
    # Certificate and key replaced: new connections get the new certificate.
    shutil.copy(certs.key("server2"), live / "live-server.key")
    shutil.copy(certs.path("server2.pem"), live / "live-server.pem")
    second = certs.serial("server2")
    wait_until(lambda: peer_serial(b.ssl_port, certs) == second, 15, "the new certificate's serial")
    # SIGHUP reloads at once too (here the original files back, with the file check far away).
    shutil.copy(certs.key("server"), live / "live-server.key")
    shutil.copy(certs.path("server.pem"), live / "live-server.pem")
    os.kill(b.pid, signal.SIGHUP)
    wait_until(lambda: peer_serial(b.ssl_port, certs) == first, 15, "the first serial after SIGHUP")
    assert b.alive()


# ---------------------------------------------------------------------------------------------- HTTP


def https_get(b: TLSSkeind, certs: Certs, path: str, user: str | None, password: str | None):
    context = ssl.create_default_context(cafile=str(certs.ca))
    request = urllib.request.Request(b.https_url + path)
    if user is not None:
        token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers).get("WWW-Authenticate", "")


def test_http_listener_serves_tls_with_basic_auth(tls_broker, certs):
    status, body = https_get(tls_broker, certs, "/metrics", HTTP_USER, HTTP_PASSWORD)
    assert status == 200 and "skein_" in body
    assert https_get(tls_broker, certs, "/health", HTTP_USER, HTTP_PASSWORD)[0] == 200
    status, challenge = https_get(tls_broker, certs, "/metrics", None, None)
    assert status == 401 and challenge.startswith("Basic")
    assert https_get(tls_broker, certs, "/metrics", HTTP_USER, "wrong")[0] == 401
    assert https_get(tls_broker, certs, "/metrics", "nobody", HTTP_PASSWORD)[0] == 401
    # Plain HTTP on the TLS port gets no metrics.
    with pytest.raises(Exception):
        urllib.request.urlopen("http://%s:%d/metrics" % (HOST, tls_broker.http_port), timeout=5).read()


def test_real_prometheus_scrapes_over_tls_with_basic_auth(tls_broker, certs, tmp_path):
    exe = shutil.which("prometheus")
    assert exe, "prometheus is not installed (scripts/setup installs Debian's prometheus package)"
    (tmp_path / "password").write_text(HTTP_PASSWORD)
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{
            "job_name": "skein-tls", "scheme": "https", "metrics_path": "/metrics",
            "tls_config": {"ca_file": str(certs.ca), "server_name": "localhost"},
            "basic_auth": {"username": HTTP_USER, "password_file": str(tmp_path / "password")},
            "static_configs": [{"targets": ["%s:%d" % (HOST, tls_broker.http_port)]}]}]}))
    port = free_port()
    base = "http://%s:%d" % (HOST, port)
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([exe, "--config.file", str(tmp_path / "prometheus.yml"),
                             "--storage.tsdb.path", str(tmp_path / "tsdb"),
                             "--web.listen-address", "%s:%d" % (HOST, port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        def up():
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": 'up{job="skein-tls"}'})
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    result = json.loads(r.read())["data"]["result"]
            except OSError:
                return None
            return result if result and result[0]["value"][1] == "1" else None

        assert wait_until(up, 60, "Prometheus to scrape skeind over TLS", interval=0.3)
    finally:
        if prom.poll() is None:
            os.kill(prom.pid, signal.SIGTERM)
            try:
                prom.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(prom.pid, signal.SIGKILL)
                prom.wait(10)


# ---------------------------------------------------------------------------------------------- our clients


def test_skein_cli_over_mtls_with_command_config_and_x(tls_broker, certs, topic_name, tmp_path):
    skein = skeind_path().parent / "skein"
    topic = topic_name()
    config = tmp_path / "client.properties"
    config.write_text("security.protocol=SSL\nssl.ca.location=%s\n# kafka-python-only setting, skipped:\n"
                      "request.timeout.ms=30000\n" % certs.ca)
    produce = subprocess.run([str(skein), "produce", "-t", topic, "--bootstrap", tls_broker.ssl_bootstrap(True),
                              "--command-config", str(config), "-X", "ssl.certificate.location=%s" % certs.alice,
                              "-X", "ssl.key.location=%s" % certs.key("alice")],
                             input=b"x1\nx2\n", capture_output=True, timeout=60)
    assert produce.returncode == 0, produce.stderr
    consume = subprocess.run([str(skein), "consume", "-t", topic, "--bootstrap", tls_broker.ssl_bootstrap(),
                              "-X", "security.protocol=SSL", "-X", "ssl.ca.location=%s" % certs.ca],
                             capture_output=True, timeout=60)
    assert consume.returncode == 0, consume.stderr
    assert consume.stdout.decode().split() == ["x1", "x2"]
    # Without the CA, the broker's certificate is not trusted: a one-line error, not a hang.
    refused = subprocess.run([str(skein), "consume", "-t", topic, "--bootstrap", tls_broker.ssl_bootstrap(),
                              "-X", "security.protocol=SSL"], capture_output=True, timeout=60)
    assert refused.returncode != 0
    assert refused.stderr.decode().startswith("skein: ")


def test_agent_delivers_over_mtls(tls_broker, certs, topic_name, agent_factory, tmp_path):
    topic = topic_name()
    log = tmp_path / "app.log"
    log.write_text("".join("line %d\n" % i for i in range(5)))
    agent = agent_factory.new(
        tls_broker.ssl_bootstrap(mtls=True), topic, {"app": {"paths": [str(log)]}},
        delivery={"security.protocol": "SSL", "ssl.ca.location": str(certs.ca),
                  "ssl.certificate.location": str(certs.alice), "ssl.key.location": str(certs.key("alice"))})
    agent.start()

    def delivered():
        res = kcat_ssl(tls_broker, certs, "-C", "-t", topic, "-e", "-q", "-f", "%s\n", check=False)
        return res.returncode == 0 and res.stdout.decode().count("line ") >= 5

    wait_until(delivered, 60, "the agent's lines over mTLS", interval=0.5)
    assert agent.terminate() == 0


# ---------------------------------------------------------------------------------------------- systemd


def test_socket_activation_per_listener_by_fd_name(certs, tmp_path):
    """systemd-socket-activate passes two sockets named after the listeners (lower case, as a socket unit's
    FileDescriptorName= would); each listener adopts its own, TLS on the SSL one, none binds its address."""
    activator = shutil.which("systemd-socket-activate")
    assert activator, "systemd-socket-activate is missing (Debian package systemd, installed by scripts/setup)"
    plain, tls, unused_plain, unused_tls = free_port(), free_port(), free_port(), free_port()
    with open(tmp_path / "skeind.stderr", "wb") as err:
        proc = subprocess.Popen(
            [activator, "-l", "%s:%d" % (HOST, tls), "-l", "%s:%d" % (HOST, plain), "--fdname=ssl:plaintext",
             str(skeind_path()), "--data-dir", str(tmp_path / "data"), "--http-listen", "off",
             "--set", "listeners=PLAINTEXT://%s:%d,SSL://%s:%d" % (HOST, unused_plain, HOST, unused_tls),
             "--set", "ssl.certificate.location=%s" % certs.path("server.pem"),
             "--set", "ssl.key.location=%s" % certs.key("server")],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
    try:
        wait_until(lambda: socket.create_connection((HOST, plain), timeout=2).close() is None, 10,
                   "systemd-socket-activate to listen")
        res = subprocess.run(["kcat", "-b", "%s:%d" % (HOST, plain), "-L", "-m", "10"], capture_output=True,
                             timeout=30)
        assert res.returncode == 0 and b"1 brokers" in res.stdout, res.stderr
        res = subprocess.run(["kcat", "-b", "%s:%d" % (HOST, tls), "-X", "security.protocol=SSL",
                              "-X", "ssl.ca.location=%s" % certs.ca, "-L", "-m", "10"], capture_output=True,
                             timeout=30)
        assert res.returncode == 0 and b"1 brokers" in res.stdout, res.stderr
        log = (tmp_path / "skeind.stderr").read_text()
        assert log.count("(socket from systemd)") == 2, log
        for port in (unused_plain, unused_tls):
            with pytest.raises(OSError):
                socket.create_connection((HOST, port), timeout=2).close()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # by pid: skeind runs as this very process after the exec
            proc.wait(20)
    assert proc.returncode == 0, (tmp_path / "skeind.stderr").read_text()
