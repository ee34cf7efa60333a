"""The Grafana dashboards and Prometheus alerts in dashboards/ against what skeind and skein-agent really export.

A real skeind is driven through produce, a consumer group, retention, an error response and a skein-agent run;
its /metrics and /metrics/hosts are scraped and every scraped sample becomes a promtool input series (job and
instance labels added as Prometheus would). Then, with Debian's promtool:
- every dashboard target (template variables replaced by a match-all regex) is a recording rule that must
  return data, and so is every template variable's label_values() query;
- every alert fires in a scenario that changes the values of the scraped series it watches, and none fires on
  the unchanged scrape.
A renamed metric on either side leaves a rule without data or an alert silent, and the test fails.
The agents dashboard and the agent alerts are checked the same way against the own /metrics of a real
skein-agent shipping a log file (its metrics_listen).
Finally a real Prometheus scrapes a broker and its query API returns an agent's host metrics.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from conftest import HOST, REPO, create_topic, free_port, wait_until
from kafkawire import Conn, build_batch, parse_produce_v3_response, produce_v3_request
from agentharness import write_journal
from test_agent import Agent, agent_path

pytestmark = pytest.mark.skeind_only("scrapes skeind's HTTP listener")

SKEIND_SETTINGS = {"log.retention.check.interval.ms": "300", "group.initial.rebalance.delay.ms": "0"}

DASHBOARDS = REPO / "dashboards"
AGENT_HOST = "dash-host"
EVAL = "50m"  # late enough for every alert's `for` and range
POINTS = 60  # one input point per minute


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is not installed (scripts/setup installs Debian's prometheus package)"
    return path


# ---------------------------------------------------------------------------------------------- scraping


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, "unparseable exposition line: %r" % line
        labels = {k: v.encode().decode("unicode_escape") for k, v in _LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def raw_produce_error(broker, topic: str):
    """A Produce to a partition that does not exist: answered with an error code (outcome="error")."""
    with Conn(broker.host, broker.port) as c:
        _, parts, _ = parse_produce_v3_response(
            c.roundtrip(produce_v3_request(77, topic, 9, build_batch([(None, b"x")]))))
    assert parts[0][2] != 0, parts


@pytest.fixture(scope="module")
def scraped(broker, tmp_path_factory):
    """(series of /metrics, series of /metrics/hosts) after exercising every part of the broker."""
    data_topic, retained_topic, group = "dash-data-%d" % os.getpid(), "dash-retained-%d" % os.getpid(), "dash-group"
    create_topic(broker, data_topic, 2)
    create_topic(broker, retained_topic, 1, {"segment.bytes": "2048", "retention.bytes": "2048"})
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(200):
        p.produce(data_topic, b"value-%d" % i, key=b"k%d" % i)
        p.poll(0)
    assert p.flush(30) == 0
    for i in range(40):  # one batch per flush: segments of 2 KiB roll and retention deletes the oldest
        p.produce(retained_topic, b"r" * 300)
        assert p.flush(10) == 0

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([data_topic])
    seen = 0
    deadline = time.monotonic() + 30
    while seen < 200 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen += 1
    assert seen == 200, "consumed only %d records" % seen
    c.commit(asynchronous=False)
    for i in range(50):  # lag: produced after the commit
        p.produce(data_topic, b"late-%d" % i, key=b"k%d" % i)
    assert p.flush(30) == 0
    raw_produce_error(broker, data_topic)

    agent = Agent(["--bootstrap", broker.bootstrap, "--interval", "1", "--host-name", AGENT_HOST],
                  tmp_path_factory.mktemp("agent") / "agent.stderr")
    try:
        wait_until(lambda: 'node_load1{host="%s"}' % AGENT_HOST in http_text(broker.metrics_url + "/metrics/hosts"),
                   30, "the agent's host on /metrics/hosts")
    finally:
        assert agent.stop() == 0, agent.log()

    def retention_ran():
        text = http_text(broker.metrics_url + "/metrics")
        return 'skein_log_retention_deleted_segments_total{topic="%s"}' % retained_topic in text

    wait_until(retention_ran, 30, "retention to delete a segment of %s" % retained_topic)
    # Lag is read when scraped; the group stays as committed (the consumer is still a member).
    broker_series = parse_exposition(http_text(broker.metrics_url + "/metrics"))
    host_series = parse_exposition(http_text(broker.metrics_url + "/metrics/hosts"))
    c.close()
    return broker_series, host_series


AGENT_INSTANCE = "agent-1:9645"


@pytest.fixture(scope="module")
def agent_scraped(broker, tmp_path_factory):
    """Series of a real skein-agent's own /metrics after it shipped a log file that was then truncated in the
    middle of a line (one line lost) and appended to."""
    base = tmp_path_factory.mktemp("agent-logs")
    logs = base / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.write_text("".join("dash line %d\n" % i for i in range(100)))
    topic = "dash-logs-%d" % os.getpid()
    create_topic(broker, topic, 1)
    port = free_port()
    syslog_port = free_port()
    # The syslog and journald sources too, so their panels and alerts are checked against real series.
    journal = write_journal(base / "journal", "dash", "dash-journal", 1, 5).parent
    config = base / "agent.toml"
    config.write_text("\n".join([
        "[agent]", 'bootstrap = "%s"' % broker.bootstrap, 'host_name = "%s"' % AGENT_HOST, 'name = "dash"',
        'state_dir = "%s"' % (base / "state"), "",
        "[delivery]", 'topic = "%s"' % topic, "batch_linger_ms = 10", "",
        "[sources.host_metrics]", "enabled = false", "",
        "[sources.files.dash]", 'paths = ["%s/*.log"]' % logs, 'start_at = "beginning"', "",
        "[sources.syslog.dash]", 'udp = ["%s:%d"]' % (HOST, syslog_port), "",
        "[sources.journald.dash]", 'directory = "%s"' % journal, ""]))
    agent = Agent(["--config", str(config), "--metrics-listen", "%s:%d" % (HOST, port)], base / "agent.stderr")
    url = "http://%s:%d/metrics" % (HOST, port)

    def total(name: str):
        assert agent.alive(), agent.log()
        try:
            text = http_text(url)
        except OSError:
            return None
        return sum(v for n, _, v in parse_exposition(text) if n == name)

    def committed(count: int):
        return (total("skein_agent_log_records_committed_total") or 0) >= count

    try:
        wait_until(lambda: committed(105), 60, "the agent to commit the first 100 lines and 5 journal entries")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sender.sendto(b"<134>1 2026-12-05T04:00:00Z web-1 app 42 - - dash syslog line", (HOST, syslog_port))
        finally:
            sender.close()
        wait_until(lambda: committed(106), 60, "the agent to commit the syslog message")
        # A line cut off by a truncation without a copy: provably lost, so the loss and drop families have
        # series (they exist only once something was lost).
        with log.open("a") as f:
            f.write("dash partial line, never finished")
        size = log.stat().st_size
        wait_until(lambda: (total("skein_agent_file_bytes_read_total") or 0) >= size, 60,
                   "the agent to read the partial line")
        log.write_text("")  # truncated: reading restarts at 0
        with log.open("a") as f:
            f.write("".join("dash after truncate %d\n" % i for i in range(20)))
        wait_until(lambda: committed(126), 60, "the agent to commit the lines written after the truncation")
        wait_until(lambda: (total("skein_agent_file_lines_lost_total") or 0) >= 1, 30,
                   "the agent to count the lost partial line")
        series = parse_exposition(http_text(url))
    finally:
        assert agent.stop() == 0, agent.log()
    return series


# ---------------------------------------------------------------------------------------------- promtool input


def series_selector(name: str, labels: dict) -> str:
    inner = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n"))
                     for k, v in sorted(labels.items()))
    return "%s{%s}" % (name, inner)


def number(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Inf" if v > 0 else "-Inf"
    return repr(v)


def baseline(scraped) -> list[tuple[str, dict, float]]:
    """Every scraped sample with the labels Prometheus adds, plus `up` for both jobs."""
    broker_series, host_series = scraped
    instance = "broker-1:9644"
    out = [(n, dict(l, job="skein", instance=instance), v) for n, l, v in broker_series]
    # honor_labels keeps the exported labels; job and instance come from the scrape config.
    out += [(n, dict({"job": "skein-hosts", "instance": instance}, **l), v) for n, l, v in host_series]
    out += [("up", {"job": "skein", "instance": instance}, 1.0),
            ("up", {"job": "skein-hosts", "instance": instance}, 1.0)]
    return out


def input_series(samples, override=None) -> list[dict]:
    """Constant series (rate() of them is 0, which still is data) unless `override(name, labels, value)` gives
    a promtool value string."""
    out = []
    for name, labels, value in samples:
        values = override(name, labels, value) if override else None
        out.append({"series": series_selector(name, labels),
                    "values": values or "%sx%d" % (number(value), POINTS)})
    return out


def agent_baseline(agent_series) -> list[tuple[str, dict, float]]:
    """The agent's own series as Prometheus stores them under job skein-agent, plus its `up`."""
    out = [(n, dict(l, job="skein-agent", instance=AGENT_INSTANCE), v) for n, l, v in agent_series]
    return out + [("up", {"job": "skein-agent", "instance": AGENT_INSTANCE}, 1.0)]


