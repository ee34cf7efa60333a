"""Fixtures for the interop suite: real clients (kcat, confluent-kafka, kafka-python, aiokafka) against a real
`skeind` started per test module (or per test, for restart tests).

Targets (SKEIN_INTEROP_TARGET):
  skeind (default)  $SKEIN_BIN_DIR/skeind; a missing binary stops the run with exit status 3.
  mock              librdkafka's mock cluster (../shared/tools/mockbroker.c, or $SKEIN_MOCKBROKER), used to
                    validate the tests themselves. It has no admin APIs and cannot restart on a data
                    directory, so tests marked `skeind_only` are skipped and those marked `mock_xfail` are
                    expected to fail an assertion there (they run every step up to it).
"""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("SKEIN_INTEROP_TARGET", "skeind")
if TARGET not in ("skeind", "mock"):
    raise SystemExit("SKEIN_INTEROP_TARGET must be skeind or mock, not %r" % TARGET)
IS_MOCK = TARGET == "mock"
HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------------- polling


class GiveUp(AssertionError):
    """Raised by a wait_until predicate to stop polling at once (e.g. the broker process exited)."""


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    """Polls predicate() until it returns a truthy value (returned) or the timeout passes (AssertionError).
    Exceptions from predicate count as "not yet", except GiveUp, which ends the wait."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except GiveUp:
            raise
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s%s"
                                 % (timeout, what, "" if last_exc is None else " (last error: %r)" % last_exc))
        time.sleep(interval)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now and has not been handed out before in this session.

    Ports come from below Linux's ephemeral range (32768 and up by default), so a client's outgoing
    connection cannot take one between this check and the server's bind, and never twice per session:
    binding port 0 twice in a row can return the same port, which once gave a broker's Kafka and HTTP
    listeners one port and failed CI with EADDRINUSE."""
    rng = random.Random()
    for _ in range(2000):
        port = rng.randrange(20000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise AssertionError("no free loopback port in 20000-32000 after 2000 tries")


def port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- brokers


def skeind_path() -> Path:
    bin_dir = os.environ.get("SKEIN_BIN_DIR")
    if not bin_dir:
        bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.strip()
    return Path(bin_dir) / "skeind"


class Broker:
    """What a test needs to know about the server it talks to."""

    kind = "?"
    node_id = 0
    auto_partitions = 1  # partitions of an auto-created topic

    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port

    @property
    def bootstrap(self) -> str:
        return "%s:%d" % (self.host, self.port)

    def log_tail(self, lines: int = 200) -> str:
        return ""

    def alive(self) -> bool:
        return True

    def assert_alive(self):
        assert self.alive(), "broker exited unexpectedly:\n" + self.log_tail()


def run_as(user: str | None) -> list[str]:
    """A command prefix that runs a program as `user` (its own group, no supplementary groups, no
    capabilities), as a service manager would; [] for None, or when the tests already run unprivileged."""
    if user is None or os.geteuid() != 0:
        return []
    import pwd
    entry = pwd.getpwnam(user)
    return ["setpriv", "--reuid=%d" % entry.pw_uid, "--regid=%d" % entry.pw_gid, "--clear-groups"]


def give_to(user: str | None, *paths: Path):
    """Makes each path (a directory, created if missing) owned by `user`, and lets every user pass through
    its parents up to the temporary directory, so a program run as `user` reaches it."""
    if not run_as(user):
        return
    import pwd
    entry = pwd.getpwnam(user)
    stop = Path(tempfile.gettempdir()).resolve()
    for path in paths:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        for parent in path.resolve().parents:
            if parent == stop or parent == parent.parent:
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)


_RUNNING: list = []  # every Skeind started by this session, killed at exit if still running


@atexit.register
def _kill_leftovers():
    for b in _RUNNING:
        b.kill()


