"""The `skein` command-line tool, run as the built binary against a real skeind, checked with independent
clients (confluent-kafka, kcat): produce/consume round trips, key placement, offsets and times, the
journalctl-like `skein logs` with its filters and time-index start, --follow, consumer groups of two
`skein consume --group` processes, admin commands, and every error path's exit status and one-line message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import IS_MOCK, create_topic, free_port, kcat, kcat_consume, skeind_path, wait_until

pytestmark = pytest.mark.skeind_only

SKEIND_SETTINGS = {"group.initial.rebalance.delay.ms": "0"}


def skein_path() -> Path:
    return skeind_path().parent / "skein"


def skein(broker, *args: str, input: bytes | None = None, timeout: float = 60.0, env: dict | None = None,
          bootstrap: bool = True) -> subprocess.CompletedProcess:
    cmd = [str(skein_path()), *args]
    if bootstrap:
        cmd += ["--bootstrap", broker.bootstrap]
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("SKEIN_BOOTSTRAP", None) if bootstrap else None
    return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, env=full_env)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, "skein exited %d\nstdout:\n%s\nstderr:\n%s" % (
        res.returncode, res.stdout.decode(errors="replace")[-3000:], res.stderr.decode(errors="replace")[-3000:])
    return res.stdout.decode()


def one_line_error(res: subprocess.CompletedProcess, status: int, *words: str):
    err = res.stderr.decode()
    assert res.returncode == status, "expected exit %d, got %d; stderr: %r" % (status, res.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, "expected one line on stderr, got %r" % err
    assert lines[0].startswith("skein: "), lines[0]
    for word in words:
        assert word in lines[0], "%r not in %r" % (word, lines[0])
    assert "Fatal error" not in err and "Stack" not in err


class Reader(threading.Thread):
    """Collects a process's stdout lines as they arrive, so a test can poll for them with a bound."""

    def __init__(self, proc: subprocess.Popen):
        super().__init__(daemon=True)
        self.proc = proc
        self.lines: list[str] = []
        self.start()

    def run(self):
        for raw in self.proc.stdout:
            self.lines.append(raw.decode().rstrip("\n"))