def substitute(expr: str) -> str:
    for var in ("$topic", "$group", "$host", "$instance", "$source", "${topic}", "${group}", "${host}",
                "${instance}", "${source}"):
        expr = expr.replace(var, ".*")
    return expr.replace("$__rate_interval", "5m")


AGENT_DASHBOARDS = {"skein-agents.json"}


def dashboard_targets(agent: bool = False) -> list[tuple[str, str]]:
    """(rule name, expr) for every dashboard target and every label_values() template query: of the broker
    and hosts dashboards, or (`agent`) of the dashboards over agents' own /metrics."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        if (path.name in AGENT_DASHBOARDS) != agent:
            continue
        d = json.loads(path.read_text())
        slug = re.sub(r"[^a-zA-Z0-9_]", "_", d["uid"])
        for p in d["panels"]:
            for t in p.get("targets", []):
                out.append(("dashboard:%s:panel%d_%s" % (slug, p["id"], t["refId"]), substitute(t["expr"])))
        for v in d["templating"]["list"]:
            if v["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", v["query"]["query"])
            assert m, "unsupported template query %r" % v["query"]
            out.append(("dashboard:%s:variable_%s" % (slug, v["name"]),
                        "count by (%s) (%s)" % (m.group(2), m.group(1))))
    return out


def run_promtool_test(tmp_path: Path, rules: list[dict], tests: list[dict]) -> None:
    rule_file = tmp_path / "dashboard-rules.json"
    rule_file.write_text(json.dumps({"groups": [{"name": "dashboards", "interval": "1m", "rules": rules}]}))
    shutil.copy(DASHBOARDS / "alerts.yml", tmp_path / "alerts.yml")
    test_file = tmp_path / "tests.json"
    test_file.write_text(json.dumps({"rule_files": [rule_file.name, "alerts.yml"], "evaluation_interval": "1m",
                                     "tests": tests}, indent=1))
    res = subprocess.run([promtool(), "test", "rules", test_file.name], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, "promtool test rules failed:\n%s%s" % (res.stdout[-20000:], res.stderr[-5000:])


def has_data(expr: str) -> dict:
    return {"expr": "count(%s) > bool 0" % expr, "eval_time": EVAL, "exp_samples": [{"labels": "{}", "value": 1}]}


# ---------------------------------------------------------------------------------------------- tests


def test_alert_rules_pass_promtool_check():
    res = subprocess.run([promtool(), "check", "rules", str(DASHBOARDS / "alerts.yml")], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: %d rules found" % len(declared_alerts()) in res.stdout


def test_dashboard_files_are_generated_and_well_formed():
    sys.path.insert(0, str(DASHBOARDS))
    try:
        import generate
    finally:
        sys.path.pop(0)
    for name, build in generate.OUTPUTS.items():
        committed = (DASHBOARDS / name).read_text()
        assert committed == generate.render(build()), "%s is stale: run dashboards/generate.py" % name
        d = json.loads(committed)
        assert d["uid"] and d["title"] and isinstance(d["schemaVersion"], int)
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
        graphs = [p for p in d["panels"] if p["type"] != "row"]
        assert graphs and all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in graphs)
    variables = {n: [v["name"] for v in json.loads((DASHBOARDS / n).read_text())["templating"]["list"]]
                 for n in generate.OUTPUTS}
    assert {"topic", "group"} <= set(variables["skein-broker.json"])
    assert "host" in variables["skein-hosts.json"]
    assert {"instance", "source"} <= set(variables["skein-agents.json"])


def test_every_dashboard_expression_returns_data_over_a_real_scrape(scraped, tmp_path):
    targets = dashboard_targets()
    assert len(targets) > 60
    rules = [{"record": name, "expr": expr} for name, expr in targets]
    checks = [has_data(name) for name, _ in targets]
    run_promtool_test(tmp_path, rules, [{"interval": "1m", "input_series": input_series(baseline(scraped)),
                                         "promql_expr_test": checks}])


def test_every_agent_dashboard_expression_returns_data_over_a_real_agent_scrape(agent_scraped, tmp_path):
    targets = dashboard_targets(agent=True)
    assert len(targets) > 15
    rules = [{"record": name, "expr": expr} for name, expr in targets]
    checks = [has_data(name) for name, _ in targets]
    run_promtool_test(tmp_path, rules, [{"interval": "1m", "input_series": input_series(agent_baseline(agent_scraped)),
                                         "promql_expr_test": checks}])


def declared_alerts() -> list[str]:
    return re.findall(r"^\s+- alert: (\w+)$", (DASHBOARDS / "alerts.yml").read_text(), re.M)


def _filesystem_sizes(samples):
    return {frozenset((k, v) for k, v in l.items()): v for n, l, v in samples if n == "node_filesystem_size_bytes"}


def alert_scenarios(samples):
    """alert name → (metric names it needs in the scrape, override(name, labels, value) → values or None)."""
    sizes = _filesystem_sizes(samples)

    def grow(step):
        return lambda v: "%s+%gx%d" % (number(v), step, POINTS)

    def fsync_slow(name, labels, v):
        if name == "skein_log_fsync_duration_seconds_bucket":
            le = float(labels["le"])
            return grow(10)(v) if le >= 1 else None
        if name == "skein_log_fsync_duration_seconds_count":
            return grow(10)(v)
        return None

    def disk_full(name, labels, v):
        if name == "node_filesystem_avail_bytes":
            key = frozenset((k, x) for k, x in labels.items())
            return "%sx%d" % (number(sizes[key] * 0.05), POINTS)
        if name == "node_filesystem_readonly":  # whatever this machine mounts read-only
            return "0x%d" % POINTS
        return None

    return {
        "SkeinBrokerDown": (["up"], lambda n, l, v: "0x%d" % POINTS if n == "up" and l["job"] == "skein" else None),
        "SkeinConsumerLagGrowing": (["kafka_consumergroup_lag"],
                                    lambda n, l, v: "2000+100x%d" % POINTS if n == "kafka_consumergroup_lag" else None),
        "SkeinFsyncSlow": (["skein_log_fsync_duration_seconds_bucket", "skein_log_fsync_duration_seconds_count"],
                           fsync_slow),
        "SkeinRequestErrors": (["skein_requests_total"],
                               lambda n, l, v: grow(10)(v) if n == "skein_requests_total" and l["outcome"] == "error"
                               else None),
        "SkeinHostMetricsMalformed": (["skein_host_metrics_malformed_total"],
                                      lambda n, l, v: grow(1)(v) if n == "skein_host_metrics_malformed_total" else None),
        "SkeinHostSilent": (["skein_host_last_seen_timestamp_seconds"],
                            lambda n, l, v: "0x%d" % POINTS if n == "skein_host_last_seen_timestamp_seconds" else None),
        "SkeinHostGone": (["skein_host_last_seen_timestamp_seconds"],
                          lambda n, l, v: "%sx20 _x%d" % (number(v), POINTS - 20)
                          if n == "skein_host_last_seen_timestamp_seconds" else None),
        "SkeinHostDiskNearlyFull": (["node_filesystem_avail_bytes", "node_filesystem_size_bytes",
                                     "node_filesystem_readonly"], disk_full),
        "SkeinAgentDroppingSamples": (["skein_agent_records_dropped_total"],
                                      lambda n, l, v: grow(1)(v) if n == "skein_agent_records_dropped_total" else None),
    }


def agent_alert_scenarios():
    """Like alert_scenarios, for the alerts over agents' own /metrics."""
    def grow(step):
        return lambda v: "%s+%gx%d" % (number(v), step, POINTS)

    return {
        "SkeinAgentLogsLagging": (["skein_agent_file_lag_bytes"],
                                  lambda n, l, v: "100000000+1000x%d" % POINTS if n == "skein_agent_file_lag_bytes"
                                  else None),
        "SkeinAgentLinesLost": (["skein_agent_file_lines_lost_total"],
                                lambda n, l, v: grow(1)(v) if n == "skein_agent_file_lines_lost_total" else None),
        "SkeinAgentSyslogDropping": (["skein_agent_source_dropped_total"],
                                     lambda n, l, v: grow(1)(v) if n == "skein_agent_source_dropped_total"
                                     and l.get("reason") == "udp_overflow" else None),
        "SkeinAgentSyslogKernelDrops": (["skein_agent_syslog_udp_kernel_drops_total"],
                                        lambda n, l, v: grow(1)(v) if n == "skein_agent_syslog_udp_kernel_drops_total"
                                        else None),
        "SkeinAgentJournalGap": (["skein_agent_journald_gaps_total"],
                                 lambda n, l, v: grow(1)(v) if n == "skein_agent_journald_gaps_total" else None),
    }