class Skeind(Broker):
    kind = "skeind"
    node_id = 0

    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None, settings: dict | None = None,
                 user: str | None = None):
        super().__init__(HOST, port or free_port())
        # Run as this user (conftest.run_as) rather than as the test runner; its data directory is given to it.
        self.user = user
        # Added to the environment of each start (NOTIFY_SOCKET, WATCHDOG_USEC, ...).
        self.env: dict[str, str] = {}
        # Its own HTTP port (not the default 9644), so brokers of parallel runs never collide; kept across
        # restarts like the Kafka port.
        self.http_port = free_port()
        self.data_dir = Path(data_dir)
        self.settings = dict(settings or {})
        self.auto_partitions = int(self.settings.get("num.partitions", 1))
        self.log_dir = Path(log_dir)
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0
        self.exit_codes: list[int] = []

    def command(self) -> list[str]:
        cmd = run_as(self.user) + [str(skeind_path()), "--data-dir", str(self.data_dir), "--listen", self.bootstrap,
               "--http-listen", "%s:%d" % (HOST, self.http_port)]
        for k, v in self.settings.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        return cmd

    def start(self, timeout: float = 20.0):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        give_to(self.user, self.data_dir)
        self.starts += 1
        self.log_path = self.log_dir / ("skeind-%d-start%d.stderr" % (self.port, self.starts))
        with open(self.log_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         start_new_session=True, env=dict(os.environ, **self.env))
        _RUNNING.append(self)

        def ready():
            if self.proc.poll() is not None:
                raise GiveUp("skeind exited with %s before accepting connections:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            return port_accepts(self.host, self.port)

        try:
            wait_until(ready, timeout, "skeind to accept connections on %s" % self.bootstrap)
        except GiveUp:
            raise
        except AssertionError as e:
            self.kill()
            raise AssertionError("%s\n%s" % (e, self.log_tail())) from None
        return self

    @property
    def metrics_url(self) -> str:
        """Base URL of the HTTP listener: /metrics, /metrics/hosts, /health."""
        return "http://%s:%d" % (HOST, self.http_port)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait (bounded) and return the exit code; SIGKILL and fail if it does not stop."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("skeind did not stop within %.0fs of SIGTERM:\n%s" % (timeout, self.log_tail()))
        self.exit_codes.append(self.proc.returncode)
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # by pid: only the process this object started
            self.proc.wait(10)
            self.exit_codes.append(self.proc.returncode)

    def log_tail(self, lines: int = 200) -> str:
        out = []
        for path in sorted(self.log_dir.glob("skeind-%d-start*.stderr" % self.port)):
            text = path.read_text(errors="replace").splitlines()
            out.append("--- %s (last %d of %d lines) ---" % (path.name, min(lines, len(text)), len(text)))
            out.extend(text[-lines:])
        return "\n".join(out)


class MockBroker(Broker):
    kind = "mock"
    node_id = 1
    auto_partitions = 4

    def __init__(self, proc: subprocess.Popen, bootstrap: str, log_path: Path):
        host, port = bootstrap.split(",")[0].rsplit(":", 1)
        super().__init__(host, int(port))
        self.proc = proc
        self.log_path = log_path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 200) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "--- mockbroker stderr ---\n" + "\n".join(text[-lines:])


def build_mockbroker(work: Path) -> Path:
    if os.environ.get("SKEIN_MOCKBROKER"):
        return Path(os.environ["SKEIN_MOCKBROKER"])
    src = REPO.parent / "shared" / "tools" / "mockbroker.c"
    out = work / "mockbroker"
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True, text=True)
    if flags.returncode != 0:
        pytest.exit("SKEIN_INTEROP_TARGET=mock needs librdkafka-dev (apt-get install librdkafka-dev)", returncode=3)
    subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", str(out), str(src)] + flags.stdout.split(), check=True)
    return out


# ---------------------------------------------------------------------------------------------- session


def pytest_configure(config):
    config.addinivalue_line("markers", "skeind_only(reason): needs a real skeind (skipped against the mock)")
    config.addinivalue_line("markers", "mock_xfail(reason): runs against the mock but must fail an assertion there")
    if TARGET == "skeind" and not hasattr(config, "workerinput"):
        path = skeind_path()
        if not os.access(path, os.X_OK):
            pytest.exit("interop: skeind not found at %s (set SKEIN_BIN_DIR or build the package)" % path,
                        returncode=3)
    if shutil.which("kcat") is None:
        pytest.exit("interop: kcat is not installed (scripts/setup installs it)", returncode=3)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if IS_MOCK:
            m = item.get_closest_marker("skeind_only")
            if m is not None:
                item.add_marker(pytest.mark.skip(reason="mock target: " + (m.args[0] if m.args else "skeind only")))
            m = item.get_closest_marker("mock_xfail")
            if m is not None:
                item.add_marker(pytest.mark.xfail(reason="mock target: " + m.args[0], strict=True,
                                                  raises=AssertionError))


