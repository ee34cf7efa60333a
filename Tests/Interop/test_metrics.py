"""The broker's HTTP listener against real clients: /metrics counters move by exactly what kcat,
confluent-kafka and raw requests did; consumer-group lag; `promtool check metrics` (Debian's prometheus)
accepts real scrapes; host sample sets produced to the metrics topic appear on /metrics/hosts with a host
label, malformed records are counted, hosts expire after host.metrics.ttl.ms and survive a restart."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import create_topic, kcat, kcat_consume, raw_fetch, wait_until
from kafkawire import Conn, build_batch, parse_produce_v3_response, produce_v3_request

pytestmark = pytest.mark.skeind_only("the HTTP listener is skeind's")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HOST_METRICS_TYPE = "application/vnd.skein.host-metrics.v1+json"


# ---------------------------------------------------------------------------------------------- helpers


def http_get(url: str, timeout: float = 10.0) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} of a text-format scrape; fails on a line it cannot read."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "unparseable exposition line: %r" % line
        labels = {}
        if m.group(2):
            labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(m.group(2))}
        key = (m.group(1), frozenset(labels.items()))
        assert key not in out, "duplicate series %r" % (key,)
        out[key] = float(m.group(3))
    return out


def scrape(broker, path: str = "/metrics") -> dict:
    status, headers, body = http_get(broker.metrics_url + path)
    assert status == 200, (status, body)
    assert headers.get("Content-Type") == CONTENT_TYPE
    return parse_exposition(body)


def value(samples: dict, name: str, **labels) -> float:
    """A series' value; 0 for a series that does not exist yet (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed (scripts/setup installs Debian's prometheus package)"
    res = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert res.returncode == 0, "promtool check metrics failed:\n%s%s" % (res.stdout.decode(), res.stderr.decode())


def raw_produce(broker, topic: str, values: list[bytes], correlation_id: int) -> int:
    """One Produce v3 request carrying one batch of `values`; returns the stored batch size."""
    batch = build_batch([(None, v) for v in values])
    with Conn(broker.host, broker.port) as c:
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(correlation_id, topic, 0, batch)))
    assert corr == correlation_id
    assert [(p[2]) for p in parts] == [0], parts
    return len(batch)


def host_record(host: str, timestamp_ms: int | None = None, load: float = 0.42) -> bytes:
    return json.dumps({
        "schema": "skein.host-metrics.v1", "host": host,
        "timestamp_ms": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "interval_seconds": 15,
        "families": [
            {"name": "node_load1", "type": "gauge", "help": "1m load average.",
             "samples": [{"labels": {}, "value": load}]},
            {"name": "node_cpu_seconds_total", "type": "counter", "help": "Seconds the CPUs spent in each mode.",
             "samples": [{"labels": {"cpu": "0", "mode": "user"}, "value": 1234.5},
                         {"labels": {"cpu": "0", "mode": "system"}, "value": 99}]},
        ]}).encode()


