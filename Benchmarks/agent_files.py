#!/usr/bin/env python3
"""File shipping (issue #12): skein-agent against rsyslog (imfile → omkafka), in one run on the same input, to one
release skeind started here (temporary data directory, free loopback port, stopped by pid). Run through
Benchmarks/agent-files.sh, which provides the venv with confluent-kafka and installs rsyslog if missing.

For each shipper, in turn (alternating when --rounds > 1), with a fresh one-partition topic and a fresh, empty
followed file:
1. the shipper starts in the foreground with its own configuration, work directory and pid file and follows the
   file (rsyslog: imfile in inotify mode, omkafka with lz4 and batching; the agent: [sources.files.bench] with
   start_at = "beginning"); the run waits (bounded) until the shipper has the file open;
2. --lines lines of --line-bytes bytes (pre-generated, numbered) are appended to the file as fast as possible;
3. a read_committed client polls the partition's end offset (ListOffsets, every --poll-ms), and the shipper's CPU
   time (utime + stime of /proc/PID/stat) and VmRSS are sampled with it;
4. once the end offset has stopped moving, the topic is read back (read_committed) and checked: every line
   exactly once. The agent also writes checkpoint records (header `skein.checkpoint`) and transaction markers
   take offsets, so the offset of the last data record, not the record count, says when the topic held all
   lines; the first sample whose end offset is past it is the completion time;
5. then the shipper stays idle for --idle-seconds: its CPU time over that window and its VmRSS after it.

lines/s = lines / (completion − first data record visible); "from append" = lines / (completion − start of the
append). CPU s per million lines over [start of append, completion]. RSS while shipping: the highest sampled VmRSS
between the start of the append and completion, and VmHWM (the peak since the process started).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TICKS = os.sysconf("SC_CLK_TCK")
HOST = "benchhost"
SHIPPERS = ("rsyslog", "agent")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


def status_kib(pid: int, field: str) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen, name: str):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)  # by pid: only the process this script started
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            print("%s did not stop within 30 s of SIGTERM; SIGKILL" % name, file=sys.stderr)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


class Broker:
    def __init__(self, skeind: Path, work: Path):
        self.port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.log = open(work / "skeind.log", "wb")
        self.proc = subprocess.Popen(
            [str(skeind), "--data-dir", str(work / "data"), "--listen", self.bootstrap, "--http-listen", "off",
             "--log-level", "warning"], stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL,
            start_new_session=True)
        wait_for(lambda: port_accepts(self.port) or self.proc.poll() is not None, 30, "skeind to listen")
        if self.proc.poll() is not None:
            raise SystemExit("skeind exited with %s; see %s" % (self.proc.returncode, self.log.name))

    def stop(self):
        stop_process(self.proc, "skeind")


def create_topic(bootstrap: str, name: str):
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(30)


def make_input(path: Path, lines: int, line_bytes: int):
    """Numbered lines shaped like an access log, each exactly line_bytes long with its newline."""
    paths = ("/api/v1/items", "/api/v1/orders/search", "/static/app.js", "/healthz", "/api/v2/users/profile")
    with open(path, "wb", buffering=1 << 20) as f:
        for i in range(1, lines + 1):
            head = "2026-12-05T01:%02d:%02d.%03dZ web-%d app[%d]: seq=%07d GET %s status=%d bytes=%d ms=%d " % (
                (i // 60000) % 60, (i // 1000) % 60, i % 1000, i % 7, 1000 + i % 97, i, paths[i % 5],
                (200, 200, 304, 404, 500)[i % 5], (i * 7919) % 100000, i % 999)
            pad = line_bytes - 1 - len(head)
            if pad < 1:
                raise SystemExit("--line-bytes %d is too short for the line prefix (%d)" % (line_bytes, len(head)))
            f.write((head + ("abcdefghijklmnopqrstuvwxyz" * (pad // 26 + 1))[:pad] + "\n").encode())


# ---------------------------------------------------------------------------------------------- shippers


RSYSLOG_CONF = """\
# rsyslog for the file-shipping benchmark: imfile follows one file (inotify), omkafka ships every line as one
# JSON record (the fields of Skein's log schema) to skeind. Nothing else is loaded.
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="omkafka")

