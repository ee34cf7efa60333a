"""Transactions under crashes: skeind killed with SIGKILL while two transactional producers run; a
consume-transform-produce worker killed with SIGKILL in the middle of its work; a producer killed with its
transaction open and never restarted. The clients run as subprocesses (txn_crash_clients.py) that journal what
their calls returned; the checks compare those journals with what read_committed consumers see.

Skeind only: the mock has no durable transaction state and cannot restart on a data directory."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import (OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions, IsolationLevel, KafkaError,
                             Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, OffsetSpec

from conftest import create_topic, metric_sample, wait_until

pytestmark = pytest.mark.skeind_only("restarts skeind on its data directory")

CRASH_ROUNDS = int(os.environ.get("SKEIN_INTEROP_TXN_CRASH_ROUNDS", "3"))
CLIENTS = Path(__file__).with_name("txn_crash_clients.py")
MAX_CLIENT_STARTS = 10 + 4 * CRASH_ROUNDS  # a client exits when fenced or stuck; more starts than this is a bug


class ClientProcess:
    """One of txn_crash_clients.py's modes, restarted when it exits, killed (by pid) at teardown."""

    def __init__(self, tmp: Path, name: str, mode: str, *args: str):
        self.tmp, self.name, self.mode, self.args = tmp, name, mode, [str(a) for a in args]
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.exits: list[int] = []

    def start(self, *extra: str):
        assert self.starts < MAX_CLIENT_STARTS, "%s started %d times; last stderr:\n%s" % (
            self.name, self.starts, self.stderr_tail())
        self.starts += 1
        with open(self.tmp / ("%s-%d.stderr" % (self.name, self.starts)), "wb") as err:
            self.proc = subprocess.Popen([sys.executable, str(CLIENTS), self.mode, *self.args, *extra],
                                         stdin=subprocess.DEVNULL, stdout=err, stderr=err, start_new_session=True)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def keep_running(self):
        """Starts the client again if it exited (fenced or gave up after the broker went away)."""
        if not self.running():
            if self.proc is not None:
                self.exits.append(self.proc.returncode)
            self.start()

    def kill(self):
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.exits.append(self.proc.returncode)

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not stop within %.0fs:\n%s" % (self.name, timeout, self.stderr_tail()))

    def stderr_tail(self, lines: int = 40) -> str:
        out = []
        for i in range(max(1, self.starts - 2), self.starts + 1):
            path = self.tmp / ("%s-%d.stderr" % (self.name, i))
            if path.exists():
                out.append("--- %s ---" % path.name)
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)


@pytest.fixture
def clients():
    started: list[ClientProcess] = []

    def make(tmp, name, mode, *args):
        c = ClientProcess(tmp, name, mode, *args)
        started.append(c)
        return c

    yield make
    for c in started:
        c.kill()


def journal_lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    # A line without its newline is one the client was writing when it was killed.
    return [line.split() for line in path.read_text().splitlines(keepends=True) if line.endswith("\n")]


def read_all(bootstrap: str, topic: str, partitions: int, isolation: str, timeout: float = 60.0):
    """Every record of every partition with the given isolation level, read to the end. Returns
    ({partition: [value]}, {partition: offset where the end was reported})."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-crash-read-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": isolation})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    values: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
    eof: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(eof) < partitions:
            assert time.monotonic() < deadline, "%s: only partitions %s read to their end in %.0fs" % (
                isolation, sorted(eof), timeout)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof[m.partition()] = m.offset()
                    continue
                raise AssertionError("consumer error: %s" % m.error())
            # A record after the reported end (a fetch that raced the end) resets it.
            eof.pop(m.partition(), None)
            values[m.partition()].append(m.value())
    finally:
        c.close()
    return values, eof


def end_offsets(bootstrap: str, topic: str, partitions: int, committed: bool) -> dict[int, int]:
    """ListOffsets LATEST per partition: the last stable offset with read_committed, else the high watermark."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    level = IsolationLevel.READ_COMMITTED if committed else IsolationLevel.READ_UNCOMMITTED
    fs = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in range(partitions)},
                            isolation_level=level, request_timeout=10)
    return {tp.partition: f.result(timeout=15).offset for tp, f in fs.items()}


def unstable(broker, topic: str, partition: int) -> float:
    """skein_log_unstable_offsets: high watermark minus last stable offset."""
    return metric_sample(broker, 'skein_log_unstable_offsets{topic="%s",partition="%d"}' % (topic, partition))


