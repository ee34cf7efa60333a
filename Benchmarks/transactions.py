#!/usr/bin/env python3
"""Transactions benchmark (issue #11), against one release skeind started here (temporary data directory, free
loopback port, stopped by pid). Run through Benchmarks/transactions.sh, which provides the venv with
confluent-kafka.

(i) Produce: confluent-kafka (librdkafka 2.16), the same records (count, size, partitions) idempotent-only
    (enable.idempotence, acks=all) and transactional with one commit per --commit-ms, rounds alternating the two
    so machine noise falls on both. records/s = records / (first produce to flush() or the last commit returned).
(ii) Consume: one topic written by transactions of --txn-records records spread over every partition, every
    --abort-every-th aborted (flushed first, so that its records are in the log). Then, alternating, the same
    data read to its end read_uncommitted and read_committed by two readers: `skein bench consume` (raw Fetch,
    the broker's cost; it counts every batch it is sent) and a confluent-kafka consumer (which drops aborted
    records and control batches itself, so it delivers fewer records; its rate is given per log offset read
    and per record delivered). A last, untimed read_committed run of `skein bench consume` under
    `strace -c -f -e trace=sendfile,pread64,preadv,read` shows which calls moved the data.
For every timed run, skeind's CPU time (utime + stime from /proc/PID/stat) is reported too.
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
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


class Broker:
    def __init__(self, skeind: Path, work: Path):
        self.port = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.log = open(work / "skeind.log", "wb")
        self.proc = subprocess.Popen(
            [str(skeind), "--data-dir", str(work / "data"), "--listen", self.bootstrap, "--http-listen", "off",
             "--log-level", "warning"], stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("skeind did not start; see %s" % self.log.name)
                time.sleep(0.05)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def create_topic(bootstrap: str, name: str, partitions: int):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(30)


PRODUCER = {"acks": "all", "enable.idempotence": True, "linger.ms": 5, "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1000000, "queue.buffering.max.kbytes": 1048576}


def produce_one(p: Producer, topic: str, value: bytes, partition: int):
    for _ in range(100000):
        try:
            p.produce(topic, value, partition=partition)
            return
        except BufferError:
            p.poll(0.01)
    raise SystemExit("producer queue stayed full")


def run_idempotent(bootstrap, topic, records, value, partitions):
    p = Producer(dict(PRODUCER, **{"bootstrap.servers": bootstrap}))
    p.list_topics(topic, timeout=10)
    start = time.monotonic()
    for i in range(records):
        produce_one(p, topic, value, i % partitions)
        if i % 1000 == 0:
            p.poll(0)
    if p.flush(120) != 0:
        raise SystemExit("idempotent produce did not finish")
    return time.monotonic() - start, 0


def run_transactional(bootstrap, topic, records, value, partitions, commit_ms, txn_id):
    p = Producer(dict(PRODUCER, **{"bootstrap.servers": bootstrap, "transactional.id": txn_id}))
    p.init_transactions(30)
    p.list_topics(topic, timeout=10)
    start = time.monotonic()
    commits, i = 0, 0
    while i < records:
        p.begin_transaction()
        until = time.monotonic() + commit_ms / 1000
        while i < records and (i % 1000 or time.monotonic() < until):
            produce_one(p, topic, value, i % partitions)
            i += 1
            if i % 1000 == 0:
                p.poll(0)
        p.commit_transaction(60)
        commits += 1
    return time.monotonic() - start, commits


def fill_mixed(bootstrap, topic, records, value, partitions, txn_records, abort_every):
    p = Producer(dict(PRODUCER, **{"bootstrap.servers": bootstrap, "transactional.id": "bench-mixed"}))
    p.init_transactions(30)
    n, i, aborted = 0, 0, 0
    while i < records:
        n += 1
        p.begin_transaction()
        for _ in range(min(txn_records, records - i)):
            produce_one(p, topic, value, i % partitions)
            i += 1
        if n % abort_every == 0:
            p.flush(60)  # librdkafka purges unsent records on abort; these must be in the log
            p.abort_transaction(60)
            aborted += 1
        else:
            p.commit_transaction(60)
    return n, aborted


def bench_consume(skein: Path, bootstrap: str, topic: str, isolation: str, strace: bool = False,
                  broker_pid: int = 0, work: Path | None = None):
    tracer, trace_out = None, None
    if strace:
        trace_out = work / ("strace-%s.txt" % isolation)
        attached = work / ("strace-%s.stderr" % isolation)
        with open(attached, "wb") as err:
            tracer = subprocess.Popen(["strace", "-c", "-f", "-e", "trace=sendfile,pread64,preadv,read", "-o",
                                       str(trace_out), "-p", str(broker_pid)], stderr=err)
        # Wait (bounded) until strace reports skeind attached ("Process N attached with T threads").
        deadline = time.monotonic() + 20
        while "attached" not in attached.read_text():
            if time.monotonic() > deadline or tracer.poll() is not None:
                raise SystemExit("strace did not attach: %s" % attached.read_text())
            time.sleep(0.05)
    out = subprocess.run([str(skein), "bench", "consume", "--bootstrap", bootstrap, "--topic", topic,
                          "--from", "beginning", "--isolation-level", isolation, "--json", "--quiet"],
                         check=True, capture_output=True, text=True).stdout
    if tracer is not None:
        os.kill(tracer.pid, signal.SIGINT)
        tracer.wait(30)
        return json.loads(out), trace_out.read_text()
    return json.loads(out)


def client_consume(bootstrap: str, topic: str, partitions: int, isolation: str, timeout: float = 300):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": isolation,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 4194304})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    start = time.monotonic()
    delivered, eof = 0, {}
    while len(eof) < partitions:
        if time.monotonic() - start > timeout:
            raise SystemExit("consume did not reach the end in %.0fs" % timeout)
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof[m.partition()] = m.offset()
                    continue
                raise SystemExit("consumer error %s" % m.error())
            delivered += 1
    elapsed = time.monotonic() - start
    c.close()
    return elapsed, delivered, sum(eof.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory with the release skeind and skein")
    ap.add_argument("--records", type=int, default=1_000_000, help="records per produce round and mode")
    ap.add_argument("--consume-records", type=int, default=3_000_000, help="records in the consume topic")
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--commit-ms", type=int, default=100)
    ap.add_argument("--txn-records", type=int, default=2000, help="records per transaction of the consume topic")
    ap.add_argument("--bench-repeat", type=int, default=10, help="skein bench consume reads per round and level")
    ap.add_argument("--abort-every", type=int, default=10, help="abort every Nth transaction of the consume topic")
    args = ap.parse_args()
    bin_dir = Path(args.bin)
    work = Path(tempfile.mkdtemp(prefix="skein-txn-bench-"))
    broker = Broker(bin_dir / "skeind", work)
    value = bytes((i * 7) % 251 for i in range(args.record_size))
    try:
        print("date %s UTC; %d records of %d bytes per round, %d partitions, %d rounds"
              % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"), args.records,
                 args.record_size, args.partitions, args.rounds))
        create_topic(broker.bootstrap, "idem", args.partitions)
        create_topic(broker.bootstrap, "txn", args.partitions)
        rows = {"idempotent": [], "transactional": []}
        for r in range(args.rounds):
            for mode in ("idempotent", "transactional"):
                cpu0 = broker.cpu()
                if mode == "idempotent":
                    elapsed, commits = run_idempotent(broker.bootstrap, "idem", args.records, value, args.partitions)
                else:
                    elapsed, commits = run_transactional(broker.bootstrap, "txn", args.records, value,
                                                         args.partitions, args.commit_ms, "bench-txn-%d" % r)
                cpu = broker.cpu() - cpu0
                rows[mode].append((args.records / elapsed, cpu, commits))
                print("  produce round %d %-13s %9.0f records/s  %5.2f s  skeind CPU %5.2f s%s"
                      % (r + 1, mode, args.records / elapsed, elapsed, cpu,
                         "  (%d commits)" % commits if commits else ""))
        med = {m: statistics.median(v[0] for v in rows[m]) for m in rows}
        cpu = {m: statistics.median(v[1] for v in rows[m]) for m in rows}
        print("PRODUCE median records/s: idempotent %.0f, transactional (commit every %d ms) %.0f, ratio %.2f; "
              "skeind CPU per round median %.2f s vs %.2f s"
              % (med["idempotent"], args.commit_ms, med["transactional"],
                 med["transactional"] / med["idempotent"], cpu["idempotent"], cpu["transactional"]))

        create_topic(broker.bootstrap, "mixed", args.partitions)
        t0 = time.monotonic()
        txns, aborted = fill_mixed(broker.bootstrap, "mixed", args.consume_records, value, args.partitions,
                                   args.txn_records, args.abort_every)
        print("consume topic: %d records in %d transactions of %d records, %d aborted (%.1f s to write)"
              % (args.consume_records, txns, args.txn_records, aborted, time.monotonic() - t0))
        skein = bin_dir / "skein"
        bench = {"read_uncommitted": [], "read_committed": []}
        client = {"read_uncommitted": [], "read_committed": []}
        for r in range(args.rounds):
            for isolation in ("read_uncommitted", "read_committed"):
                # One read takes a fraction of a second: a round is --bench-repeat reads, alternating with the
                # other isolation level's reads inside the round too.
                bench[isolation].append([0, 0.0, 0, 0.0])
            for _ in range(args.bench_repeat):
                for isolation in ("read_uncommitted", "read_committed"):
                    cpu0 = broker.cpu()
                    rep = bench_consume(skein, broker.bootstrap, "mixed", isolation)
                    row = bench[isolation][-1]
                    row[0] += rep["records"]
                    row[1] += rep["elapsed_seconds"]
                    row[2] += rep["bytes"]
                    row[3] += broker.cpu() - cpu0
            for isolation in ("read_uncommitted", "read_committed"):
                records, elapsed, nbytes, cpu = bench[isolation][-1]
                bench[isolation][-1] = (records / elapsed, nbytes / elapsed / 1e6, cpu)
                print("  skein bench consume round %d %-16s %10.0f records/s %7.1f MB/s  %d reads in %5.2f s  "
                      "skeind CPU %5.2f s" % (r + 1, isolation, records / elapsed, nbytes / elapsed / 1e6,
                                              args.bench_repeat, elapsed, cpu))
            for isolation in ("read_uncommitted", "read_committed"):
                cpu0 = broker.cpu()
                elapsed, delivered, offsets = client_consume(broker.bootstrap, "mixed", args.partitions, isolation)
                cpu = broker.cpu() - cpu0
                client[isolation].append((offsets / elapsed, delivered / elapsed, cpu))
                print("  confluent-kafka round %d %-16s %10.0f offsets/s %10.0f delivered records/s (%d)  %5.2f s  "
                      "skeind CPU %5.2f s" % (r + 1, isolation, offsets / elapsed, delivered / elapsed, delivered,
                                              elapsed, cpu))
        bm = {k: statistics.median(v[0] for v in rows_) for k, rows_ in bench.items()}
        bc = {k: statistics.median(v[2] for v in rows_) for k, rows_ in bench.items()}
        cm = {k: statistics.median(v[0] for v in rows_) for k, rows_ in client.items()}
        cd = {k: statistics.median(v[1] for v in rows_) for k, rows_ in client.items()}
        print("CONSUME skein bench median records/s: read_uncommitted %.0f, read_committed %.0f, ratio %.2f; "
              "skeind CPU median %.2f s vs %.2f s"
              % (bm["read_uncommitted"], bm["read_committed"], bm["read_committed"] / bm["read_uncommitted"],
                 bc["read_uncommitted"], bc["read_committed"]))
        print("CONSUME confluent-kafka median offsets/s: read_uncommitted %.0f, read_committed %.0f, ratio %.2f "
              "(delivered records/s %.0f vs %.0f)"
              % (cm["read_uncommitted"], cm["read_committed"], cm["read_committed"] / cm["read_uncommitted"],
                 cd["read_uncommitted"], cd["read_committed"]))
        if shutil.which("strace"):
            for isolation in ("read_committed", "read_uncommitted"):
                rep, trace = bench_consume(skein, broker.bootstrap, "mixed", isolation, strace=True,
                                           broker_pid=broker.proc.pid, work=work)
                print("strace -c -f during a %s run (%d bytes fetched, untimed):" % (isolation, rep["bytes"]))
                print("\n".join("    " + line for line in trace.splitlines() if line.strip()))
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