def produce_host_records(broker, topic: str, records: list[tuple[bytes, bytes]], partition: int | None = None,
                         compression: str = "none"):
    """Produces (key, value) records as an agent would: confluent-kafka, acks=all, content-type header."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 15000,
                  "compression.type": compression})
    errors = []
    for key, v in records:
        kwargs = {} if partition is None else {"partition": partition}
        p.produce(topic, v, key=key, headers=[("content-type", HOST_METRICS_TYPE)],
                  on_delivery=lambda err, msg: err and errors.append(err), **kwargs)
    assert p.flush(20) == 0, "host-metrics produce did not finish"
    assert errors == []


# ---------------------------------------------------------------------------------------------- HTTP


def test_health_404_head_and_keep_alive(broker):
    status, _, body = http_get(broker.metrics_url + "/health")
    assert (status, body) == (200, "ready\n")
    status, _, _ = http_get(broker.metrics_url + "/nothing-here")
    assert status == 404

    conn = http.client.HTTPConnection(broker.host, broker.http_port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and resp.getheader("Content-Type") == CONTENT_TYPE
        assert int(resp.getheader("Content-Length")) == len(body) > 0
        sock = conn.sock
        conn.request("HEAD", "/metrics")
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.getheader("Content-Length")) > 0
        assert resp.read() == b""
        conn.request("GET", "/health")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"ready\n")
        assert conn.sock is sock, "the connection was not kept alive"
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------- broker metrics


def test_produce_and_fetch_counters_move_by_what_clients_did(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    before = scrape(broker)

    # Exactly three Produce requests (raw), then confluent-kafka adds more records.
    batch_bytes = [raw_produce(broker, topic, [b"raw-%d-%d" % (i, j) for j in range(5)], 100 + i) for i in range(3)]
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(25):
        p.produce(topic, b"ck-%d" % i, partition=0)
    assert p.flush(20) == 0
    # kcat reads everything back once.
    lines = kcat_consume(broker, topic, 0, "%s\n")
    assert len(lines) == 40
    # Exactly one good Fetch and one failing Fetch, raw.
    error, hw, _ = raw_fetch(broker, topic, 0)
    assert (error, hw) == (0, 40)
    error, _, _ = raw_fetch(broker, topic + "-missing", 0)
    assert error == 3  # UNKNOWN_TOPIC_OR_PARTITION

    after = scrape(broker)
    log_bytes = value(after, "skein_log_size_bytes", topic=topic, partition="0")
    assert log_bytes > sum(batch_bytes)
    assert value(after, "skein_topic_records_in_total", topic=topic) == 40
    # Nothing recompressed: the bytes appended are the log's bytes.
    assert value(after, "skein_topic_bytes_in_total", topic=topic) == log_bytes
    # kcat fetched all 40 records once; the raw fetch returned them once more.
    assert value(after, "skein_topic_records_out_total", topic=topic) == 80
    assert value(after, "skein_topic_bytes_out_total", topic=topic) == 2 * log_bytes
    assert value(after, "kafka_topic_partition_current_offset", topic=topic, partition="0") == 40
    assert value(after, "kafka_topic_partition_oldest_offset", topic=topic, partition="0") == 0
    assert value(after, "kafka_topic_partitions", topic=topic) == 1
    assert value(after, "skein_log_segments", topic=topic, partition="0") == 1

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    produce_ok = delta("skein_requests_total", api="Produce", outcome="ok")
    assert 4 <= produce_ok <= 3 + 25, produce_ok  # three raw, at least one from confluent-kafka
    assert delta("skein_requests_total", api="Produce", outcome="error") == 0
    assert delta("skein_request_duration_seconds_count", api="Produce") == produce_ok
    # Every batch appended is in the batch-size histogram; the three raw ones have known sizes.
    assert delta("skein_produce_batch_size_bytes_count") >= 4
    assert delta("skein_produce_batch_size_bytes_sum") == log_bytes
    assert delta("skein_requests_total", api="Fetch", outcome="error") == 1
    assert delta("skein_requests_total", api="Fetch", outcome="ok") >= 2
    assert delta("skein_connections_accepted_total") >= 4
    assert delta("skein_log_fsync_duration_seconds_count") >= 1  # acks=all waited for fsync
    assert value(after, "skein_connections_open") >= 0
    assert value(after, "kafka_brokers") == 1
    assert [v for (name, _), v in after.items() if name == "skein_build_info"] == [1]
    for name in ["process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
                 "process_max_fds", "process_start_time_seconds", "process_cpu_seconds_total"]:
        assert value(after, name) > 0, name
    assert abs(value(after, "process_start_time_seconds") - time.time()) < 3600


def test_consumer_group_lag_members_and_generation(broker, topic_name):
    from confluent_kafka import Consumer, TopicPartition
    topic = topic_name()
    group = topic_name("group")
    create_topic(broker, topic, 1)
    kcat(broker, "-P", "-t", topic, "-p", "0", input=b"".join(b"m%d\n" % i for i in range(30)))

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
    try:
        c.subscribe([topic])
        wait_until(lambda: c.poll(0.2) is not None or c.assignment(), 30, "group assignment")
        c.commit(offsets=[TopicPartition(topic, 0, 12)], asynchronous=False)
        samples = wait_until(
            lambda: (lambda s: s if value(s, "kafka_consumergroup_lag", consumergroup=group, topic=topic,
                                          partition="0") == 18 else None)(scrape(broker)),
            15, "lag 18 on /metrics")
        assert value(samples, "kafka_consumergroup_current_offset", consumergroup=group, topic=topic,
                     partition="0") == 12
        # kafka_exporter's kafka_consumergroup_lag_sum is not exported: promtool refuses a gauge named *_sum.
        assert not any(name.endswith("_sum") and not name.startswith("skein_") for name, _ in samples)
        assert value(samples, "kafka_consumergroup_members", consumergroup=group) == 1
        assert value(samples, "skein_group_generation", consumergroup=group) >= 1
        promtool_check(http_get(broker.metrics_url + "/metrics")[2])
    finally:
        c.close()
    # After leaving, the group has no members and its lag stays.
    samples = wait_until(
        lambda: (lambda s: s if value(s, "kafka_consumergroup_members", consumergroup=group) == 0 else None)(
            scrape(broker)), 15, "members 0 after close")
    assert value(samples, "kafka_consumergroup_lag", consumergroup=group, topic=topic, partition="0") == 18


def test_promtool_accepts_a_real_scrape(broker, topic_name):
    topic = topic_name()
    kcat(broker, "-P", "-t", topic, input=b"a\nb\nc\n")  # auto-created
    kcat_consume(broker, topic, 0, "%s\n")
    status, _, body = http_get(broker.metrics_url + "/metrics")
    assert status == 200
    assert "# TYPE skein_request_duration_seconds histogram" in body
    assert 'le="+Inf"' in body
    promtool_check(body)


# ---------------------------------------------------------------------------------------------- host metrics


def test_host_metrics_reexport_malformed_and_expiry(skeind_factory, topic_name):
    topic = topic_name("hosts")
    b = skeind_factory.new(settings={"host.metrics.topic": topic, "host.metrics.ttl.ms": "6000"}).start()
    # The topic does not exist yet; the exporter must cope, and pick it up once a producer creates it, with
    # three partitions.
    assert scrape(b, "/metrics/hosts") == {}
    create_topic(b, topic, 3)
    produce_host_records(b, topic, [(b"web-1", host_record("web-1"))], partition=0)
    produce_host_records(b, topic, [(b"db-2", host_record("db-2", load=1.5))], partition=2)
    malformed = [
        b"not json at all",
        json.dumps({"schema": "other.v9", "host": "x", "timestamp_ms": 1, "families": []}).encode(),
        json.dumps({"schema": "skein.host-metrics.v1", "host": "x", "timestamp_ms": int(time.time() * 1000),
                    "families": [{"name": "bad-name", "type": "gauge", "samples": []}]}).encode(),
        bytes([0, 255, 254, 1, 2]),
        json.dumps({"schema": "skein.host-metrics.v1", "host": "x", "timestamp_ms": int(time.time() * 1000),
                    "families": [{"name": "m", "type": "gauge",
                                  "samples": [{"labels": {"l": "1"}, "value": "NaN"}]}]}).encode(),
        # Once crashed the broker (overflow in the age arithmetic), and again on every restart.
        json.dumps({"schema": "skein.host-metrics.v1", "host": "x", "timestamp_ms": -(2 ** 63),
                    "families": []}).encode(),
    ]
    produce_host_records(b, topic, [(b"x", m) for m in malformed], partition=1)

    def both_hosts():
        s = scrape(b, "/metrics/hosts")
        return s if value(s, "node_load1", host="db-2") == 1.5 and value(s, "node_load1", host="web-1") else None

    hosts = wait_until(both_hosts, 15, "both hosts on /metrics/hosts")
    assert value(hosts, "node_load1", host="web-1") == 0.42
    assert value(hosts, "node_cpu_seconds_total", host="web-1", cpu="0", mode="user") == 1234.5
    assert value(hosts, "node_cpu_seconds_total", host="db-2", cpu="0", mode="system") == 99
    assert {dict(labels)["host"] for _, labels in hosts} == {"web-1", "db-2"}
    promtool_check(http_get(b.metrics_url + "/metrics/hosts")[2])

    own = wait_until(
        lambda: (lambda s: s if value(s, "skein_host_metrics_malformed_total") == len(malformed) else None)(
            scrape(b)), 15, "malformed records counted")
    assert value(own, "skein_host_metrics_records_total") == 2 + len(malformed)
    assert value(own, "skein_host_metrics_hosts") == 2
    assert value(own, "skein_host_last_seen_timestamp_seconds", host="web-1") > time.time() - 60

    # A newer sample set replaces the host's old one.
    produce_host_records(b, topic, [(b"web-1", host_record("web-1", load=7.25))], partition=1)
    wait_until(lambda: value(scrape(b, "/metrics/hosts"), "node_load1", host="web-1") == 7.25, 15,
               "web-1's newer sample set")

    # Nobody reports any more: both hosts leave within the TTL (6 s) plus a poll.
    wait_until(lambda: scrape(b, "/metrics/hosts") == {}, 20, "hosts to expire")
    own = scrape(b)
    assert value(own, "skein_host_metrics_hosts") == 0
    assert value(own, "skein_host_metrics_expired_total") == 2
    assert not any(name == "skein_host_last_seen_timestamp_seconds" for name, _ in own)
    b.assert_alive()
    assert b.terminate() == 0


def test_host_metrics_survive_a_restart(skeind_factory, topic_name):
    topic = topic_name("hosts")
    b = skeind_factory.new(settings={"host.metrics.topic": topic, "host.metrics.ttl.ms": "120000"}).start()
    # An expired sample set (older than the TTL) is not exported now and must not come back after restart.
    # Compressed, as an agent may send it: the exporter decompresses batches.
    produce_host_records(b, topic, [(b"gone", host_record("gone", timestamp_ms=int(time.time() * 1000) - 600_000)),
                                    (b"app-3", host_record("app-3"))], compression="zstd")
    wait_until(lambda: value(scrape(b, "/metrics/hosts"), "node_load1", host="app-3") == 0.42, 15, "app-3")
    assert b.terminate() == 0
    b.start()
    hosts = wait_until(
        lambda: (lambda s: s if value(s, "node_load1", host="app-3") == 0.42 else None)(scrape(b, "/metrics/hosts")),
        15, "app-3 read back after restart")
    assert {dict(labels)["host"] for _, labels in hosts} == {"app-3"}
    assert b.terminate() == 0


# ---------------------------------------------------------------------------------------------- systemd


def test_sockets_from_systemd_socket_activation(work_dir):
    """systemd-socket-activate binds both listeners and execs skeind on the first connection, passing them
    as LISTEN_FDS named kafka and metrics; skeind must serve on those, not bind its configured addresses."""
    import os
    import signal
    import tempfile
    from pathlib import Path

    from conftest import HOST, free_port, port_accepts, skeind_path

    activator = shutil.which("systemd-socket-activate")
    assert activator, "systemd-socket-activate is missing (Debian package systemd, installed by scripts/setup)"
    base = Path(tempfile.mkdtemp(prefix="socket-activation-", dir=work_dir))
    kafka_port, http_port, unused_kafka, unused_http = free_port(), free_port(), free_port(), free_port()
    with open(base / "skeind.stderr", "wb") as err:
        proc = subprocess.Popen(
            [activator, "-l", "%s:%d" % (HOST, kafka_port), "-l", "%s:%d" % (HOST, http_port), "--fdname=kafka:metrics",
             str(skeind_path()), "--data-dir", str(base / "data"), "--listen", "%s:%d" % (HOST, unused_kafka),
             "--http-listen", "%s:%d" % (HOST, unused_http)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
    try:
        wait_until(lambda: port_accepts(HOST, http_port), 10, "systemd-socket-activate to listen")
        # The first connection starts skeind; /health says ready once the Kafka socket is adopted too.
        wait_until(lambda: http_get("http://%s:%d/health" % (HOST, http_port), timeout=5)[0] == 200, 30,
                   "/health on the socket from systemd")
        assert kcat_metadata_ok(kafka_port)
        assert not port_accepts(HOST, unused_kafka) and not port_accepts(HOST, unused_http)
        log = (base / "skeind.stderr").read_text()
        assert "(socket from systemd)" in log, log
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # by pid: skeind runs as this very process after the exec
            proc.wait(20)
    assert proc.returncode == 0, (base / "skeind.stderr").read_text()


def kcat_metadata_ok(port: int) -> bool:
    res = subprocess.run(["kcat", "-b", "127.0.0.1:%d" % port, "-L", "-m", "10"], capture_output=True, timeout=30)
    return res.returncode == 0 and b"1 brokers" in res.stdout


# ---------------------------------------------------------------------------------------------- Prometheus


def test_a_real_prometheus_scrapes_broker_and_hosts(skeind_factory, topic_name, work_dir):
    """Debian's Prometheus, configured as the README says (honor_labels on /metrics/hosts), scrapes the
    broker every second; its query API must return the broker's metrics and each host's series under the
    host's own `host` label."""
    import os
    import signal
    import tempfile
    import urllib.parse
    from pathlib import Path

    from conftest import HOST, free_port

    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is not installed (scripts/setup installs Debian's prometheus package)"
    topic = topic_name("hosts")
    b = skeind_factory.new(settings={"host.metrics.topic": topic, "host.metrics.ttl.ms": "120000"}).start()
    produce_host_records(b, topic, [(b"web-1", host_record("web-1")), (b"db-2", host_record("db-2", load=2.5))])

    base = Path(tempfile.mkdtemp(prefix="prometheus-", dir=work_dir))
    target = "%s:%d" % (HOST, b.http_port)
    (base / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: skein\n"
        "    static_configs: [{targets: ['%s']}]\n"
        "  - job_name: skein-hosts\n"
        "    metrics_path: /metrics/hosts\n"
        "    honor_labels: true\n"
        "    static_configs: [{targets: ['%s']}]\n" % (target, target))
    port = free_port()
    with open(base / "prometheus.stderr", "wb") as err:
        proc = subprocess.Popen(
            [prometheus, "--config.file", str(base / "prometheus.yml"), "--storage.tsdb.path", str(base / "data"),
             "--web.listen-address", "%s:%d" % (HOST, port)],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)
    try:
        def query(expr):
            if proc.poll() is not None:
                from conftest import GiveUp
                raise GiveUp("prometheus exited:\n" + (base / "prometheus.stderr").read_text()[-3000:])
            url = "http://%s:%d/api/v1/query?%s" % (HOST, port, urllib.parse.urlencode({"query": expr}))
            status, _, body = http_get(url, timeout=5)
            assert status == 200, body
            return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in json.loads(body)["data"]["result"]}

        hosts = wait_until(lambda: (lambda r: r if len(r) == 2 else None)(query("node_load1")), 60,
                           "Prometheus to have node_load1 of both hosts")
        assert {dict(k)["host"]: v for k, v in hosts.items()} == {"web-1": 0.42, "db-2": 2.5}
        assert all(dict(k)["job"] == "skein-hosts" for k in hosts)
        assert wait_until(lambda: query('kafka_brokers{job="skein"}'), 30, "the broker's own metrics")
        assert list(query('skein_host_metrics_hosts{job="skein"}').values()) == [2]
        assert set(query('up').values()) == {1.0}
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # by pid: the Prometheus this test started
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
    assert b.terminate() == 0