class Journal:
    """What one producer's journal says about its transactions."""

    def __init__(self, path: Path):
        self.begun, self.committed, self.aborted, preparing = {}, set(), set(), set()
        for line in journal_lines(path):
            if line[0] == "B":
                self.begun[int(line[1])] = int(line[2])
            elif line[0] == "C":
                self.committed.add(int(line[1]))
            elif line[0] == "A":
                self.aborted.add(int(line[1]))
            elif line[0] == "P":
                preparing.add(int(line[1]))
        self.in_doubt = preparing - self.committed - self.aborted


@pytest.mark.timeout(120 + 60 * CRASH_ROUNDS)
def test_broker_sigkill_during_transactions(skeind_factory, clients, topic_name, tmp_path):
    """Two transactional producers (their transactions interleave in every partition, so the aborted ranges of
    one hold committed records of the other) while skeind is killed and restarted."""
    rng = random.Random(int(os.environ.get("SKEIN_INTEROP_TXN_CRASH_SEED", "1104")))
    b = skeind_factory.new(settings={"log.segment.bytes": "262144"}).start()
    topic, partitions, tags = topic_name(), 3, "ab"
    create_topic(b, topic, partitions)
    stop = tmp_path / "stop"
    journals = {tag: tmp_path / ("journal-" + tag) for tag in tags}
    producers = {tag: clients(tmp_path, "producer-" + tag, "producer", b.bootstrap, topic, partitions,
                              "txn-crash-" + tag, journals[tag], stop, rng.randint(0, 1 << 30), tag) for tag in tags}
    for producer in producers.values():
        producer.start()

    def count(what: str, tag: str | None = None) -> int:
        return sum(1 for t in (tag or tags) for line in journal_lines(journals[t]) if line[0] in what)

    def progress(target: int, what: str, tag: str | None = None):
        def reached():
            b.assert_alive()
            for producer in producers.values():
                producer.keep_running()
            return count(what, tag) >= target
        return reached

    kills = []
    for round_no in range(CRASH_ROUNDS):
        # The kill lands at whatever the producers are doing after a random number of journal lines more:
        # producing, flushing, aborting, or in the middle of EndTxn.
        wait_until(progress(count("BPCA") + rng.randint(3, 60), "BPCA"), 60,
                   "round %d: producer progress before the kill" % round_no)
        kills.append(" / ".join(" ".join((journal_lines(journals[t]) or [["-"]])[-1]) for t in tags))
        b.kill()
        b.start()
        # Whatever was open or preparing when the broker died is resolved at the restart: the last stable offset
        # reaches the high watermark as it was then (the producers may have opened new transactions since).
        restart_hw = end_offsets(b.bootstrap, topic, partitions, committed=False)
        wait_until(lambda: all(lso >= restart_hw[p] for p, lso in
                               end_offsets(b.bootstrap, topic, partitions, committed=True).items()),
                   30, "round %d: last stable offsets to reach the high watermarks %s after the restart"
                   % (round_no, restart_hw))
    # Both producers go on after the last restart (and each has aborted something by the end).
    for tag in tags:
        wait_until(progress(count("C", tag) + 3, "C", tag), 60, "producer %s commits after the last restart" % tag)
        wait_until(progress(1, "A", tag), 60, "producer %s to abort a transaction" % tag)
    stop.touch()
    for producer in producers.values():
        code = producer.wait(60)
        assert code in (0, 3), "producer exited %s:\n%s" % (code, producer.stderr_tail())
    journal = {tag: Journal(journals[tag]) for tag in tags}
    for tag in tags:
        assert journal[tag].committed and journal[tag].aborted, \
            "the run needs committed and aborted transactions: %s" % journals[tag].read_text()

    def parse(values):
        seen = {tag: {} for tag in tags}
        for part, vs in values.items():
            for v in vs:
                tag, n, seq, k = v[:1].decode(), int(v[1:9]), int(v[11:15]), int(v[18:22])
                assert v == b"%s%08d-s%04d-of%04d" % (tag.encode(), n, seq, k), v
                assert (n + seq) % partitions == part, "record %r in partition %d" % (v, part)
                seen[tag].setdefault(n, []).append(seq)
        return seen

    values, eof = read_all(b.bootstrap, topic, partitions, "read_committed")
    raw = parse(read_all(b.bootstrap, topic, partitions, "read_uncommitted")[0])
    seen = parse(values)
    for tag in tags:
        j, visible = journal[tag], seen[tag]
        dupes = {n: seqs for n, seqs in visible.items() if len(seqs) != len(set(seqs))}
        assert not dupes, "%s: records visible more than once: %s" % (tag, dupes)
        missing = {n: sorted(set(range(j.begun[n])) - set(visible.get(n, []))) for n in j.committed}
        assert not {n: m for n, m in missing.items() if m}, "%s: committed records missing: %s" % (tag, missing)
        partial = {n: sorted(visible[n]) for n in j.in_doubt if n in visible and len(visible[n]) != j.begun[n]}
        assert not partial, "%s: transactions in doubt partly visible: %s" % (tag, partial)
        leaked = {n: sorted(visible[n]) for n in visible if n not in j.committed and n not in j.in_doubt}
        assert not leaked, "%s: records of transactions not committed are visible: %s (aborted %s)" % (
            tag, leaked, sorted(j.aborted))
        # read_uncommitted shows aborted records: they were in the log, and the broker hid them.
        assert any(n in raw[tag] for n in j.aborted), "%s: no aborted record reached the log" % tag

    # The last stable offset caught up with the high watermark: nothing is left open.
    hw = end_offsets(b.bootstrap, topic, partitions, committed=False)
    wait_until(lambda: end_offsets(b.bootstrap, topic, partitions, committed=True) == hw, 30,
               "last stable offsets to equal the high watermarks %s" % hw)
    assert eof == hw, "read_committed reached its end at %s, high watermarks %s" % (eof, hw)
    assert [unstable(b, topic, p) for p in range(partitions)] == [0] * partitions
    log = b.log_tail(100000)
    sizes = [{t: len(getattr(journal[t], attr)) for t in tags} for attr in ("committed", "aborted", "in_doubt")]
    print("txn crash: kills after %s; committed %s, aborted %s, in doubt %s (visible %s), producer starts %s; "
          "at restarts skeind completed %d prepared and aborted %d open transactions"
          % (kills, *sizes, {t: len(journal[t].in_doubt & set(seen[t])) for t in tags},
             {t: producers[t].starts for t in tags}, log.count("completing transaction of"),
             log.count("aborting open transaction of")))
    b.assert_alive()
    assert b.terminate() == 0


