#!/usr/bin/env python3
"""Journal shipping (issue #13): skein-agent's journald source against rsyslog (imjournal → omkafka), in one run,
reading the same journal of --entries entries, to one release skeind started here (temporary data directory, free
loopback port, stopped by pid). Run through Benchmarks/agent-journald.sh (venv with confluent-kafka, rsyslog).

The journal: an export stream generated here (numbered MESSAGEs of about --message-bytes bytes and the fields
journald gives a service's entry) written by systemd-journal-remote into WORK/journal/<this machine's id>/.
rsyslog 8.2302's imjournal can only open the system journal (sd_journal_open: no directory or namespace
option), so each shipper runs in its own mount namespace (unshare -m) in which WORK/journal is bind-mounted on
/var/log/journal: both then read "the local system journal" through libsystemd, from the same files, and the
host's own /var/log/journal is not touched. The agent uses its default (local journal), not `directory`.

For each shipper, in turn, with a fresh one-partition topic: start it (it reads the whole journal from its
start: imjournal without a state file, the agent with start_at = "beginning"), sample the read_committed end
offset and the shipper's CPU time (utime + stime of /proc/PID/stat) and VmRSS every --poll-ms, until every entry
is in the topic; read the topic back and check every entry exactly once; then leave it idle for --idle-seconds
and take its CPU time over that window.

entries/s = entries / (completion − first record visible); "from start" = entries / (completion − process start).
CPU s per million entries over [process start, completion].
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from agent_files import (Broker, cpu_seconds, create_topic, free_port, port_accepts, read_back, status_kib,
                         stop_process, wait_for)

HOST = "benchhost"
SHIPPERS = ("rsyslog", "agent")
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "6d1f3c0a11ce4b0b8d2a6f00d15ea5e5"


def make_journal(directory: Path, entries: int, message_bytes: int) -> float:
    """Writes the journal with systemd-journal-remote from a generated export stream; returns seconds taken."""
    directory.mkdir(parents=True)
    started = time.monotonic()
    proc = subprocess.Popen([JOURNAL_REMOTE, "--output=%s/system.journal" % directory, "-"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    paths = ("/api/v1/items", "/api/v1/orders/search", "/static/app.js", "/healthz", "/api/v2/users/profile")
    base = 1_764_900_000_000_000
    chunk = []
    for i in range(1, entries + 1):
        head = "seq=%07d GET %s status=%d bytes=%d ms=%d " % (i, paths[i % 5], (200, 200, 304, 404, 500)[i % 5],
                                                              (i * 7919) % 100000, i % 999)
        pad = max(1, message_bytes - len(head))
        unit = "app-%d.service" % (i % 7)
        chunk.append(
            "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n_MACHINE_ID=%s\n_HOSTNAME=web-%d\n"
            "_SYSTEMD_UNIT=%s\n_SYSTEMD_CGROUP=/system.slice/%s\n_SYSTEMD_SLICE=system.slice\n"
            "_SYSTEMD_INVOCATION_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=app\n_COMM=app\n"
            "_EXE=/usr/bin/app\n_CMDLINE=/usr/bin/app --serve\n_PID=%d\n_UID=998\n_GID=998\n_CAP_EFFECTIVE=0\n"
            "_TRANSPORT=stdout\n_STREAM_ID=89abcdef0123456789abcdef01234567\nPRIORITY=%d\nSYSLOG_FACILITY=3\n"
            "MESSAGE=%s\n\n"
            % (base + i * 100, 1_000_000 + i * 100, BOOT_ID, MACHINE_ID, i % 3, unit, unit, 1000 + i % 97,
               (6, 6, 5, 4, 3)[i % 5], head + ("abcdefghijklmnopqrstuvwxyz" * (pad // 26 + 1))[:pad]))
        if len(chunk) >= 10000:
            proc.stdin.write("".join(chunk).encode())
            chunk = []
    proc.stdin.write("".join(chunk).encode())
    proc.stdin.close()
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise SystemExit("systemd-journal-remote failed: %s" % err.decode(errors="replace")[-2000:])
    return time.monotonic() - started


MACHINE_ID = Path("/etc/machine-id").read_text().strip()


def in_namespace(journal_root: Path, argv: list[str]) -> list[str]:
    """argv run in a private mount namespace where journal_root is /var/log/journal (exec keeps the pid)."""
    quoted = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            "mount --bind '%s' /var/log/journal && exec %s" % (journal_root, quoted)]


RSYSLOG_CONF = """\
# rsyslog for the journal-shipping benchmark: imjournal reads the system journal from its start (no state file
# yet, rate limiting off), omkafka ships every entry as one JSON record (Skein's log schema) to skeind.
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imjournal" StateFile="{work}/imjournal.state" ratelimit.interval="0" ratelimit.burst="0"
       PersistStateInterval="{persist}")