def test_auto_created_metrics_topic_is_bounded_by_retention(skeind_factory, topic_name):
    """An agent's first produce creates the metrics topic with its own retention (and hourly segments), so a
    topic that only ever grows is trimmed; other auto-created topics keep the broker defaults."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import ConfigResource
    from conftest import admin_client
    metrics_topic = topic_name("metrics")
    broker = skeind_factory.new(settings={"host.metrics.topic": metrics_topic, "host.metrics.retention.ms": "7200000"})
    broker.start()
    other = topic_name("other")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for topic in (metrics_topic, other):
        p.produce(topic, value=b"x")
    assert p.flush(30) == 0
    admin = admin_client(broker)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in (metrics_topic, other)]
    described = {r.name: f.result(timeout=10) for r, f in admin.describe_configs(resources).items()}
    assert described[metrics_topic]["retention.ms"].value == "7200000"
    assert described[metrics_topic]["segment.ms"].value == "3600000"
    assert described[other]["retention.ms"].is_default
    assert broker.terminate() == 0


def test_line_breaks_in_group_ids_and_host_records_cannot_forge_series(skeind_factory, topic_name):
    """A CRLF in a consumer group id or in a host record's help text or label value stays inside its
    line: the scrape still passes promtool and no extra series appear."""
    topic = topic_name("hosts")
    b = skeind_factory.new(settings={"host.metrics.topic": topic}).start()
    group = "g\r\nkafka_forged 1"
    from conftest import admin_client
    from confluent_kafka import TopicPartition as TP
    from confluent_kafka import ConsumerGroupTopicPartitions
    data = topic_name("data2")
    create_topic(b, data, 1)
    admin = admin_client(b)
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, [TP(data, 0, 0)])])[group].result(10)
    record = json.dumps({"schema": "skein.host-metrics.v1", "host": "h1", "timestamp_ms": int(time.time() * 1000),
                         "families": [{"name": "node_load1", "type": "gauge", "help": "a\r\nnode_forged 1",
                                       "samples": [{"labels": {"x": "v\r\nnode_forged2 1"}, "value": 1}]}]})
    produce_host_records(b, topic, [(b"h1", record.encode())])
    own = wait_until(lambda: (lambda s: s if any(n == "kafka_consumergroup_lag" for n, _ in s) else None)(scrape(b)),
                     15, "the group's lag on /metrics")
    hosts = wait_until(lambda: scrape(b, "/metrics/hosts") or None, 15, "h1 on /metrics/hosts")
    assert not any("forged" in name for name, _ in list(own) + list(hosts))
    promtool_check(http_get(b.metrics_url + "/metrics")[2])
    promtool_check(http_get(b.metrics_url + "/metrics/hosts")[2])
    assert b.terminate() == 0