template(name="skein_json" type="list") {{
  constant(value="{{\\"timestamp\\":\\"")
  property(name="timegenerated" dateFormat="rfc3339" date.inUTC="on")
  constant(value="\\",\\"host\\":\\"{host}\\",\\"source\\":\\"file\\",\\"unit\\":\\"")
  property(name="$!metadata!filename" format="json")
  constant(value="\\",\\"message\\":\\"")
  property(name="msg" format="json")
  constant(value="\\",\\"fields\\":{{\\"path\\":\\"")
  property(name="$!metadata!filename" format="json")
  constant(value="\\"}}}}")
}}

ruleset(name="ship" queue.type="LinkedList" queue.size="{queue_size}" queue.dequeueBatchSize="{dequeue_batch}") {{
  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="skein_json" key="{host}"
         partitions.usefixed="0"
         confParam=["compression.codec=lz4", "linger.ms=200", "batch.num.messages=100000",
                    "batch.size=4194304", "queue.buffering.max.messages=1000000",
                    "queue.buffering.max.kbytes=65536", "acks=all"])
}}

input(type="imfile" file="{file}" tag="app" ruleset="ship" addMetadata="on" freshStartTail="off")

# rsyslog's own messages (errors from omkafka, imfile) go to a file in the work directory.
*.* action(type="omfile" file="{work}/rsyslogd-internal.log")
"""

AGENT_CONF = """\
# skein-agent for the file-shipping benchmark: one file source read from the beginning.
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

[sources.files.bench]
paths = ["{file}"]
start_at = "beginning"
"""


class Shipper:
    name = "?"

    def __init__(self, work: Path, followed: Path, bootstrap: str, topic: str):
        self.work, self.followed, self.bootstrap, self.topic = work, followed, bootstrap, topic
        self.log_path = work / (self.name + ".log")
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)

    def has_file_open(self) -> bool:
        if self.proc.poll() is not None:
            raise SystemExit("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
        fd_dir = Path("/proc/%d/fd" % self.proc.pid)
        for fd in fd_dir.iterdir():
            try:
                if os.readlink(fd) == str(self.followed):
                    return True
            except OSError:
                continue
        return False

    def ready(self) -> bool:
        return self.has_file_open()

    def started(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return "\n".join(text[-lines:])

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, self.name)


class Rsyslog(Shipper):
    name = "rsyslog"

    def __init__(self, queue_size: int, *args):
        self.queue_size = queue_size
        super().__init__(*args)

    def command(self) -> list[str]:
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        conf = self.work / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=self.work, host=HOST, bootstrap=self.bootstrap, topic=self.topic,
                                            file=self.followed, queue_size=self.queue_size, dequeue_batch=1024))
        return [rsyslogd, "-n", "-f", str(conf), "-i", str(self.work / "rsyslogd.pid")]

    def log_tail(self, lines: int = 40) -> str:
        internal = self.work / "rsyslogd-internal.log"
        extra = internal.read_text(errors="replace").splitlines()[-lines:] if internal.exists() else []
        return super().log_tail(lines) + "\n" + "\n".join(extra)


class Agent(Shipper):
    name = "agent"

    def __init__(self, agent: Path, agent_extra: list[str], delivery_extra: list[str], *args):
        self.agent = agent
        self.agent_extra, self.delivery_extra = agent_extra, delivery_extra
        super().__init__(*args)
        self.metrics_port = free_port()

    def command(self) -> list[str]:
        conf = self.work / "skein-agent.toml"
        conf.write_text(AGENT_CONF.format(work=self.work, host=HOST, bootstrap=self.bootstrap, topic=self.topic,
                                          file=self.followed, metrics_port=self.metrics_port,
                                          agent_extra="\n".join(self.agent_extra),
                                          delivery_extra="\n".join(self.delivery_extra)))
        return [str(self.agent), "--config", str(conf), "--log-level", "warning"]

    def ready(self) -> bool:
        return self.has_file_open() and port_accepts(self.metrics_port)

    def started(self) -> bool:
        return self.proc.poll() is None and port_accepts(self.metrics_port)

    def metrics(self) -> str:
        import urllib.request
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as r:
                return r.read().decode()
        except OSError as e:
            return "# /metrics failed: %s\n" % e


# ---------------------------------------------------------------------------------------------- one run


def append(src: Path, dst: Path, marks: dict):
    marks["append_start"] = time.monotonic()
    with open(src, "rb") as s:
        fd = os.open(dst, os.O_WRONLY | os.O_APPEND)
        try:
            while chunk := s.read(1 << 20):
                os.write(fd, chunk)
        finally:
            os.close(fd)
    marks["append_end"] = time.monotonic()


def read_back(bootstrap: str, topic: str, end: int, lines: int, timeout: float = 300):
    """Reads the partition read_committed to `end` and returns (offsets of data records in order, line numbers
    seen, checkpoint records). A data record's line number is the seq=NNNNNNN of its line."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-read-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": "read_committed",
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 8388608, "log_level": 3})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    offsets, numbers, checkpoints = [], [], 0
    deadline = time.monotonic() + timeout
    done = False
    while not done:
        if time.monotonic() > deadline:
            raise SystemExit("read-back of %s did not reach offset %d in %.0fs" % (topic, end, timeout))
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    done = m.offset() >= end
                    continue
                raise SystemExit("consumer error %s" % m.error())
            headers = m.headers() or []
            if any(k == "skein.checkpoint" for k, _ in headers):
                checkpoints += 1
                continue
            value = m.value()
            at = value.find(b"seq=")
            if at < 0:
                raise SystemExit("record at offset %d of %s has no line number: %r" % (m.offset(), topic, value[:200]))
            offsets.append(m.offset())
            numbers.append(int(value[at + 4:at + 11]))
    c.close()
    return offsets, numbers, checkpoints