module(load="omkafka")
main_queue(queue.type="LinkedList" queue.size="{queue_size}" queue.dequeueBatchSize="1024")

template(name="skein_json" type="list") {{
  constant(value="{{\\"timestamp\\":\\"")
  property(name="timereported" dateFormat="rfc3339" date.inUTC="on")
  constant(value="\\",\\"host\\":\\"")
  property(name="$!_HOSTNAME" format="json")
  constant(value="\\",\\"source\\":\\"journald\\",\\"unit\\":\\"")
  property(name="$!_SYSTEMD_UNIT" format="json")
  constant(value="\\",\\"severity\\":\\"")
  property(name="syslogseverity-text")
  constant(value="\\",\\"message\\":\\"")
  property(name="msg" format="json")
  constant(value="\\",\\"fields\\":{{\\"pid\\":\\"")
  property(name="$!_PID" format="json")
  constant(value="\\",\\"boot_id\\":\\"")
  property(name="$!_BOOT_ID" format="json")
  constant(value="\\",\\"transport\\":\\"")
  property(name="$!_TRANSPORT" format="json")
  constant(value="\\"}}}}")
}}

if $inputname == "imjournal" then {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="skein_json" key="{host}"
         partitions.usefixed="0"
         confParam=["compression.codec=lz4", "linger.ms=200", "batch.num.messages=100000",
                    "batch.size=4194304", "queue.buffering.max.messages=1000000",
                    "queue.buffering.max.kbytes=65536", "acks=all"])
  stop
}}
*.* action(type="omfile" file="{work}/rsyslogd-internal.log")
"""

AGENT_CONF = """\
# skein-agent for the journal-shipping benchmark: one journald source on the local journal, from its start.
[agent]
bootstrap = "{bootstrap}"
host_name = "{host}"
name = "bench"
state_dir = "{work}/state"
metrics_listen = "127.0.0.1:{metrics_port}"

[delivery]
topic = "{topic}"
compression = "lz4"

[sources.host_metrics]
enabled = false