def pytest_sessionfinish(session, exitstatus):
    """Exit 0 only when tests ran: no passed test is a failure, and against skeind so is any skipped test
    (only the mock target may skip)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0:
        return
    passed = len(reporter.stats.get("passed", []))
    skipped = len(reporter.stats.get("skipped", []))
    if passed == 0:
        reporter.write_line("interop: FAILED: no test passed", red=True)
        session.exitstatus = 5
    elif skipped and not IS_MOCK and not session.config.getoption("keyword") \
            and not session.config.getoption("markexpr"):
        reporter.write_line("interop: FAILED: %d tests skipped against skeind" % skipped, red=True)
        session.exitstatus = 1


def pytest_report_header(config):
    if IS_MOCK:
        return "interop target: librdkafka mock cluster"
    return "interop target: skeind at %s" % skeind_path()


@pytest.fixture(scope="session")
def work_dir():
    d = Path(tempfile.mkdtemp(prefix="skein-interop-"))
    yield d
    if os.environ.get("SKEIN_INTEROP_KEEP"):
        print("interop: kept %s" % d)
    else:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def _mock_broker(work_dir):
    if not IS_MOCK:
        yield None
        return
    exe = build_mockbroker(work_dir)
    log_path = work_dir / "mockbroker.stderr"
    out_path = work_dir / "mockbroker.stdout"
    with open(log_path, "wb") as err, open(out_path, "wb") as out:
        proc = subprocess.Popen([str(exe)], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    bootstrap = wait_until(lambda: out_path.read_text().strip(), 10, "mockbroker to print its bootstrap list")
    broker = MockBroker(proc, bootstrap, log_path)
    wait_until(lambda: port_accepts(broker.host, broker.port), 10, "mockbroker to accept connections")
    yield broker
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)


def _module_settings(request) -> dict:
    return dict(getattr(request.module, "SKEIND_SETTINGS", {}))


@pytest.fixture(scope="module")
def broker(request, work_dir, _mock_broker):
    """One broker per test module. A module may set SKEIND_SETTINGS = {name: value} for its skeind.
    At teardown the broker must still be running and must exit 0 on SIGTERM."""
    if IS_MOCK:
        yield _mock_broker
        return
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", request.module.__name__)
    base = Path(tempfile.mkdtemp(prefix=name + "-", dir=work_dir))
    b = Skeind(base / "data", base, settings=_module_settings(request)).start()
    yield b
    alive = b.alive()
    code = b.terminate()
    assert alive, "skeind died during %s:\n%s" % (request.module.__name__, b.log_tail())
    assert code == 0, "skeind exited %s on SIGTERM after %s:\n%s" % (code, request.module.__name__, b.log_tail())


class SkeindFactory:
    def __init__(self, base: Path):
        self.base = base
        self.started: list[Skeind] = []

    def new(self, settings: dict | None = None, data_dir: Path | None = None, port: int | None = None,
            user: str | None = None) -> Skeind:
        d = Path(tempfile.mkdtemp(prefix="s", dir=self.base))
        b = Skeind(data_dir or d / "data", d, port=port, settings=settings, user=user)
        self.started.append(b)
        return b

    def cleanup(self):
        for b in self.started:
            b.kill()


@pytest.fixture
def skeind_factory(work_dir):
    """Unstarted Skeind instances for tests that restart a broker; killed at teardown if still running."""
    f = SkeindFactory(Path(tempfile.mkdtemp(prefix="restart-", dir=work_dir)))
    yield f
    f.cleanup()


@pytest.fixture
def agent_factory(work_dir):
    """skein-agent processes run from a TOML config (agentharness.AgentFactory: kill9, terminate, restart,
    rss_bytes, cpu_seconds, metric); killed by pid at teardown if still running."""
    from agentharness import AgentFactory
    f = AgentFactory(Path(tempfile.mkdtemp(prefix="agents-", dir=work_dir)))
    yield f
    f.cleanup()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when not in ("call", "setup", "teardown") or not report.failed:
        return
    brokers = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Broker):
            brokers.append(value)
        elif isinstance(value, SkeindFactory):
            brokers.extend(value.started)
    for b in dict.fromkeys(brokers):
        tail = b.log_tail()
        if tail:
            report.sections.append(("%s %s stderr" % (b.kind, b.bootstrap), tail))
    for value in getattr(item, "funcargs", {}).values():
        for agent in getattr(value, "agents", []) if type(value).__name__ == "AgentFactory" else []:
            report.sections.append(("skein-agent %s stderr" % agent.name, agent.log_tail()))


# ---------------------------------------------------------------------------------------------- topics


@pytest.fixture
def topic_name(request):
    """A topic name unique to this test run, e.g. it-test_kcat_roundtrip-gzip-1a2b3c4d."""
    base = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name).strip("-")[:120]
    counter = iter(range(1000))

    def make(suffix: str = "") -> str:
        return "it-%s%s-%d-%s" % (base, ("-" + suffix) if suffix else "", next(counter), uuid.uuid4().hex[:8])

    return make


def admin_client(broker: Broker):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": broker.bootstrap, "socket.timeout.ms": 10000})


def topic_partitions(broker: Broker, topic: str, timeout: float = 10.0) -> int:
    """Partition count of topic from a confluent-kafka metadata request, 0 when the topic is unknown."""
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(topic=topic, timeout=timeout)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        return 0
    return len(t.partitions)


def create_topic(broker: Broker, name: str, partitions: int = 1, config: dict | None = None) -> int:
    """Creates a topic and waits until metadata shows every partition with a leader. Returns the partition
    count (against the mock: auto-created on first use with its own count, configs ignored)."""
    if isinstance(broker, MockBroker):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": broker.bootstrap})
        wait_until(lambda: name in p.list_topics(topic=name, timeout=5).topics
                   and p.list_topics(topic=name, timeout=5).topics[name].error is None,
                   15, "mock auto-create of %s" % name)
        p.flush(5)
        return len(p.list_topics(topic=name, timeout=5).topics[name].partitions)
    from confluent_kafka.admin import NewTopic
    admin = admin_client(broker)  # keep a reference: a destroyed client fails its futures with _DESTROY
    fs = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
        operation_timeout=10, request_timeout=15)
    fs[name].result(timeout=20)

    def ready():
        from confluent_kafka.admin import AdminClient
        md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        return (t is not None and t.error is None and len(t.partitions) == partitions
                and all(p.leader == broker.node_id for p in t.partitions.values()))

    wait_until(ready, 15, "metadata for new topic %s" % name)
    return partitions


# ---------------------------------------------------------------------------------------------- kcat


def kcat(broker: Broker, *args: str, input: bytes | None = None, timeout: float = 30.0,
         check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["kcat", "-b", broker.bootstrap, "-X", "socket.timeout.ms=10000", *args]
    try:
        res = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("kcat timed out after %.0fs: %s\nstderr:\n%s"
                             % (timeout, " ".join(cmd), (e.stderr or b"").decode(errors="replace"))) from None
    if check and res.returncode != 0:
        raise AssertionError("kcat exited %d: %s\nstdout:\n%s\nstderr:\n%s"
                             % (res.returncode, " ".join(cmd), res.stdout.decode(errors="replace")[-4000:],
                                res.stderr.decode(errors="replace")[-4000:]))
    return res


def kcat_consume(broker: Broker, topic: str, partition: int, fmt: str, *extra: str, offset: str = "beginning",
                 timeout: float = 30.0) -> list[str]:
    """Consumes partition from offset to its end (-e) and returns the lines of output. Records must not
    contain newlines (the format string ends each with \\n)."""
    res = kcat(broker, "-C", "-q", "-t", topic, "-p", str(partition), "-o", offset, "-e", "-f", fmt, *extra,
               timeout=timeout)
    out = res.stdout.decode()
    assert out == "" or out.endswith("\n"), "kcat output does not end in a newline: %r" % out[-200:]
    return out.splitlines()


# ---------------------------------------------------------------------------------------------- raw fetch


def raw_fetch(broker: Broker, topic: str, partition: int, offset: int = 0, version: int = 4,
              max_bytes: int = 32 << 20) -> tuple[int, int, bytes]:
    """Fetch through kafka-python's FetchRequest class over a raw socket; returns (error, high_watermark,
    records bytes). Used to look at batches exactly as stored (compression attributes)."""
    from kafka.protocol.consumer import FetchRequest, FetchResponse
    from kafkawire import Conn, kp_decode_response_exact, kp_encode_request

    T = FetchRequest.FetchTopic
    P = T.FetchPartition
    req = FetchRequest(replica_id=-1, max_wait_ms=100, min_bytes=0, max_bytes=max_bytes, isolation_level=0,
                       topics=[T(topic=topic, partitions=[P(partition=partition, fetch_offset=offset,
                                                              partition_max_bytes=max_bytes)])])
    with Conn(broker.host, broker.port) as c:
        corr, resp = kp_decode_response_exact(FetchResponse, version,
                                              c.roundtrip(kp_encode_request(req, version, 77)))
    assert corr == 77
    (t,) = resp.responses
    (p,) = t.partitions
    return p.error_code, p.high_watermark, bytes(p.records or b"")


def raw_fetch_batches(broker: Broker, topic: str, partition: int, timeout: float = 20.0):
    """All batches of a partition, fetched from offset 0 up to the high watermark (a broker may return fewer
    batches than fit in max_bytes, so this fetches again from the next offset). Returns (high_watermark,
    [BatchHeader])."""
    from kafkawire import parse_batches
    batches, offset, hw = [], 0, None
    deadline = time.monotonic() + timeout
    while hw is None or offset < hw:
        assert time.monotonic() < deadline, "fetched up to %d of %s in %.0fs" % (offset, hw, timeout)
        error, hw, records = raw_fetch(broker, topic, partition, offset)
        assert error == 0, "fetch error %d" % error
        got = [b for b in parse_batches(records) if b.last_offset >= offset]
        batches += got
        if got:
            offset = got[-1].last_offset + 1
    return hw, batches


def assert_clients_work(broker: Broker, topic_name) -> None:
    """A normal client still produces and consumes: confluent-kafka produces (acks=all), kcat consumes."""
    from confluent_kafka import Producer
    broker.assert_alive()
    topic = topic_name("health")
    create_topic(broker, topic, 1)
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 15000})
    reports = []
    values = [b"health-%d" % i for i in range(5)]
    for v in values:
        p.produce(topic, v, partition=0, on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert p.flush(20) == 0, "health-check produce did not finish"
    assert [r for r in reports if r[0] is not None] == [], reports
    assert sorted(o for _, o in reports) == list(range(5))
    assert kcat_consume(broker, topic, 0, "%o:%s\n") == ["%d:%s" % (i, v.decode()) for i, v in enumerate(values)]


def metric_sample(broker, series: str) -> float:
    """One sample of skeind's /metrics, e.g. 'skein_transactions_total{outcome="timed_out"}'."""
    import urllib.request
    with urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
    raise AssertionError("%s not in /metrics" % series)