def alert_tests(samples, scenarios) -> list[dict]:
    names = {n for n, _, _ in samples}
    tests = []
    for alert, (needs, override) in scenarios.items():
        missing = [n for n in needs if n not in names]
        assert not missing, "%s: %s not in the scrape (renamed?)" % (alert, missing)
        tests.append({"name": alert, "interval": "1m", "input_series": input_series(samples, override),
                      "promql_expr_test": [{
                          "expr": 'count(ALERTS{alertname="%s", alertstate="firing"}) > bool 0' % alert,
                          "eval_time": EVAL, "exp_samples": [{"labels": "{}", "value": 1}]}]})
    return tests


def test_every_alert_fires_on_real_series_and_none_on_the_scrape_itself(scraped, tmp_path):
    samples = baseline(scraped)
    scenarios = alert_scenarios(samples)
    assert sorted(declared_alerts()) == sorted(list(scenarios) + list(agent_alert_scenarios())), \
        "every alert needs a scenario here"
    tests = alert_tests(samples, scenarios)
    # The unchanged scrape (a healthy broker; filesystems half full whatever this machine's disk is) fires nothing.
    sizes = _filesystem_sizes(samples)
    half_full = (lambda n, l, v: "%sx%d" % (number(sizes[frozenset(l.items())] * 0.5), POINTS)
                 if n == "node_filesystem_avail_bytes" else None)
    tests.append({"name": "healthy", "interval": "1m", "input_series": input_series(samples, half_full),
                  "promql_expr_test": [{"expr": 'count(ALERTS) or vector(0)', "eval_time": EVAL,
                                        "exp_samples": [{"labels": "{}", "value": 0}]}]})
    run_promtool_test(tmp_path, [], tests)


