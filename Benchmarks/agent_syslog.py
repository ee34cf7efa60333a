#!/usr/bin/env python3
"""Syslog over TCP (issue #13): skein-agent against rsyslog, in one run, the same sender and the same lines.

--lines RFC 5424 lines of about --line-bytes bytes (newline included, numbered `seq=NNNNNNN`) are generated once.
For each receiver in turn, one sender thread connects to its TCP port and writes the whole input as fast as the
connection takes it (newline framing), then closes:
  agent    skein-agent [sources.syslog.bench] tcp → skeind (release), exactly-once delivery, lz4;
  omfile   rsyslogd imtcp → omfile, one JSON line per message (the fields of Skein's log schema);
  omkafka  rsyslogd imtcp → omkafka (lz4, acks=all, batching as in Benchmarks/agent_files.py) → the same skeind.
Each receiver runs in the foreground with its own configuration, work directory and pid file, stopped by pid.

Done = the last line committed (agent, omkafka: the read_committed end offset passed the last data record, found
by reading the topic back; every line checked present) or written (omfile: the file holds --lines lines). lines/s =
lines / (done − start of the send). CPU seconds: utime + stime from /proc/PID/stat over the same interval.
Reuses the broker, topic and read-back helpers of Benchmarks/agent_files.py. Run through Benchmarks/agent-syslog.sh.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_files import (  # noqa: E402 - the sibling module, found through the path set just above
    Broker, cpu_seconds, create_topic, free_port, port_accepts, read_back, status_kib, stop_process, wait_for)
from confluent_kafka import Consumer, TopicPartition  # noqa: E402

HOST = "benchhost"
RECEIVERS = ("agent", "omfile", "omkafka")

JSON_TEMPLATE = """\
template(name="skein_json" type="list") {
  constant(value="{\\"timestamp\\":\\"")
  property(name="timereported" dateFormat="rfc3339" date.inUTC="on")
  constant(value="\\",\\"host\\":\\"")
  property(name="hostname" format="json")
  constant(value="\\",\\"source\\":\\"syslog\\",\\"unit\\":\\"")
  property(name="app-name" format="json")
  constant(value="\\",\\"severity\\":\\"")
  property(name="syslogseverity-text")
  constant(value="\\",\\"message\\":\\"")
  property(name="msg" format="json")
  constant(value="\\",\\"fields\\":{\\"facility\\":\\"")
  property(name="syslogfacility-text")
  constant(value="\\",\\"remote_addr\\":\\"")
  property(name="fromhost-ip")
  constant(value="\\"}}\\n")
}
"""

RSYSLOG_HEAD = """\
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
""" + JSON_TEMPLATE.replace("{", "{{").replace("}", "}}") + """
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="ship")
"""

RSYSLOG_OMFILE = RSYSLOG_HEAD + """\
ruleset(name="ship") {{
  action(type="omfile" file="{out}" template="skein_json")
}}
*.* action(type="omfile" file="{work}/rsyslogd-internal.log")
"""

RSYSLOG_OMKAFKA = RSYSLOG_HEAD + """\
module(load="omkafka")
ruleset(name="ship" queue.type="LinkedList" queue.size="100000" queue.dequeueBatchSize="1024") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="skein_json" key="{host}"
         partitions.usefixed="0"
         confParam=["compression.codec=lz4", "linger.ms=200", "batch.num.messages=100000",
                    "batch.size=4194304", "queue.buffering.max.messages=1000000",
                    "queue.buffering.max.kbytes=65536", "acks=all"])
}}
*.* action(type="omfile" file="{work}/rsyslogd-internal.log")
"""

AGENT_CONF = """\
[agent]
bootstrap = "{bootstrap}"
host_name = "{host}"
name = "bench"
state_dir = "{work}/state"
metrics_listen = "127.0.0.1:{metrics_port}"
{agent_extra}
[delivery]
topic = "{topic}"
compression = "lz4"
{delivery_extra}

[sources.host_metrics]
enabled = false