def run_one(kind: str, opts, bin_dir: Path, broker: Broker, work: Path, input_path: Path, round_no: int) -> dict:
    topic = "files-%s-%d" % (kind, round_no)
    create_topic(broker.bootstrap, topic)
    d = work / ("%s-%d" % (kind, round_no))
    d.mkdir()
    followed = d / "app.log"
    followed.touch()
    if kind == "rsyslog":
        shipper: Shipper = Rsyslog(opts.rsyslog_queue_size, d, followed, broker.bootstrap, topic)
    else:
        shipper = Agent(bin_dir / "skein-agent", opts.agent_set, opts.delivery_set, d, followed, broker.bootstrap, topic)
    watcher = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bench-watch-%d" % time.monotonic_ns(),
                        "isolation.level": "read_committed", "enable.auto.commit": False, "log_level": 3})
    tp = TopicPartition(topic, 0)
    shipper.start()
    try:
        try:
            wait_for(shipper.ready, 20, "%s to open %s" % (kind, followed))
        except SystemExit:
            # A shipper that opens the file only when it grows is ready once it runs and listens.
            wait_for(shipper.started, 40, "%s to start" % kind)
            print("%s: %s is not open after 20 s; starting the append anyway" % (kind, followed), file=sys.stderr)
        pid = shipper.proc.pid
        # Samples: (monotonic time, read_committed end offset, shipper CPU seconds, VmRSS KiB).
        marks: dict = {}
        cpu_before = cpu_seconds(pid)
        writer = threading.Thread(target=append, args=(input_path, followed, marks))
        start = time.monotonic()
        writer.start()
        samples = []
        last_change, last_end = time.monotonic(), -1
        poll = opts.poll_ms / 1000
        while True:
            now = time.monotonic()
            end = watcher.get_watermark_offsets(tp, timeout=10, cached=False)[1]
            samples.append((now, end, cpu_seconds(pid), status_kib(pid, "VmRSS")))
            if end != last_end:
                last_change, last_end = now, end
            if end >= opts.lines and now - last_change >= opts.settle_seconds and not writer.is_alive():
                break
            if now - start > opts.timeout:
                raise SystemExit("%s: the topic held %d records after %.0f s (wanted %d lines):\n%s"
                                 % (kind, end, opts.timeout, opts.lines, shipper.log_tail()))
            if shipper.proc.poll() is not None:
                raise SystemExit("%s exited with %s:\n%s" % (kind, shipper.proc.returncode, shipper.log_tail()))
            time.sleep(poll)
        writer.join()
        hwm_kib = status_kib(pid, "VmHWM")
        idle_cpu0 = cpu_seconds(pid)
        time.sleep(opts.idle_seconds)  # the idle window itself is what is measured
        idle_cpu = cpu_seconds(pid) - idle_cpu0
        idle_rss = status_kib(pid, "VmRSS")
        metrics = shipper.metrics() if isinstance(shipper, Agent) else ""
    finally:
        shipper.stop()
        watcher.close()

    offsets, numbers, checkpoints = read_back(broker.bootstrap, topic, last_end, opts.lines)
    missing = opts.lines - len(set(numbers))
    duplicates = len(numbers) - len(set(numbers))
    out_of_order = sum(1 for a, b in zip(numbers, numbers[1:]) if b <= a)
    if missing or len(offsets) < opts.lines:
        raise SystemExit("%s: %d of %d lines missing in %s (%d data records)" % (kind, missing, opts.lines, topic,
                                                                              len(offsets)))
    # The topic held every line once the read_committed end offset passed the first copy of each line.
    first_at: dict[int, int] = {}
    for off, n in zip(offsets, numbers):
        first_at.setdefault(n, off)
    last_needed = max(first_at.values())
    first_data = offsets[0]
    t_first = next(t for t, end, _, _ in samples if end > first_data)
    done = next(s for s in samples if s[1] > last_needed)
    t_done, _, cpu_done, _ = done
    shipping_rss = max(rss for t, _, _, rss in samples if t <= t_done)
    seconds = t_done - t_first
    result = {
        "shipper": kind, "round": round_no, "topic": topic, "lines": opts.lines,
        "seconds_from_first_record": seconds, "lines_per_s": opts.lines / seconds,
        "seconds_from_append": t_done - marks["append_start"],
        "lines_per_s_from_append": opts.lines / (t_done - marks["append_start"]),
        "append_seconds": marks["append_end"] - marks["append_start"],
        "cpu_s_per_million": (cpu_done - cpu_before) * 1e6 / opts.lines,
        "rss_shipping_mib": shipping_rss / 1024, "vmhwm_mib": hwm_kib / 1024,
        "rss_idle_mib": idle_rss / 1024, "idle_cpu_s": idle_cpu, "idle_seconds": opts.idle_seconds,
        "data_records": len(offsets), "duplicates": duplicates, "out_of_order": out_of_order,
        "checkpoint_records": checkpoints, "end_offset": last_end,
        "other_offsets": last_end - len(offsets) - checkpoints,
    }
    if metrics:
        (d / "agent-metrics.txt").write_text(metrics)
        families = ("skein_agent_transactions_total", "skein_agent_log_records_committed_total",
                    "skein_agent_checkpoints_total", "skein_agent_exactly_once", "skein_agent_backpressure_seconds_total")
        result["agent_metrics"] = [l for l in metrics.splitlines() if l.startswith(families)]
    return result