# ---------------------------------------------------------------------------------------------- tools


def build_tool(name: str) -> Path:
    """Compiles Tests/Interop/tools/NAME.c against librdkafka into .build/interop-tools, keyed by a hash of the
    source, so later runs reuse it. The compiler writes to a temporary name that is renamed into place, so
    parallel sessions never run a half-written binary."""
    import hashlib
    src = Path(__file__).parent / "tools" / (name + ".c")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True, text=True)
    if flags.returncode != 0:
        raise AssertionError("%s needs librdkafka-dev (scripts/setup installs it): %s" % (name, flags.stderr))
    digest = hashlib.sha256(src.read_bytes() + flags.stdout.encode()).hexdigest()[:16]
    cache = REPO / ".build" / "interop-tools"
    out = cache / ("%s-%s" % (name, digest))
    if os.access(out, os.X_OK):
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / ("%s.%d.tmp" % (out.name, os.getpid()))
    res = subprocess.run(["cc", "-O2", "-Wall", "-pthread", "-o", str(tmp), str(src)] + flags.stdout.split(),
                         capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise AssertionError("cc %s failed:\n%s" % (src.name, res.stderr))
    os.replace(tmp, out)
    return out


class NoTxnMockBroker(Broker):
    """librdkafka's mock cluster with the transaction APIs switched off (tools/mockbroker_notxn.c), one broker,
    started here and stopped by pid."""

    kind = "mock-notxn"
    node_id = 1

    def __init__(self, work: Path, *args: str):
        exe = build_tool("mockbroker_notxn")
        self.log_path = work / "mockbroker_notxn.stderr"
        out_path = work / "mockbroker_notxn.stdout"
        with open(self.log_path, "wb") as err, open(out_path, "wb") as out:
            self.proc = subprocess.Popen([str(exe), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)

        def printed():
            if self.proc.poll() is not None:
                raise GiveUp("mockbroker_notxn exited with %s:\n%s" % (self.proc.returncode, self.log_tail()))
            return out_path.read_text().strip()

        host, port = wait_until(printed, 10, "mockbroker_notxn to print its bootstrap").split(",")[0].rsplit(":", 1)
        super().__init__(host, int(port))
        wait_until(lambda: port_accepts(self.host, self.port), 10, "mockbroker_notxn to accept connections")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def log_tail(self, lines: int = 200) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "--- mockbroker_notxn stderr ---\n" + "\n".join(text[-lines:])