[sources.syslog.bench]
tcp = ["127.0.0.1:{port}"]
"""


def make_input(path: Path, lines: int, line_bytes: int):
    """RFC 5424 lines, each exactly line_bytes long with its newline."""
    paths = ("/api/v1/items", "/api/v1/orders/search", "/static/app.js", "/healthz", "/api/v2/users/profile")
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(1, lines + 1):
            head = "<134>1 2026-12-05T01:%02d:%02d.%03dZ web-%d app %d - - seq=%07d GET %s status=%d ms=%d " % (
                (i // 60000) % 60, (i // 1000) % 60, i % 1000, i % 7, 1000 + i % 97, i, paths[i % 5],
                (200, 200, 304, 404, 500)[i % 5], i % 999)
            pad = line_bytes - 1 - len(head)
            if pad < 1:
                raise SystemExit("--line-bytes %d is too short for the line prefix (%d)" % (line_bytes, len(head)))
            f.write((head + ("abcdefghijklmnopqrstuvwxyz" * (pad // 26 + 1))[:pad] + "\n").encode())


def send(path: Path, port: int, marks: dict):
    with socket.create_connection(("127.0.0.1", port)) as s, open(path, "rb") as f:
        marks["send_start"] = time.monotonic()
        while chunk := f.read(1 << 20):
            s.sendall(chunk)
        marks["send_end"] = time.monotonic()


def count_lines(path: Path, state: dict) -> int:
    """Newlines in the file so far, reading only what was added since the last call."""
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        f.seek(state.get("pos", 0))
        data = f.read()
    state["pos"] = state.get("pos", 0) + len(data)
    state["lines"] = state.get("lines", 0) + data.count(b"\n")
    return state["lines"]


def run_one(kind: str, opts, bin_dir: Path, broker: Broker, work: Path, input_path: Path) -> dict:
    d = work / kind
    d.mkdir()
    port = free_port()
    topic = "syslog-%s" % kind
    out = d / "out.jsonl"
    log = open(d / "stdout.log", "wb")
    if kind == "agent":
        metrics_port = free_port()
        conf = d / "skein-agent.toml"
        create_topic(broker.bootstrap, topic)
        conf.write_text(AGENT_CONF.format(bootstrap=broker.bootstrap, host=HOST, work=d, metrics_port=metrics_port,
                                          topic=topic, port=port, agent_extra="\n".join(opts.agent_set),
                                          delivery_extra="\n".join(opts.delivery_set)))
        command = [str(bin_dir / "skein-agent"), "--config", str(conf), "--log-level", "warning"]
    else:
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        conf = d / "rsyslog.conf"
        template = RSYSLOG_OMFILE if kind == "omfile" else RSYSLOG_OMKAFKA
        if kind == "omkafka":
            create_topic(broker.bootstrap, topic)
        conf.write_text(template.format(work=d, port=port, out=out, bootstrap=broker.bootstrap, topic=topic, host=HOST))
        command = [rsyslogd, "-n", "-f", str(conf), "-i", str(d / "rsyslogd.pid")]
    proc = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    watcher = None
    try:
        wait_for(lambda: proc.poll() is not None or port_accepts(port), 60, "%s to listen on %d" % (kind, port))
        if proc.poll() is not None:
            raise SystemExit("%s exited with %s; see %s" % (kind, proc.returncode, d / "stdout.log"))
        if kind != "omfile":
            watcher = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "w-%d" % time.monotonic_ns(),
                                "isolation.level": "read_committed", "enable.auto.commit": False, "log_level": 3})
        tp = TopicPartition(topic, 0)
        marks: dict = {}
        cpu_before = cpu_seconds(proc.pid)
        sender = threading.Thread(target=send, args=(input_path, port, marks))
        sender.start()
        samples, state = [], {}
        last_change, last_value = time.monotonic(), -1
        while True:
            now = time.monotonic()
            if watcher is not None:
                value = watcher.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            else:
                value = count_lines(out, state)
            samples.append((now, value, cpu_seconds(proc.pid), status_kib(proc.pid, "VmRSS")))
            if value != last_value:
                last_change, last_value = now, value
            if value >= opts.lines and (watcher is None or now - last_change >= 2.0) and not sender.is_alive():
                break
            if now - marks.get("send_start", now) > opts.timeout:
                raise SystemExit("%s: %d after %.0f s (wanted %d lines)" % (kind, value, opts.timeout, opts.lines))
            if proc.poll() is not None:
                raise SystemExit("%s exited with %s" % (kind, proc.returncode))
            time.sleep(opts.poll_ms / 1000)
        sender.join()
        if kind == "agent":
            import urllib.request
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
                text = r.read().decode()
            wanted = ("skein_agent_backpressure_seconds_total", "skein_agent_transactions_total")
            agent_metrics = [l for l in text.splitlines() if l.startswith(wanted)]
    finally:
        stop_process(proc, kind)
        if watcher is not None:
            watcher.close()
        log.close()

    if watcher is None:
        t_done = next(t for t, v, _, _ in samples if v >= opts.lines)
        numbers = [int(line[line.find(b"seq=") + 4:line.find(b"seq=") + 11]) for line in out.read_bytes().splitlines()]
        needed_ok = len(set(numbers)) == opts.lines
    else:
        offsets, numbers, _ = read_back(broker.bootstrap, topic, last_value, opts.lines)
        needed_ok = len(set(numbers)) == opts.lines
        first_at: dict[int, int] = {}
        for off, n in zip(offsets, numbers):
            first_at.setdefault(n, off)
        last_needed = max(first_at.values())
        t_done = next(t for t, v, _, _ in samples if v > last_needed)
    if not needed_ok:
        raise SystemExit("%s: %d of %d lines arrived" % (kind, len(set(numbers)), opts.lines))
    cpu_done = next(c for t, _, c, _ in samples if t >= t_done)
    seconds = t_done - marks["send_start"]
    return {
        "receiver": kind, "lines": opts.lines, "seconds": seconds, "lines_per_s": opts.lines / seconds,
        "send_seconds": marks["send_end"] - marks["send_start"], "cpu_seconds": cpu_done - cpu_before,
        "rss_max_mib": max(r for t, _, _, r in samples if t <= t_done) / 1024,
        "duplicates": len(numbers) - len(set(numbers)),
        **({"agent_metrics": agent_metrics} if kind == "agent" else {}),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with the release skeind and skein-agent")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--line-bytes", type=int, default=150)
    ap.add_argument("--receivers", default=",".join(RECEIVERS))
    ap.add_argument("--poll-ms", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--agent-set", action="append", default=[], help="extra TOML line for the agent's [agent]")
    ap.add_argument("--delivery-set", action="append", default=[], help="extra TOML line for [delivery]")
    opts = ap.parse_args()
    bin_dir = Path(opts.bin)
    work = Path(tempfile.mkdtemp(prefix="skein-syslog-bench-"))
    try:
        input_path = work / "input.log"
        make_input(input_path, opts.lines, opts.line_bytes)
        broker = Broker(bin_dir / "skeind", work)
        results = []
        try:
            for kind in opts.receivers.split(","):
                result = run_one(kind, opts, bin_dir, broker, work, input_path)
                results.append(result)
                print("%-8s %9.0f lines/s  %6.2f s  CPU %6.2f s  RSS max %6.1f MiB  duplicates %d"
                      % (kind, result["lines_per_s"], result["seconds"], result["cpu_seconds"], result["rss_max_mib"],
                         result["duplicates"]), flush=True)
                for line in result.get("agent_metrics", []):
                    print("         " + line)
        finally:
            broker.stop()
        by = {r["receiver"]: r for r in results}
        if "agent" in by:
            for other, goal in (("omfile", 1.0), ("omkafka", 1.5)):
                if other in by:
                    print("agent / rsyslog %s: %.2fx lines/s (goal >= %.1f), CPU seconds %.2fx"
                          % (other, by["agent"]["lines_per_s"] / by[other]["lines_per_s"], goal,
                             by["agent"]["cpu_seconds"] / by[other]["cpu_seconds"]))
        if opts.json:
            Path(opts.json).write_text(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                                                   "results": results}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