# ---------------------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with the release skeind and skein-agent")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--line-bytes", type=int, default=150, help="bytes per line, newline included")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, each shipping the input once per shipper")
    ap.add_argument("--shippers", default="rsyslog,agent", help="comma-separated: rsyslog, agent")
    ap.add_argument("--rsyslog-queue-size", type=int, default=100000,
                    help="messages in rsyslog's queue for the shipping ruleset (rsyslog's main-queue default)")
    ap.add_argument("--agent-set", action="append", default=[], metavar="'KEY = VALUE'",
                    help="an extra TOML line for the agent's [agent] table, e.g. 'memory_cap = \"256MiB\"'")
    ap.add_argument("--delivery-set", action="append", default=[], metavar="'KEY = VALUE'",
                    help="an extra TOML line for the agent's [delivery] table, e.g. 'batch_max_bytes = 16777216'")
    ap.add_argument("--poll-ms", type=float, default=10, help="interval of end-offset and /proc samples")
    ap.add_argument("--settle-seconds", type=float, default=3,
                    help="the end offset must stay unchanged this long before the run ends")
    ap.add_argument("--idle-seconds", type=float, default=10)
    ap.add_argument("--timeout", type=float, default=600, help="per shipper and round")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs, data)")
    opts = ap.parse_args()
    kinds = [k.strip() for k in opts.shippers.split(",") if k.strip()]
    for k in kinds:
        if k not in SHIPPERS:
            raise SystemExit("unknown shipper %r (rsyslog, agent)" % k)
    bin_dir = Path(opts.bin)
    needed = [bin_dir / "skeind"] + ([bin_dir / "skein-agent"] if "agent" in kinds else [])
    for exe in needed:
        if not os.access(exe, os.X_OK):
            raise SystemExit("missing %s (swift build -c release)" % exe)

    work = Path(tempfile.mkdtemp(prefix="skein-agent-files-"))
    broker = None
    results = []
    try:
        input_path = work / "input.log"
        make_input(input_path, opts.lines, opts.line_bytes)
        broker = Broker(bin_dir / "skeind", work)
        print("%s UTC: %d lines of %d bytes (%.1f MB), skeind %s, work %s" % (
            datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), opts.lines, opts.line_bytes,
            input_path.stat().st_size / 1e6, broker.bootstrap, work), flush=True)
        for r in range(1, opts.rounds + 1):
            order = kinds if r % 2 else list(reversed(kinds))
            for kind in order:
                res = run_one(kind, opts, bin_dir, broker, work, input_path, r)
                results.append(res)
                print("round %d %-8s %9.0f lines/s (%.2f s; %.0f lines/s from the append), CPU %.2f s/M lines, "
                      "RSS %.1f MiB shipping (HWM %.1f), %.1f MiB idle (idle CPU %.2f s in %.0f s); "
                      "%d checkpoint, %d other offsets, %d duplicates" % (
                          r, kind, res["lines_per_s"], res["seconds_from_first_record"],
                          res["lines_per_s_from_append"], res["cpu_s_per_million"], res["rss_shipping_mib"],
                          res["vmhwm_mib"], res["rss_idle_mib"], res["idle_cpu_s"], res["idle_seconds"],
                          res["checkpoint_records"], res["other_offsets"], res["duplicates"]), flush=True)
                for line in res.get("agent_metrics", []):
                    print("    " + line, flush=True)
    finally:
        if broker is not None:
            broker.stop()
        if opts.keep:
            print("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    def med(kind, key):
        values = [r[key] for r in results if r["shipper"] == kind]
        return statistics.median(values) if values else float("nan")

    print()
    print("| shipper | lines/s | lines/s from append | CPU s per M lines | RSS shipping (max VmRSS / VmHWM) MiB "
          "| RSS idle MiB | idle CPU s |")
    print("|---|---|---|---|---|---|---|")
    for kind in kinds:
        print("| %s | %s | %s | %.2f | %.1f / %.1f | %.1f | %.2f in %.0f s |" % (
            kind, format(round(med(kind, "lines_per_s")), ","), format(round(med(kind, "lines_per_s_from_append")), ","),
            med(kind, "cpu_s_per_million"), med(kind, "rss_shipping_mib"), med(kind, "vmhwm_mib"),
            med(kind, "rss_idle_mib"), med(kind, "idle_cpu_s"), opts.idle_seconds))
    if "rsyslog" in kinds and "agent" in kinds:
        ratio = med("agent", "lines_per_s") / med("rsyslog", "lines_per_s")
        print("\nagent / rsyslog lines/s: %.2f (goal >= 1.5); CPU per line: %.2f" % (
            ratio, med("agent", "cpu_s_per_million") / med("rsyslog", "cpu_s_per_million")))
    if opts.rounds > 1:
        for kind in kinds:
            print("%s per round lines/s: %s" % (kind, " ".join("%.0f" % r["lines_per_s"] for r in results
                                                               if r["shipper"] == kind)))
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