def test_every_agent_alert_fires_on_real_agent_series_and_none_on_the_scrape_itself(agent_scraped, tmp_path):
    samples = agent_baseline(agent_scraped)
    tests = alert_tests(samples, agent_alert_scenarios())
    tests.append({"name": "healthy agent", "interval": "1m", "input_series": input_series(samples),
                  "promql_expr_test": [{"expr": 'count(ALERTS) or vector(0)', "eval_time": EVAL,
                                        "exp_samples": [{"labels": "{}", "value": 0}]}]})
    run_promtool_test(tmp_path, [], tests)


# ---------------------------------------------------------------------------------------------- real Prometheus


def prometheus_query(base: str, query: str) -> list:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_real_prometheus_scrapes_host_metrics_of_an_agent(broker, tmp_path):
    exe = shutil.which("prometheus")
    assert exe, "prometheus is not installed (scripts/setup installs Debian's prometheus package)"
    target = "%s:%d" % (HOST, broker.http_port)
    shutil.copy(DASHBOARDS / "alerts.yml", tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": "skein", "metrics_path": "/metrics", "static_configs": [{"targets": [target]}]},
            {"job_name": "skein-hosts", "metrics_path": "/metrics/hosts", "honor_labels": True,
             "static_configs": [{"targets": [target]}]},
        ]}))
    port = free_port()
    base = "http://%s:%d" % (HOST, port)
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([exe, "--config.file", str(tmp_path / "prometheus.yml"),
                             "--storage.tsdb.path", str(tmp_path / "tsdb"),
                             "--web.listen-address", "%s:%d" % (HOST, port)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    agent = Agent(["--bootstrap", broker.bootstrap, "--interval", "1", "--host-name", "prom-host"],
                  tmp_path / "agent.stderr")
    try:
        def ready():
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                return r.status == 200

        wait_until(ready, 30, "prometheus to be ready", interval=0.2)
        # A few intervals of the agent, scraped every second through the broker.
        result = wait_until(lambda: prometheus_query(base, 'node_load1{host="prom-host"}'), 60,
                            "node_load1 of prom-host in Prometheus", interval=0.5)
        assert result[0]["metric"]["job"] == "skein-hosts"
        assert float(result[0]["value"][1]) >= 0
        # The first answer can come from two scrapes of one sample set (rate 0): wait for a rate over two sets.
        def cpu_rate():
            result = prometheus_query(
                base, 'sum by (host) (rate(node_cpu_seconds_total{host="prom-host"}[10s]))')
            return result if result and float(result[0]["value"][1]) > 0 else None

        cpu = wait_until(cpu_rate, 60, "a CPU rate over several sample sets", interval=0.5)
        assert float(cpu[0]["value"][1]) > 0
        assert prometheus_query(base, 'up{job="skein"}')[0]["value"][1] == "1"
        seen = prometheus_query(base, 'time() - skein_host_last_seen_timestamp_seconds{host="prom-host"}')
        assert seen and float(seen[0]["value"][1]) < 30
        with urllib.request.urlopen(base + "/api/v1/rules", timeout=5) as r:
            groups = json.loads(r.read())["data"]["groups"]
        assert sum(len(g["rules"]) for g in groups) == len(declared_alerts())
        assert all(rule["health"] != "err" for g in groups for rule in g["rules"])
    finally:
        assert agent.stop() == 0, agent.log()
        if prom.poll() is None:
            os.kill(prom.pid, signal.SIGTERM)
            try:
                prom.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(prom.pid, signal.SIGKILL)
                prom.wait(10)