@pytest.mark.timeout(180 + 60 * CRASH_ROUNDS)
def test_consume_transform_produce_survives_worker_sigkill(skeind_factory, clients, topic_name, tmp_path):
    rng = random.Random(int(os.environ.get("SKEIN_INTEROP_TXN_CRASH_SEED", "1104")) + 1)
    b = skeind_factory.new().start()
    in_topic, out_topic, partitions, total = topic_name("in"), topic_name("out"), 2, 1000 * (CRASH_ROUNDS + 1)
    create_topic(b, in_topic, partitions)
    create_topic(b, out_topic, partitions)
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(total):
        p.produce(in_topic, b"in%06d" % i, key=b"%d" % i, partition=i % partitions)
        p.poll(0)
    assert p.flush(30) == 0

    journal, stop = tmp_path / "journal", tmp_path / "stop"
    group = "ctp-" + out_topic
    worker = clients(tmp_path, "worker", "transform", b.bootstrap, in_topic, out_topic, group, "ctp-" + out_topic,
                     journal, stop, rng.randint(0, 1 << 30))
    worker.start()

    def lines() -> list[list[str]]:
        return journal_lines(journal)

    def processed() -> int:
        return sum(int(r.split("-")[1]) - int(r.split(":")[1].split("-")[0])
                   for line in lines() if line[0] == "C" for r in line[1].split(","))

    # Each round kills the worker twice: from outside at a random point (after a random number of journal lines:
    # consuming, producing, sending offsets or inside EndTxn), then from inside, at an exact point of a transaction
    # (its outputs in the log; its offsets sent too; committed but not yet journaled).
    phases = ["flushed", "offsets-sent", "committed"]
    kills = []
    for round_no in range(CRASH_ROUNDS):
        target = len(lines()) + rng.randint(2, 40)

        def reached():
            b.assert_alive()
            worker.keep_running()
            return len(lines()) >= target

        wait_until(reached, 60, "round %d: worker progress before the kill" % round_no)
        assert processed() < total, "the worker finished early; make the input larger"
        worker.kill()
        kills.append("outside after %s" % " ".join(lines()[-1]))
        die_at = "%s:%d" % (phases[round_no % len(phases)], rng.randint(1, 6))
        worker.start(die_at)
        assert worker.wait(60) == -signal.SIGKILL, "worker did not die at %s:\n%s" % (die_at, worker.stderr_tail())
        kills.append("inside at " + die_at)
        worker.start()
    assert processed() < total, "the worker finished early; make the input larger"

    # The group's committed offsets reach the end of the input: every input was consumed by a committed
    # transaction.
    end = end_offsets(b.bootstrap, in_topic, partitions, committed=False)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})

    def all_consumed():
        b.assert_alive()
        worker.keep_running()
        f = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)[group]
        got = {tp.partition: tp.offset for tp in f.result(15).topic_partitions if tp.topic == in_topic}
        return all(got.get(part, -1) == end[part] for part in range(partitions))

    wait_until(all_consumed, 120, "committed offsets of %s to reach %s" % (group, end))
    stop.touch()
    code = worker.wait(60)
    assert code in (0, 3), "worker exited %s:\n%s" % (code, worker.stderr_tail())

    values, _ = read_all(b.bootstrap, out_topic, partitions, "read_committed")
    outs = [v for vs in values.values() for v in vs]
    expected = sorted(b"out:in%06d" % i for i in range(total))
    dupes = sorted(v for v, count in Counter(outs).items() if count > 1)
    assert not dupes, "%d outputs visible more than once, first %s" % (len(dupes), dupes[:5])
    assert sorted(outs) == expected, "outputs missing: %s" % sorted(set(expected) - set(outs))[:10]
    for part, vs in values.items():
        assert vs == sorted(vs), "partition %d: outputs out of input order" % part
    # The killed workers' uncommitted outputs reached the log (the kills after "flushed") and were hidden.
    raw, _ = read_all(b.bootstrap, out_topic, partitions, "read_uncommitted")
    raw_count = sum(len(v) for v in raw.values())
    assert raw_count > total, "no aborted output in the log (%d records); the test checks nothing" % raw_count
    print("ctp: kills %s; %d worker starts, %d raw outputs for %d inputs" % (kills, worker.starts, raw_count, total))
    b.assert_alive()
    assert b.terminate() == 0


