#!/usr/bin/env python3
"""Cost of Prometheus scrapes on a loaded broker (issue #6): produce throughput of `skein bench produce`
with and without a GET /metrics every second, in alternating rounds against one skeind, plus the scrape
latency under load and on an idle broker with many partitions (scrape cost grows with partitions and
groups, not with data).

Usage (release builds of skeind and skein, standard library Python only):
  swift build -c release --scratch-path .build-release --product skeind
  swift build -c release --scratch-path .build-release --product skein
  python3 Benchmarks/scrape_overhead.py --bin-dir .build-release/release
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("skeind did not listen on %d within %.0fs" % (port, timeout))


def scrape_once(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read()
    return time.perf_counter() - start, len(body)


class Scraper(threading.Thread):
    """GET url every `interval` seconds until stopped, as Prometheus would."""

    def __init__(self, url: str, interval: float):
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.latencies: list[float] = []
        self.sizes: list[int] = []
        self.stop_event = threading.Event()

    def run(self):
        next_at = time.monotonic()
        while not self.stop_event.is_set():
            latency, size = scrape_once(self.url)
            self.latencies.append(latency)
            self.sizes.append(size)
            next_at += self.interval
            self.stop_event.wait(max(0.0, next_at - time.monotonic()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def process_cpu_seconds(pid: int) -> float:
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_cost(pid: int, url: str, label: str, scrapes: int = 200) -> None:
    """Broker CPU per scrape on an idle broker: the CPU a 1 s scrape interval takes from produce."""
    idle_before = process_cpu_seconds(pid)
    time.sleep(2)
    idle_rate = (process_cpu_seconds(pid) - idle_before) / 2
    start_cpu, start = process_cpu_seconds(pid), time.monotonic()
    results = [scrape_once(url) for _ in range(scrapes)]
    cpu = process_cpu_seconds(pid) - start_cpu - idle_rate * (time.monotonic() - start)
    print("scrape %s: %d bytes, latency p50 %.2f ms, max %.2f ms; broker CPU %.2f ms per scrape "
          "(%.2f %% of one core at one scrape per second)"
          % (label, results[-1][1], percentile([l for l, _ in results], 0.5) * 1e3,
             max(l for l, _ in results) * 1e3, cpu / scrapes * 1e3, cpu / scrapes * 100))


RECORD_SIZE = 100


def produce(skein: str, bootstrap: str, topic: str, seconds: int, partitions: int) -> float:
    out = subprocess.run(
        [skein, "bench", "produce", "--bootstrap", bootstrap, "--topic", topic, "--partitions", str(partitions),
         "--record-size", str(RECORD_SIZE),
         "--duration", "%ds" % seconds, "--acks", "1", "--json", "--quiet"],
        check=True, capture_output=True, text=True, timeout=seconds + 120).stdout
    return json.loads(out)["records_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--rounds", type=int, default=8, help="pairs of runs (without, with scrapes)")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--idle-partitions", type=int, default=2000, help="partitions for the idle scrape test")
    args = parser.parse_args()

    skeind, skein = os.path.join(args.bin_dir, "skeind"), os.path.join(args.bin_dir, "skein")
    data = tempfile.mkdtemp(prefix="skein-scrape-bench-")
    kafka_port, http_port = free_port(), free_port()
    bootstrap, url = "127.0.0.1:%d" % kafka_port, "http://127.0.0.1:%d/metrics" % http_port
    # Retention keeps the disk bounded over many rounds; it runs in both kinds of rounds alike.
    proc = subprocess.Popen(
        [skeind, "--data-dir", data, "--listen", bootstrap, "--http-listen", "127.0.0.1:%d" % http_port,
         "--set", "log.segment.bytes=134217728", "--set", "log.retention.bytes=268435456",
         "--set", "log.retention.check.interval.ms=2000"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data, "skeind.log"), "w"), start_new_session=True)
    try:
        wait_port(kafka_port)
        produce(skein, bootstrap, "bench", 2, args.partitions)  # warm-up, creates the topic
        cpu_cost(proc.pid, url, "idle, %d partitions, before the produce rounds" % args.partitions)
        without, with_scrapes, loaded_latencies, sizes = [], [], [], []
        for round_index in range(args.rounds):
            # ABBA order, so a drift in throughput over the run (page cache, retention) hits both alike.
            for scraping in ((False, True) if round_index % 2 == 0 else (True, False)):
                if not scraping:
                    without.append(produce(skein, bootstrap, "bench", args.seconds, args.partitions))
                    continue
                scraper = Scraper(url, 1.0)
                scraper.start()
                with_scrapes.append(produce(skein, bootstrap, "bench", args.seconds, args.partitions))
                scraper.stop_event.set()
                scraper.join(15)
                loaded_latencies += scraper.latencies
                sizes += scraper.sizes
        print("produce records/s without scrapes: %s" % ", ".join("%.0f" % r for r in without))
        print("produce records/s with 1 s scrapes: %s" % ", ".join("%.0f" % r for r in with_scrapes))
        ratios = [w / wo for w, wo in zip(with_scrapes, without)]
        print("per-round with/without: %s; median %.3f (cost %.1f %%)"
              % (", ".join("%.3f" % r for r in ratios), statistics.median(ratios),
                 (1 - statistics.median(ratios)) * 100))
        print("scrape under load: %d scrapes, %d bytes, p50 %.2f ms, p99 %.2f ms, max %.2f ms"
              % (len(loaded_latencies), statistics.median(sizes), percentile(loaded_latencies, 0.5) * 1e3,
                 percentile(loaded_latencies, 0.99) * 1e3, max(loaded_latencies) * 1e3))
        cpu_cost(proc.pid, url, "idle, %d partitions, after %.1f GB appended"
                 % (args.partitions, sum(without + with_scrapes) * args.seconds * (RECORD_SIZE + 8) / 1e9))

        # Idle broker with many partitions: what a scrape costs as partitions grow.
        subprocess.run([skein, "bench", "produce", "--bootstrap", bootstrap, "--topic", "wide", "--partitions",
                        str(args.idle_partitions), "--records", str(args.idle_partitions * 10), "--batch-records",
                        "10", "--quiet", "--json"], check=True, capture_output=True, timeout=300)
        cpu_cost(proc.pid, url, "idle, %d partitions" % (args.idle_partitions + args.partitions))
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
