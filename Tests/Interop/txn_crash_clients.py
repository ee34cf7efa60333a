"""Client processes for test_transactions_crash.py, run as subprocesses so that the test can SIGKILL them (or
the broker under them) at any moment. Not a test module.

    python txn_crash_clients.py producer BOOTSTRAP TOPIC PARTITIONS TXN_ID JOURNAL STOP_FILE SEED TAG
    python txn_crash_clients.py transform BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP TXN_ID JOURNAL STOP_FILE SEED [DIE_AT]
    python txn_crash_clients.py open BOOTSTRAP TOPIC PARTITIONS TXN_ID TIMEOUT_MS JOURNAL

Each appends to a journal (one line per event, flushed and fsynced before the next step, so a line is there
exactly when the step before it returned):

producer:  "B n k"  transaction n begins with k records (values "<TAG><n>-s<seq>-of<k>", TAG one letter)
           "P n"    commit_transaction(n) called (in doubt until "C n")
           "C n"    commit_transaction(n) returned: acknowledged committed
           "A n"    abort_transaction(n) returned (aborted on purpose, after flush(), or after an abortable error)
           "X why"  the process gives up (fatal error, fenced, or stuck); the test starts a new one
transform: "F r"    a transaction's outputs for the input ranges r ("p:from-to,...", to exclusive) are flushed
           "S r"    its consumer offsets were sent to the transaction
           "C r"    it committed
           "X why"  as above
open:      "F k"    k records of an open transaction are flushed; the process then SIGKILLs itself
Transaction numbers continue across restarts: a new producer starts after the highest number in the journal.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

ATTEMPT_SECONDS = 30.0  # one transactional call, retried while retriable, gives up after this


class Journal:
    def __init__(self, path: str):
        self.f = open(path, "a", buffering=1)

    def write(self, line: str):
        self.f.write(line + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())


def last_txn_number(path: str) -> int:
    n = 0
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] in ("B", "P", "C", "A"):
                    n = max(n, int(parts[1]))
    except FileNotFoundError:
        pass
    return n


def error_of(e: KafkaException) -> KafkaError:
    return e.args[0]


def retrying(call, what: str):
    """Runs a transactional API call, again while it fails with a retriable error (the broker is restarting).
    Other errors propagate."""
    deadline = time.monotonic() + ATTEMPT_SECONDS
    while True:
        try:
            return call()
        except KafkaException as e:
            if not error_of(e).retriable() or time.monotonic() >= deadline:
                raise
            print("%s: retrying after %s" % (what, error_of(e)), file=sys.stderr, flush=True)


def run_producer(bootstrap, topic, partitions, txn_id, journal_path, stop_file, seed, tag):
    partitions = int(partitions)
    rng = random.Random(int(seed))
    journal = Journal(journal_path)
    n = last_txn_number(journal_path)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "transaction.timeout.ms": 15000,
                  "linger.ms": 2, "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 250,
                  "retry.backoff.ms": 50, "retry.backoff.max.ms": 250, "socket.timeout.ms": 5000})
    try:
        retrying(lambda: p.init_transactions(10), "init_transactions")
    except KafkaException as e:
        journal.write("X init %s" % error_of(e).name())
        return 3
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    while not os.path.exists(stop_file):
        n += 1
        k = rng.randint(1, 30)
        abort_on_purpose = rng.random() < 0.2
        journal.write("B %d %d" % (n, k))
        try:
            p.begin_transaction()
            for seq in range(k):
                value = b"%s%08d-s%04d-of%04d" % (tag.encode(), n, seq, k)
                p.produce(topic, value, key=b"%d" % n, partition=(n + seq) % partitions, on_delivery=on_delivery)
                p.poll(0)
            if abort_on_purpose:
                # librdkafka purges what it has not sent when aborting; flush first so that the aborted records
                # are really in the log (and must be hidden by the broker).
                p.flush(10)
                retrying(lambda: p.abort_transaction(10), "abort_transaction")
                journal.write("A %d" % n)
                continue
            journal.write("P %d" % n)
            retrying(lambda: p.commit_transaction(10), "commit_transaction")
            journal.write("C %d" % n)
        except KafkaException as e:
            err = error_of(e)
            if err.txn_requires_abort():
                try:
                    retrying(lambda: p.abort_transaction(10), "abort_transaction")
                    journal.write("A %d" % n)
                    continue
                except KafkaException as e2:
                    err = error_of(e2)
            journal.write("X txn %d %s fatal=%s" % (n, err.name(), err.fatal()))
            return 3
    return 0


def run_transform(bootstrap, in_topic, out_topic, group, txn_id, journal_path, stop_file, seed, die_at="-"):
    rng = random.Random(int(seed))
    journal = Journal(journal_path)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id, "transaction.timeout.ms": 15000,
                  "linger.ms": 2, "reconnect.backoff.max.ms": 250})
    # First fence the previous incarnation (its open transaction, with its offsets, is aborted), then read the
    # committed offsets: they are exactly those of the last transaction that committed.
    try:
        retrying(lambda: p.init_transactions(15), "init_transactions")
    except KafkaException as e:
        journal.write("X init %s" % error_of(e).name())
        return 3
    # Static membership: the restarted worker takes over the dead one's assignment at once instead of waiting
    # for its session to expire.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.instance.id": "worker",
                  "isolation.level": "read_committed", "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000})
    c.subscribe([in_topic])
    # die_at "PHASE:K": SIGKILL this process right after PHASE of its K-th transaction (a kill at an exact point,
    # where an outside kill would have to be lucky); "-" for none.
    die_phase, _, die_txn = die_at.partition(":")
    txns = 0

    def die_if(phase: str):
        if phase == die_phase and txns == int(die_txn):
            os.kill(os.getpid(), signal.SIGKILL)

    try:
        while not os.path.exists(stop_file):
            msgs = c.consume(num_messages=rng.randint(1, 40), timeout=0.2)
            msgs = [m for m in msgs if m.error() is None]
            if not msgs:
                continue
            p.begin_transaction()
            span = {}
            for m in msgs:
                p.produce(out_topic, b"out:" + m.value(), key=m.key(), partition=m.partition())
                lo, _ = span.get(m.partition(), (m.offset(), 0))
                span[m.partition()] = (lo, m.offset() + 1)
                p.poll(0)
            txns += 1
            ranges = ",".join("%d:%d-%d" % (part, lo, hi) for part, (lo, hi) in sorted(span.items()))
            p.flush(10)  # the outputs are in the log before anything else happens
            journal.write("F " + ranges)
            die_if("flushed")
            positions = [TopicPartition(in_topic, part, hi) for part, (_, hi) in span.items()]
            retrying(lambda: p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 10),
                     "send_offsets_to_transaction")
            journal.write("S " + ranges)
            die_if("offsets-sent")
            retrying(lambda: p.commit_transaction(10), "commit_transaction")
            die_if("committed")  # before the journal knows: the test must not rely on the journal for this
            journal.write("C " + ranges)
    except KafkaException as e:
        err = error_of(e)
        journal.write("X %s fatal=%s abortable=%s" % (err.name(), err.fatal(), err.txn_requires_abort()))
        return 3
    finally:
        c.close()
    return 0


def run_open(bootstrap, topic, partitions, txn_id, timeout_ms, journal_path):
    """Opens a transaction, writes records into every partition, and dies with it open (SIGKILL, no abort)."""
    journal = Journal(journal_path)
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                  "transaction.timeout.ms": int(timeout_ms)})
    p.init_transactions(15)
    p.begin_transaction()
    for seq in range(3 * int(partitions)):
        p.produce(topic, b"open-%04d" % seq, partition=seq % int(partitions))
    assert p.flush(15) == 0
    journal.write("F %d" % (3 * int(partitions)))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    sys.exit({"producer": run_producer, "transform": run_transform, "open": run_open}[mode](*args))