def spawn(broker, *args: str) -> tuple[subprocess.Popen, Reader]:
    proc = subprocess.Popen([str(skein_path()), *args, "--bootstrap", broker.bootstrap], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    return proc, Reader(proc)


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("skein did not exit within %.0fs of SIGTERM" % timeout)


def produce_with_times(broker, topic: str, values_and_times: list[tuple[bytes, int]], partition: int = 0):
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    for value, ts in values_and_times:
        p.produce(topic, value=value, timestamp=ts, partition=partition)
    assert p.flush(30) == 0


# ------------------------------------------------------------------------------------------ produce/consume


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_consume_roundtrip_per_codec(broker, topic_name, codec):
    topic = topic_name(codec)
    create_topic(broker, topic)
    lines = ["line %04d %s" % (i, "x" * (i % 50)) for i in range(500)]
    ok(skein(broker, "produce", "-t", topic, "-z", codec, input=("\n".join(lines) + "\n").encode()))
    out = ok(skein(broker, "consume", "-t", topic))
    assert out.splitlines() == lines
    # An independent client reads the same records, and the stored batches use the codec asked for.
    assert kcat_consume(broker, topic, 0, "%s\\n") == lines
    if codec != "none":
        res = kcat(broker, "-C", "-q", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", "%o\\n")
        assert len(res.stdout.decode().splitlines()) == 500


def test_keys_headers_and_json_output(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, partitions=3)
    lines = ["user-%d:event %d" % (i % 7, i) for i in range(60)]
    ok(skein(broker, "produce", "-t", topic, "-K", ":", "-H", "source=test", "-H", "batch=7",
             input="\n".join(lines).encode()))
    records = [json.loads(line) for line in ok(skein(broker, "consume", "-t", topic, "-F", "json")).splitlines()]
    assert len(records) == 60
    for record in records:
        assert set(record) == {"topic", "partition", "offset", "timestamp", "key", "headers", "value"}
        assert record["topic"] == topic
        assert record["headers"] == [{"key": "source", "value": "test"}, {"key": "batch", "value": "7"}]
        assert record["value"].startswith("event ")
    # Per partition, records keep the order they were produced in.
    by_key = {}
    for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        by_key.setdefault(record["key"], []).append(int(record["value"].split()[1]))
    for key, values in by_key.items():
        assert values == sorted(values), key
        assert len({r["partition"] for r in records if r["key"] == key}) == 1


def test_keys_land_where_confluent_kafka_puts_them(broker, topic_name):
    """`skein produce -K` and confluent-kafka with Java's partitioner (murmur2_random) agree per key."""
    ours, theirs = topic_name("skein"), topic_name("confluent")
    for topic in (ours, theirs):
        create_topic(broker, topic, partitions=6)
    keys = ["key-%d" % i for i in range(120)] + ["", "ü-ñ", "a" * 300]
    keys = [k for k in keys if k]  # an empty key is no key for `-K`
    ok(skein(broker, "produce", "-t", ours, "-K", "\t", input="".join("%s\tv\n" % k for k in keys).encode()))
    p = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random"})
    for k in keys:
        p.produce(theirs, key=k.encode(), value=b"v")
    assert p.flush(30) == 0

    def placement(topic):
        out = ok(skein(broker, "consume", "-t", topic, "-F", "json"))
        return {r["key"]: r["partition"] for r in map(json.loads, out.splitlines())}

    assert placement(ours) == placement(theirs)
    assert len(set(placement(ours).values())) == 6


def test_offsets_partitions_and_max(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, partitions=2)
    ok(skein(broker, "produce", "-t", topic, "-p", "0", input="".join("p0-%d\n" % i for i in range(100)).encode()))
    ok(skein(broker, "produce", "-t", topic, "-p", "1", input="".join("p1-%d\n" % i for i in range(50)).encode()))
    assert ok(skein(broker, "consume", "-t", topic, "-p", "0", "-o", "-3")).split() == ["p0-97", "p0-98", "p0-99"]
    assert ok(skein(broker, "consume", "-t", topic, "-p", "1", "-o", "45")).split() == ["p1-%d" % i for i in range(45, 50)]
    assert ok(skein(broker, "consume", "-t", topic, "-p", "0", "-o", "10", "-n", "4")).split() == [
        "p0-10", "p0-11", "p0-12", "p0-13"]
    both = ok(skein(broker, "consume", "-t", topic, "-o", "-2")).split()
    assert sorted(both) == ["p0-98", "p0-99", "p1-48", "p1-49"]
    assert ok(skein(broker, "consume", "-t", topic, "-o", "end")) == ""
    raw = subprocess.run([str(skein_path()), "consume", "-t", topic, "-p", "1", "-F", "raw", "--delimiter", "|",
                          "-n", "3", "--bootstrap", broker.bootstrap], capture_output=True, timeout=60)
    assert raw.returncode == 0 and raw.stdout == b"p1-0|p1-1|p1-2|"


def test_since_and_until_use_record_times(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    now = int(time.time() * 1000)
    produce_with_times(broker, topic, [(b"m%d" % i, now - (100 - i) * 60_000) for i in range(100)])  # 1/minute
    out = ok(skein(broker, "consume", "-t", topic, "--since", "10m30s")).split()
    assert out == ["m%d" % i for i in range(90, 100)]
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)
    out = ok(skein(broker, "consume", "-t", topic, "--since", iso(now - 50 * 60_000), "--until",
                   iso(now - 45 * 60_000))).split()
    assert out == ["m%d" % i for i in range(50, 56)]


def test_consume_follow_prints_a_record_produced_later(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    ok(skein(broker, "produce", "-t", topic, input=b"old\n"))
    proc, reader = spawn(broker, "consume", "-t", topic, "--follow")
    try:
        # --follow starts at the end; produce until the running consumer shows a new record (it may not
        # have fetched its start position when the first one goes out, so keep producing, bounded).
        deadline = time.monotonic() + 20
        n = 0
        while not reader.lines and time.monotonic() < deadline:
            ok(skein(broker, "produce", "-t", topic, input=b"new-%d\n" % n))
            n += 1
            end = time.monotonic() + 1.0
            while not reader.lines and time.monotonic() < end:
                time.sleep(0.05)
        assert reader.lines and reader.lines[0].startswith("new-"), reader.lines
        assert "old" not in reader.lines
    finally:
        assert stop(proc) == 0


# ------------------------------------------------------------------------------------------------- logs

SEVERITIES = ["debug", "info", "notice", "warning", "err", "crit"]


def seed_logs(broker, topic: str, count: int, span_ms: int) -> list[dict]:
    """Log records spread evenly over the last span_ms, each with the Kafka timestamp of its own time (what
    the agents do), so the broker's time index knows where each minute starts."""
    now = int(time.time() * 1000)
    entries = []
    for i in range(count):
        ts = now - span_ms + (span_ms * i) // count
        entries.append({
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + ".%03dZ" % (ts % 1000),
            "host": "web-%d" % (i % 3), "source": "journald",
            "unit": ["nginx.service", "sshd.service", "cron.service"][i % 3 == 0 and 2 or i % 2],
            "severity": SEVERITIES[i % len(SEVERITIES)],
            "message": "request %d %s" % (i, "X-timeout" if i % 4 == 0 else "ok"),
            "fields": {"pid": str(1000 + i % 10)},
            "_ts": ts,
        })
    produce_with_times(broker, topic, [(json.dumps({k: v for k, v in e.items() if k != "_ts"}).encode(), e["_ts"])
                                       for e in entries])
    return entries


def test_logs_filters_match_exactly_and_start_at_the_time_index(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, config={"segment.bytes": "65536"})
    entries = seed_logs(broker, topic, 6000, 2 * 3600 * 1000)  # two hours, ~1.2 s apart
    res = skein(broker, "logs", "-t", topic, "--since", "5m", "--severity", "warning", "--grep", "X", "--stats",
                "-o", "json")
    out = ok(res)
    cutoff = int(time.time() * 1000) - 5 * 60_000
    want = [e for e in entries if e["_ts"] >= cutoff and SEVERITIES.index(e["severity"]) >= 3
            and "X" in e["message"]]
    got = [json.loads(line) for line in out.splitlines()]
    # Records right at the cutoff may fall either side of the clock read by the test vs the tool.
    got_messages = [g["message"] for g in got]
    want_messages = [e["message"] for e in want]
    assert want_messages[-len(got_messages):] == got_messages or got_messages[-len(want_messages):] == want_messages
    assert abs(len(got_messages) - len(want_messages)) <= 1 and got_messages, (got_messages, want_messages)
    assert all(SEVERITIES.index(g["severity"]) >= 3 and "X" in g["message"] for g in got)
    # It started near the time index position: it scanned about five minutes of records, not two hours.
    stats = res.stderr.decode()
    scanned = int(stats.split("scanned ")[1].split()[0])
    in_window = sum(1 for e in entries if e["_ts"] >= cutoff)
    assert in_window <= scanned + 2 and scanned < in_window + 600, stats
    assert scanned < len(entries) // 5, stats


def test_logs_rendering_and_field_filters(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    entries = seed_logs(broker, topic, 120, 600_000)
    out = ok(skein(broker, "logs", "-t", topic, "--utc", "-o", "short-iso", "--host", "web-1", "--unit", "nginx"))
    want = [e for e in entries if e["host"] == "web-1" and e["unit"] == "nginx.service"]
    lines = out.splitlines()
    assert len(lines) == len(want) > 0
    for line, e in zip(lines, want):
        assert line == "%s web-1 nginx.service[%s]: %s" % (e["timestamp"], e["severity"], e["message"])
    out = ok(skein(broker, "logs", "-t", topic, "--field", "pid=1003", "-o", "cat"))
    assert out.splitlines() == [e["message"] for e in entries if e["fields"]["pid"] == "1003"]
    # Colour only when asked (stdout is not a terminal here).
    assert "\x1b[" not in ok(skein(broker, "logs", "-t", topic, "-n", "5"))
    coloured = ok(skein(broker, "logs", "-t", topic, "--color", "always", "--severity", "err"))
    assert "\x1b[1;31m" in coloured
    # journalctl's short format: "Nov 22 10:00:01 host unit[severity]: message".
    first = ok(skein(broker, "logs", "-t", topic, "-n", "1", "--utc")).splitlines()[0]
    month_day_time, rest = first[:15], first[16:]
    time.strptime(month_day_time, "%b %d %H:%M:%S")
    assert rest == "%s %s[%s]: %s" % (entries[0]["host"], entries[0]["unit"], entries[0]["severity"],
                                       entries[0]["message"])


def test_logs_follow_prints_new_records(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    seed_logs(broker, topic, 10, 60_000)
    proc, reader = spawn(broker, "logs", "-t", topic, "--follow", "--severity", "err", "-o", "cat")
    try:
        deadline = time.monotonic() + 20
        n = 0
        while not reader.lines and time.monotonic() < deadline:
            entry = {"timestamp": int(time.time() * 1000), "host": "h", "unit": "u", "severity": "warning",
                     "message": "skip %d" % n}
            loud = dict(entry, severity="crit", message="fresh %d" % n)
            ok(skein(broker, "produce", "-t", topic, input=(json.dumps(entry) + "\n" + json.dumps(loud) + "\n").encode()))
            n += 1
            end = time.monotonic() + 1.0
            while not reader.lines and time.monotonic() < end:
                time.sleep(0.05)
        assert reader.lines and reader.lines[0].startswith("fresh "), reader.lines
        assert not any(line.startswith("skip") for line in reader.lines)
    finally:
        assert stop(proc) == 0


# ----------------------------------------------------------------------------------------------- groups


def test_two_group_members_split_the_partitions(broker, topic_name):
    topic = topic_name()
    group = "cli-group-" + topic[-8:]
    create_topic(broker, topic, partitions=4)
    members = [spawn(broker, "consume", "-t", topic, "-g", group, "--follow", "-F", "json") for _ in range(2)]
    try:
        def two_stable_members():
            out = ok(skein(broker, "groups", "describe", group))
            return "State: Stable" in out and "Members: 2" in out
        wait_until(two_stable_members, 30, "two members in a stable group")
        lines = "".join("k%d:v%d\n" % (i, i) for i in range(400)).encode()
        ok(skein(broker, "produce", "-t", topic, "-K", ":", input=lines))
        wait_until(lambda: sum(len(r.lines) for _, r in members) >= 400, 30, "400 records across both members")
        seen = [[json.loads(line) for line in r.lines] for _, r in members]
        partitions = [{rec["partition"] for rec in s} for s in seen]
        assert partitions[0] and partitions[1] and not partitions[0] & partitions[1], partitions
        assert partitions[0] | partitions[1] == {0, 1, 2, 3}
        values = sorted(rec["value"] for s in seen for rec in s)
        assert values == sorted("v%d" % i for i in range(400))
    finally:
        statuses = [stop(proc) for proc, _ in members]
    assert statuses == [0, 0]
    # Both left cleanly after committing what they printed: the group is empty with no lag.
    out = ok(skein(broker, "groups", "describe", group))
    assert "State: Empty" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(topic)]
    assert len(rows) == 4 and all(row[4] == "0" for row in rows), out


def test_group_reset_offsets_and_describe(broker, topic_name):
    topic = topic_name()
    group = "cli-reset-" + topic[-8:]
    create_topic(broker, topic, partitions=2)
    ok(skein(broker, "produce", "-t", topic, "-p", "0", input=b"".join(b"a%d\n" % i for i in range(30))))
    ok(skein(broker, "produce", "-t", topic, "-p", "1", input=b"".join(b"b%d\n" % i for i in range(20))))
    assert len(ok(skein(broker, "consume", "-t", topic, "-g", group)).split()) == 50
    plan = ok(skein(broker, "groups", "reset-offsets", group, "-t", topic, "--shift-by", "-5"))
    assert "dry run" in plan
    out = ok(skein(broker, "groups", "describe", group))
    assert [line.split()[2:5] for line in out.splitlines() if line.startswith(topic)] == [["30", "30", "0"],
                                                                                          ["20", "20", "0"]]
    ok(skein(broker, "groups", "reset-offsets", group, "-t", topic, "--shift-by", "-5", "--execute"))
    out = ok(skein(broker, "groups", "describe", group))
    assert [line.split()[2:5] for line in out.splitlines() if line.startswith(topic)] == [["25", "30", "5"],
                                                                                          ["15", "20", "5"]]
    # confluent-kafka sees the same committed offsets.
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        assert [tp.offset for tp in committed] == [25, 15]
    finally:
        c.close()
    assert sorted(ok(skein(broker, "consume", "-t", topic, "-g", group)).split()) == sorted(
        ["a%d" % i for i in range(25, 30)] + ["b%d" % i for i in range(15, 20)])
    ok(skein(broker, "groups", "reset-offsets", group, "-t", topic, "-p", "1", "--to-earliest", "--execute"))
    assert "b0" in ok(skein(broker, "consume", "-t", topic, "-g", group)).split()
    listed = ok(skein(broker, "groups", "list"))
    assert any(line.split()[:2] == [group, "Empty"] for line in listed.splitlines())


# ------------------------------------------------------------------------------------------------ admin


def test_topics_create_describe_delete_and_cluster(broker, topic_name):
    topic = topic_name()
    out = ok(skein(broker, "topics", "create", topic, "-p", "3", "-c", "retention.ms=3600000"))
    assert "created" in out
    assert any(line.split() == [topic, "3"] for line in ok(skein(broker, "topics", "list")).splitlines())
    ok(skein(broker, "produce", "-t", topic, "-p", "2", input=b"a\nb\n"))
    described = ok(skein(broker, "topics", "describe", topic))
    assert "Partitions: 3" in described
    rows = [line.split() for line in described.splitlines() if line[:1].isdigit()]
    assert [row[:5] for row in rows] == [["0", "0", "0", "0", "0"], ["1", "0", "0", "0", "0"],
                                         ["2", "0", "0", "2", "2"]]
    # BYTES, from DescribeLogDirs: empty partitions take none, the one with two records some.
    assert [row[5] for row in rows[:2]] == ["0", "0"] and int(rows[2][5]) > 0, described
    assert any(line.split()[:3] == ["retention.ms", "3600000", "topic"] for line in described.splitlines())
    cluster = ok(skein(broker, "cluster"))
    assert "%s:%d" % (broker.host, broker.port) in cluster
    assert any(line.split()[:2] == ["Produce", "0"] for line in cluster.splitlines())
    assert topic in cluster
    ok(skein(broker, "topics", "delete", topic))
    assert topic not in ok(skein(broker, "topics", "list"))
    ok(skein(broker, "topics", "delete", topic, "--if-exists"))


def test_help_has_examples_for_every_command(broker):
    commands = [["produce"], ["consume"], ["logs"], ["topics"], ["topics", "list"], ["topics", "create"],
                ["topics", "delete"], ["topics", "describe"], ["groups"], ["groups", "list"],
                ["groups", "describe"], ["groups", "reset-offsets"], ["groups", "delete"], ["topics", "alter-config"],
                ["topics", "add-partitions"], ["topics", "delete-records"],
                ["transactions"], ["transactions", "list"], ["transactions", "describe"],
                ["cluster"], ["bench"], ["bench", "produce"], ["bench", "consume"], ["bench", "group"]]
    for command in commands:
        res = skein(broker, *command, "--help", bootstrap=False)
        text = res.stdout.decode()
        assert res.returncode == 0, command
        assert "Example" in text and "skein " + command[0] in text.split("Example", 1)[1], command
        if command not in (["topics"], ["groups"], ["bench"], ["transactions"]):
            assert "--bootstrap" in text, command


def test_bootstrap_from_environment(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    env = dict(os.environ, SKEIN_BOOTSTRAP=broker.bootstrap)
    res = subprocess.run([str(skein_path()), "produce", "-t", topic], input=b"via-env\n", capture_output=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([str(skein_path()), "consume", "-t", topic], capture_output=True, env=env, timeout=60)
    assert res.stdout == b"via-env\n"


# ------------------------------------------------------------------------------------------------ errors


def test_error_paths_exit_non_zero_with_one_line(broker, topic_name):
    missing = topic_name("missing")
    one_line_error(skein(broker, "consume", "-t", missing), 2, "unknown topic", missing)
    one_line_error(skein(broker, "logs", "-t", missing), 2, "unknown topic")
    one_line_error(skein(broker, "topics", "describe", missing), 2, "unknown topic")
    one_line_error(skein(broker, "topics", "delete", missing), 2, "unknown topic")
    one_line_error(skein(broker, "groups", "describe", "no-such-group-" + missing[-8:]), 2, "no consumer group")
    closed = free_port()
    for args in (["consume", "-t", "x"], ["topics", "list"], ["cluster"], ["logs"], ["groups", "list"]):
        res = subprocess.run([str(skein_path()), *args, "--bootstrap", "127.0.0.1:%d" % closed],
                             capture_output=True, timeout=60)
        one_line_error(res, 3, "cannot reach a broker", "127.0.0.1:%d" % closed)
    res = subprocess.run([str(skein_path()), "produce", "-t", "x", "--bootstrap", "127.0.0.1:%d" % closed],
                         input=b"a\n", capture_output=True, timeout=60)
    one_line_error(res, 3, "cannot reach a broker")
    existing = topic_name("exists")
    create_topic(broker, existing)
    one_line_error(skein(broker, "topics", "create", existing), 1, "already exists")
    one_line_error(skein(broker, "consume", "-t", existing, "-p", "7"), 2, "no partition 7")
    usage = [
        ["consume"], ["consume", "-t", existing, "-o", "ten"], ["consume", "-t", existing, "--since", "soon"],
        ["consume", "-t", existing, "-F", "xml"], ["logs", "--severity", "loud"], ["logs", "--grep", "(unclosed"],
        ["logs", "--field", "novalue"], ["produce", "-t", existing, "-z", "brotli"], ["produce", "-t", existing,
                                                                                        "--acks", "2"],
        ["groups", "reset-offsets", "g", "-t", existing], ["consume", "-t", existing, "--follow", "--until", "1m"],
        ["nonsense"], ["consume", "-t", existing, "--no-such-flag"],
    ]
    for args in usage:
        one_line_error(skein(broker, *args), 64)


def test_topics_alter_config_and_groups_delete(broker, topic_name):
    from confluent_kafka.admin import ConfigResource
    from conftest import admin_client
    topic = topic_name()
    create_topic(broker, topic)
    ok(skein(broker, "topics", "alter-config", topic, "--set", "retention.ms=3600000", "--set",
             "segment.bytes=1048576"))

    def configs():
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        admin = admin_client(broker)
        return admin.describe_configs([resource])[resource].result(timeout=10)

    described = configs()
    assert described["retention.ms"].value == "3600000" and described["segment.bytes"].value == "1048576"
    ok(skein(broker, "topics", "alter-config", topic, "--delete", "retention.ms"))
    described = configs()
    assert described["retention.ms"].is_default and described["segment.bytes"].value == "1048576"
    one_line_error(skein(broker, "topics", "alter-config", topic, "--set", "no.such.setting=1"), 64, "no.such.setting")
    one_line_error(skein(broker, "topics", "alter-config", topic, "--set", "retention.ms=soon"), 64, "retention.ms")
    one_line_error(skein(broker, "topics", "alter-config", topic_name("gone"), "--set", "retention.ms=1"), 2,
                   "unknown topic")

    group = "cli-delete-" + topic[-8:]
    ok(skein(broker, "produce", "-t", topic, input=b"a\nb\n"))
    proc, reader = spawn(broker, "consume", "-t", topic, "-g", group, "--follow")
    try:
        wait_until(lambda: len(reader.lines) == 2, 30, "the member read both records")
        one_line_error(skein(broker, "groups", "delete", group), 1, "active members")
    finally:
        assert stop(proc) == 0
    ok(skein(broker, "groups", "delete", group))
    one_line_error(skein(broker, "groups", "describe", group), 2, "no consumer group")
    one_line_error(skein(broker, "groups", "delete", group), 2, "no consumer group")


def test_group_consume_with_max_commits_only_what_it_printed(broker, topic_name):
    topic = topic_name()
    group = "cli-max-" + topic[-8:]
    create_topic(broker, topic)
    ok(skein(broker, "produce", "-t", topic, input=b"".join(b"%d\n" % i for i in range(10))))
    assert ok(skein(broker, "consume", "-t", topic, "-g", group, "-n", "2")).split() == ["0", "1"]
    assert ok(skein(broker, "consume", "-t", topic, "-g", group, "-n", "3")).split() == ["2", "3", "4"]
    assert ok(skein(broker, "consume", "-t", topic, "-g", group)).split() == [str(i) for i in range(5, 10)]


def test_logs_are_in_time_order_across_partitions_and_polls(broker, topic_name):
    """A busy partition's backlog spans several fetches; entries of a quieter partition must still come out
    in their place, not between two halves of the backlog."""
    topic = topic_name()
    create_topic(broker, topic, partitions=2)
    now = int(time.time() * 1000)
    big = [(json.dumps({"message": "A%04d" % i, "pad": "x" * 2000}).encode(), now - 200_000 + i) for i in range(1000)]
    produce_with_times(broker, topic, big, partition=0)
    late = [(json.dumps({"message": "B%d" % i}).encode(), now - 100_000 + i) for i in range(5)]
    produce_with_times(broker, topic, late, partition=1)
    out = ok(skein(broker, "logs", "-t", topic, "-o", "cat")).split()
    assert out == ["A%04d" % i for i in range(1000)] + ["B%d" % i for i in range(5)]
    # --max counts in that order too.
    assert ok(skein(broker, "logs", "-t", topic, "-o", "cat", "-n", "1000")).split()[-1] == "A0999"
    assert ok(skein(broker, "logs", "-t", topic, "-o", "cat", "-n", "1001")).split()[-1] == "B0"


def test_logs_until_keeps_entries_shipped_late(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    now = int(time.time() * 1000)
    entry = {"timestamp": now - 120_000, "message": "written two minutes ago, shipped now"}
    produce_with_times(broker, topic, [(json.dumps(entry).encode(), now)])
    assert ok(skein(broker, "logs", "-t", topic, "--until", "1m", "-o", "cat")).strip() == entry["message"]


def test_extreme_times_and_shifts_are_usage_errors_or_clamped(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic)
    ok(skein(broker, "produce", "-t", topic, input=b"a\nb\n"))
    for since in ("@1e300", "@nan", "999999999999999999999d"):
        one_line_error(skein(broker, "consume", "-t", topic, "--since", since), 64, "cannot read time")
    # Before 1970 means from the beginning; far in the future means nothing.
    assert ok(skein(broker, "consume", "-t", topic, "--since", "3000w")).split() == ["a", "b"]
    assert ok(skein(broker, "consume", "-t", topic, "--since", "@-0.001")).split() == ["a", "b"]
    assert ok(skein(broker, "consume", "-t", topic, "--until", "9223372036854775807")).split() == ["a", "b"]
    group = "cli-shift-" + topic[-8:]
    ok(skein(broker, "consume", "-t", topic, "-g", group))
    ok(skein(broker, "groups", "reset-offsets", group, "-t", topic, "--shift-by", "9223372036854775807", "--execute"))
    ok(skein(broker, "groups", "reset-offsets", group, "-t", topic, "--shift-by", "-9223372036854775808", "--execute"))
    rows = [line.split() for line in ok(skein(broker, "groups", "describe", group)).splitlines() if line.startswith(topic)]
    assert rows[0][2] == "0"
    # A log record with an absurd timestamp falls back to the record's time instead of crashing the reader.
    produce_with_times(broker, topic, [(json.dumps({"timestamp": 1e300, "message": "odd"}).encode(), int(time.time() * 1000))])
    assert "odd" in ok(skein(broker, "logs", "-t", topic, "-o", "cat")).split()