[sources.journald.bench]
start_at = "beginning"
"""


def run_one(kind: str, opts, bin_dir: Path, broker: Broker, work: Path, journal_root: Path) -> dict:
    topic = "journal-%s" % kind
    create_topic(broker.bootstrap, topic)
    d = work / kind
    d.mkdir()
    log_path = d / "shipper.log"
    metrics_port = free_port()
    if kind == "rsyslog":
        conf = d / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=d, host=HOST, bootstrap=broker.bootstrap, topic=topic,
                                            queue_size=opts.rsyslog_queue_size, persist=opts.rsyslog_persist))
        argv = [shutil.which("rsyslogd") or "/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(d / "pid")]
    else:
        conf = d / "skein-agent.toml"
        conf.write_text(AGENT_CONF.format(work=d, host=HOST, bootstrap=broker.bootstrap, topic=topic,
                                          metrics_port=metrics_port))
        argv = [str(bin_dir / "skein-agent"), "--config", str(conf), "--log-level", "warning"]
    watcher = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bench-watch-%d" % time.monotonic_ns(),
                        "isolation.level": "read_committed", "enable.auto.commit": False, "log_level": 3})
    tp = TopicPartition(topic, 0)
    with open(log_path, "wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(in_namespace(journal_root, argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    try:
        samples = []
        last_change, last_end = time.monotonic(), -1
        while True:
            now = time.monotonic()
            end = watcher.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            samples.append((now, end, cpu_seconds(proc.pid), status_kib(proc.pid, "VmRSS"),
                            status_kib(proc.pid, "RssAnon")))
            if end != last_end:
                last_change, last_end = now, end
            if end >= opts.entries and now - last_change >= opts.settle_seconds:
                break
            if now - start > opts.timeout:
                raise SystemExit("%s: the topic held %d records after %.0f s (wanted %d):\n%s" % (
                    kind, end, opts.timeout, opts.entries, log_path.read_text(errors="replace")[-3000:]))
            if proc.poll() is not None:
                raise SystemExit("%s exited with %s:\n%s" % (kind, proc.returncode,
                                                             log_path.read_text(errors="replace")[-3000:]))
            time.sleep(opts.poll_ms / 1000)
        hwm_kib = status_kib(proc.pid, "VmHWM")
        idle_cpu0 = cpu_seconds(proc.pid)
        time.sleep(opts.idle_seconds)  # the idle window itself is what is measured
        idle_cpu = cpu_seconds(proc.pid) - idle_cpu0
        idle_rss = status_kib(proc.pid, "VmRSS")
        # libsystemd maps journal files (8 MiB windows, kept in a cache): the pages read show in VmRSS as
        # RssFile, page cache the kernel can take back; RssAnon is the shipper's own memory.
        idle_anon, idle_file = status_kib(proc.pid, "RssAnon"), status_kib(proc.pid, "RssFile")
        metrics = ""
        if kind == "agent":
            import urllib.request
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=5) as r:
                metrics = r.read().decode()
    finally:
        stop_process(proc, kind)
        watcher.close()

    offsets, numbers, checkpoints = read_back(broker.bootstrap, topic, last_end, opts.entries)
    missing = opts.entries - len(set(numbers))
    duplicates = len(numbers) - len(set(numbers))
    if missing:
        raise SystemExit("%s: %d of %d entries missing in %s" % (kind, missing, opts.entries, topic))
    first_at: dict[int, int] = {}
    for off, n in zip(offsets, numbers):
        first_at.setdefault(n, off)
    last_needed = max(first_at.values())
    t_first = next(t for t, end, _, _, _ in samples if end > offsets[0])
    t_done, _, cpu_done, _, _ = next(s for s in samples if s[1] > last_needed)
    result = {
        "shipper": kind, "entries": opts.entries, "seconds_from_first_record": t_done - t_first,
        "entries_per_s": opts.entries / (t_done - t_first), "seconds_from_start": t_done - start,
        "entries_per_s_from_start": opts.entries / (t_done - start),
        "cpu_s_per_million": cpu_done * 1e6 / opts.entries,
        "rss_shipping_mib": max(rss for t, _, _, rss, _ in samples if t <= t_done) / 1024, "vmhwm_mib": hwm_kib / 1024,
        "rss_anon_shipping_mib": max(anon for t, _, _, _, anon in samples if t <= t_done) / 1024,
        "rss_idle_mib": idle_rss / 1024, "rss_idle_anon_mib": idle_anon / 1024,
        "rss_idle_file_mib": idle_file / 1024, "idle_cpu_s": idle_cpu, "idle_seconds": opts.idle_seconds,
        "data_records": len(offsets), "duplicates": duplicates, "checkpoint_records": checkpoints,
    }
    if metrics:
        (d / "agent-metrics.txt").write_text(metrics)
        families = ("skein_agent_transactions_total", "skein_agent_journald_", "skein_agent_backpressure_seconds_total")
        result["agent_metrics"] = [l for l in metrics.splitlines() if l.startswith(families)]
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with the release skeind and skein-agent")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--message-bytes", type=int, default=120, help="bytes of each MESSAGE")
    ap.add_argument("--shippers", default="rsyslog,agent", help="comma-separated: rsyslog, agent")
    ap.add_argument("--rsyslog-queue-size", type=int, default=100000)
    ap.add_argument("--rsyslog-persist", type=int, default=10,
                    help="imjournal PersistStateInterval: entries between state-file writes (rsyslog's default 10)")
    ap.add_argument("--poll-ms", type=float, default=10)
    ap.add_argument("--settle-seconds", type=float, default=3)
    ap.add_argument("--idle-seconds", type=float, default=30)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = ap.parse_args()
    kinds = [k.strip() for k in opts.shippers.split(",") if k.strip()]
    if any(k not in SHIPPERS for k in kinds):
        raise SystemExit("shippers: rsyslog, agent")
    bin_dir = Path(opts.bin)
    work = Path(tempfile.mkdtemp(prefix="skein-agent-journald-"))
    broker = None
    results = []
    try:
        journal_root = work / "journal"
        seconds = make_journal(journal_root / MACHINE_ID, opts.entries, opts.message_bytes)
        size = sum(p.stat().st_size for p in journal_root.rglob("*.journal"))
        broker = Broker(bin_dir / "skeind", work)
        print("%s UTC: journal of %d entries (%.0f MB in %d file(s), written in %.0f s), skeind %s, work %s" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), opts.entries, size / 1e6,
            len(list(journal_root.rglob("*.journal"))), seconds, broker.bootstrap, work), flush=True)
        for kind in kinds:
            res = run_one(kind, opts, bin_dir, broker, work, journal_root)
            results.append(res)
            print("%-8s %9.0f entries/s (%.2f s; %.0f entries/s from start), CPU %.2f s/M entries, RSS %.1f MiB "
                  "shipping (HWM %.1f; anonymous %.1f), %.1f MiB idle (anonymous %.1f, file %.1f), idle CPU %.3f s "
                  "in %.0f s; %d duplicates" % (
                      kind, res["entries_per_s"], res["seconds_from_first_record"], res["entries_per_s_from_start"],
                      res["cpu_s_per_million"], res["rss_shipping_mib"], res["vmhwm_mib"],
                      res["rss_anon_shipping_mib"], res["rss_idle_mib"], res["rss_idle_anon_mib"],
                      res["rss_idle_file_mib"], res["idle_cpu_s"], res["idle_seconds"], res["duplicates"]), flush=True)
            for line in res.get("agent_metrics", []):
                print("    " + line, flush=True)
    finally:
        if broker is not None:
            broker.stop()
        if opts.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    def get(kind, key):
        values = [r[key] for r in results if r["shipper"] == kind]
        return statistics.median(values) if values else float("nan")

    print()
    print("| shipper | entries/s | entries/s from start | CPU s per M entries | RSS shipping (max / anonymous) MiB "
          "| RSS idle (anonymous / file) MiB | idle CPU s |")
    print("|---|---|---|---|---|---|---|")
    for kind in kinds:
        print("| %s | %s | %s | %.2f | %.1f / %.1f | %.1f (%.1f / %.1f) | %.3f in %.0f s |" % (
            kind, format(round(get(kind, "entries_per_s")), ","), format(round(get(kind, "entries_per_s_from_start")), ","),
            get(kind, "cpu_s_per_million"), get(kind, "rss_shipping_mib"), get(kind, "rss_anon_shipping_mib"),
            get(kind, "rss_idle_mib"), get(kind, "rss_idle_anon_mib"), get(kind, "rss_idle_file_mib"),
            get(kind, "idle_cpu_s"), opts.idle_seconds))
    if "rsyslog" in kinds and "agent" in kinds:
        print("\nagent / rsyslog entries/s: %.2f (goal >= 1.5); from start %.2f; CPU per entry: %.2f" % (
            get("agent", "entries_per_s") / get("rsyslog", "entries_per_s"),
            get("agent", "entries_per_s_from_start") / get("rsyslog", "entries_per_s_from_start"),
            get("agent", "cpu_s_per_million") / get("rsyslog", "cpu_s_per_million")))
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