def test_producer_sigkill_with_open_transaction_times_out(skeind_factory, clients, topic_name, tmp_path):
    """A producer dies with its transaction open and no new incarnation comes: the broker aborts the transaction
    after transaction.timeout.ms, so the last stable offset moves on and read_committed never shows the records.
    (A broker restart aborts every open transaction at once; test_broker_sigkill_during_transactions covers that.)"""
    b = skeind_factory.new(settings={"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200"}).start()
    topic, partitions, timeout_ms = topic_name(), 2, 4000
    create_topic(b, topic, partitions)
    # Committed records before and after, from another transactional id, so that the LSO has somewhere to go.
    ok = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "txn-open-bystander"})
    ok.init_transactions(15)
    ok.begin_transaction()
    ok.produce(topic, b"before", partition=0)
    ok.commit_transaction(15)

    journal = tmp_path / "journal"
    dead = clients(tmp_path, "dead", "open", b.bootstrap, topic, partitions, "txn-open-dead", timeout_ms, journal)
    dead.start()
    assert dead.wait(60) == -signal.SIGKILL, "the client did not die as planned:\n" + dead.stderr_tail()
    assert journal_lines(journal) == [["F", str(3 * partitions)]]
    hw = end_offsets(b.bootstrap, topic, partitions, committed=False)
    lso = end_offsets(b.bootstrap, topic, partitions, committed=True)
    assert lso == {0: 2, 1: 0}, "the open transaction does not hold the last stable offsets: %s (hw %s)" % (lso, hw)
    assert [unstable(b, topic, p) for p in range(partitions)] == [hw[0] - 2, hw[1]]

    ok.begin_transaction()
    ok.produce(topic, b"after", partition=1)
    ok.commit_transaction(30)
    # Every partition's LSO reaches its high watermark (the abort marker included) without any client's help.
    wait_until(lambda: end_offsets(b.bootstrap, topic, partitions, committed=True)
               == end_offsets(b.bootstrap, topic, partitions, committed=False),
               timeout_ms / 1000 + 20, "the dead producer's transaction to be aborted")
    assert "open longer than its timeout of %d ms" % timeout_ms in b.log_tail(), "not aborted by the timeout"
    assert metric_sample(b, 'skein_transactions_total{outcome="timed_out"}') == 1
    assert [unstable(b, topic, p) for p in range(partitions)] == [0] * partitions
    values, eof = read_all(b.bootstrap, topic, partitions, "read_committed")
    assert values == {0: [b"before"], 1: [b"after"]}, values
    assert eof == end_offsets(b.bootstrap, topic, partitions, committed=False)
    raw, _ = read_all(b.bootstrap, topic, partitions, "read_uncommitted")
    assert sorted(v for vs in raw.values() for v in vs) == sorted(
        [b"before", b"after"] + [b"open-%04d" % i for i in range(3 * partitions)]), raw
    # The transactional id is usable again: a new incarnation commits.
    again = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "txn-open-dead"})
    again.init_transactions(15)
    again.begin_transaction()
    again.produce(topic, b"new incarnation", partition=0)
    again.commit_transaction(15)
    assert read_all(b.bootstrap, topic, partitions, "read_committed")[0][0] == [b"before", b"new incarnation"]
    b.assert_alive()
    assert b.terminate() == 0
