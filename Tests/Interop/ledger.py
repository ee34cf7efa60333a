"""Reading a log topic back and accounting for every record: per source, skein.seq must run 1, 2, 3… with no
gap or repeat; per tag, each written line must arrive exactly once (the Ledger and its Verdict), read with
read_committed (TopicReader)."""

from __future__ import annotations

import json
import time

MiB = 1 << 20

# ---------------------------------------------------------------------------------------------- checker


class Ledger:
    """Accounts for the records of a log topic, one at a time (memory: a byte per written line): per source,
    skein.seq must run 1, 2, 3… in offset order; per tag, each line must arrive once; per file (fields.file_id),
    line numbers must increase. Checkpoint records (skein.checkpoint header) are counted and skipped."""

    MAX_EXAMPLES = 20

    def __init__(self, order_field: str | None = "file_id", on_record=None):
        """order_field: the `fields` member naming one ordered stream of lines (a file); None: the lines of one
        tag are one ordered stream (a journald service). on_record(record, headers) sees every record's JSON
        value first; returning False sets it aside in `others` (a source's own notice, not a numbered line)."""
        self.order_field = order_field
        self.on_record = on_record
        self.others: list[tuple[int, dict]] = []
        self.records = 0
        self.checkpoints = 0
        self.seq_last: dict[str, int] = {}
        self.seq_gaps: dict[str, list] = {}
        self.seq_repeats: dict[str, list] = {}
        self.marks: dict[str, bytearray] = {}
        self.distinct: dict[str, int] = {}
        self.duplicates: dict[str, list] = {}
        self.file_last: dict[tuple[str, str], int] = {}
        self.order_errors: list = []
        self.malformed: list = []
        self.sources_of_tag: dict[str, set] = {}
        self.source_records: dict[str, int] = {}

    def _note(self, bucket: list, item):
        if len(bucket) < self.MAX_EXAMPLES:
            bucket.append(item)

    def add(self, headers, value: bytes | None, offset: int = -1):
        h = {k: (v.decode() if isinstance(v, (bytes, bytearray)) else v) for k, v in (headers or [])}
        if "skein.checkpoint" in h:
            self.checkpoints += 1
            return
        self.records += 1
        source = h.get("skein.source")
        try:
            seq = int(h["skein.seq"])
        except Exception as e:  # noqa: BLE001 - a record without its sequence is a finding
            self.malformed.append((offset, "skein.seq: %r" % e, (value or b"")[:200]))
            return
        self.source_records[source] = self.source_records.get(source, 0) + 1
        last = self.seq_last.get(source, 0)
        if seq == last + 1:
            self.seq_last[source] = seq
        elif seq <= last:
            self._note(self.seq_repeats.setdefault(source, []), (offset, seq, last))
        else:
            self._note(self.seq_gaps.setdefault(source, []), (offset, last, seq))
            self.seq_last[source] = seq
        try:
            record = json.loads(value)
            if self.on_record is not None and self.on_record(record, h) is False:
                self.others.append((offset, record))
                return
            tag, n, _ = record["message"].split(" ", 2)
            n = int(n)
            if self.order_field is None:
                file_id = tag
            else:
                file_id = (record.get("fields") or {}).get(self.order_field, "?")
        except Exception as e:  # noqa: BLE001 - a record the checker cannot read is a finding
            self.malformed.append((offset, repr(e), (value or b"")[:200]))
            return
        self.sources_of_tag.setdefault(tag, set()).add(source)
        marks = self.marks.setdefault(tag, bytearray())
        if n >= len(marks):
            marks.extend(bytes(n + 1 - len(marks) + 4096))
        if marks[n] == 0:
            self.distinct[tag] = self.distinct.get(tag, 0) + 1
        else:
            self._note(self.duplicates.setdefault(tag, []), (offset, n))
        marks[n] = min(255, marks[n] + 1)
        # Per tag too: one syslog source carries several senders' lines, each sender's in order.
        key = (source, file_id, tag)
        if n <= self.file_last.get(key, 0):
            self._note(self.order_errors, (offset, source, file_id, n, self.file_last[key]))
        self.file_last[key] = n

    def delivered(self, tag: str) -> int:
        return self.distinct.get(tag, 0)

    def missing(self, tag: str, written: int) -> list[int]:
        marks = self.marks.get(tag, bytearray())
        return [n for n in range(1, written + 1) if n >= len(marks) or marks[n] == 0]

    def beyond(self, tag: str, written: int) -> list[int]:
        """Delivered line numbers the writer never wrote."""
        marks = self.marks.get(tag, bytearray())
        return [n for n in range(written + 1, len(marks)) if marks[n]][:self.MAX_EXAMPLES] + \
            ([0] if len(marks) and marks[0] else [])

    def verdict(self, written: dict[str, int], on_disk: dict[str, bytearray] | None = None) -> "Verdict":
        """written: tag → N. on_disk: for tags whose rotation may lose lines (copytruncate), which lines are
        still in some file; a missing line that is on disk is the agent's loss, one that is not was truncated
        away before anything could read it (a loss the agent can at most count)."""
        return Verdict(self, written, on_disk or {})


def _ranges(ns: list[int], limit: int = 12) -> str:
    """[1,2,3,7,9,10] → '1-3,7,9-10' (the first `limit` runs)."""
    runs = []
    for n in ns:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ",".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in runs[:limit])
    return text + (",… (%d runs)" % len(runs) if len(runs) > limit else "")


class Verdict:
    def __init__(self, ledger: Ledger, written: dict[str, int], on_disk: dict[str, bytearray]):
        self.ledger = ledger
        self.written = written
        self.on_disk = on_disk
        self.missing: dict[str, list[int]] = {}
        self.truncated_away: dict[str, list[int]] = {}  # missing, and in no file: lost in a truncation window
        self.agent_lost: dict[str, list[int]] = {}      # missing, though still on disk
        for tag, n in written.items():
            miss = ledger.missing(tag, n)
            self.missing[tag] = miss
            disk = on_disk.get(tag)
            if disk is None:
                self.agent_lost[tag] = miss
                self.truncated_away[tag] = []
            else:
                self.agent_lost[tag] = [m for m in miss if disk[m]]
                self.truncated_away[tag] = [m for m in miss if not disk[m]]
        self.beyond = {t: ledger.beyond(t, n) for t, n in written.items()}
        self.unknown_tags = sorted(set(ledger.marks) - set(written))

    def problems(self) -> list[str]:
        lg = self.ledger
        out = []
        for source, items in lg.seq_gaps.items():
            out.append("%s: skein.seq gaps (offset, last, next): %s" % (source, items))
        for source, items in lg.seq_repeats.items():
            out.append("%s: skein.seq repeated or backwards (offset, seq, last): %s" % (source, items))
        for tag, items in lg.duplicates.items():
            out.append("%s: duplicated lines (offset, n): %s" % (tag, items))
        if lg.order_errors:
            out.append("lines out of order within a file (offset, source, file_id, n, previous n): %s"
                       % lg.order_errors)
        if lg.malformed:
            out.append("unreadable records (offset, error, value): %s" % lg.malformed[:Ledger.MAX_EXAMPLES])
        for tag in self.written:
            if self.agent_lost[tag]:
                out.append("%s: %d of %d written lines not delivered%s: %s"
                           % (tag, len(self.agent_lost[tag]), self.written[tag],
                              " though still on disk" if tag in self.on_disk else "", _ranges(self.agent_lost[tag])))
            if self.beyond[tag]:
                out.append("%s: delivered lines that were never written: %s" % (tag, self.beyond[tag]))
            if len(lg.sources_of_tag.get(tag, ())) > 1:
                out.append("%s: lines came from several sources %s" % (tag, lg.sources_of_tag[tag]))
        if self.unknown_tags:
            out.append("lines of unknown tags: %s" % self.unknown_tags)
        return out

    def summary(self) -> str:
        lg = self.ledger
        return "records=%d checkpoints=%d written=%s delivered=%s truncated_away=%s" % (
            lg.records, lg.checkpoints, self.written, {t: lg.delivered(t) for t in self.written},
            {t: len(v) for t, v in self.truncated_away.items() if v})

    def assert_exactly_once(self, reader: "TopicReader | None" = None):
        """With the reader, a failure also lists the records of the first few duplicated or misordered lines."""
        problems = self.problems()
        if problems and reader is not None:
            lg = self.ledger
            wanted = {(t, n) for t, items in lg.duplicates.items() for _, n in items[:3]}
            wanted |= {(s.split(".", 1)[1], n) for _, s, _, n, _ in lg.order_errors[:3] if s}
            wanted |= {(s.split(".", 1)[1], p) for _, s, _, _, p in lg.order_errors[:3] if s}
            wanted |= {(t, n) for t, ns in self.agent_lost.items() for n in ns[:2]}
            try:
                problems.append("records of some of those lines:\n    " + "\n    ".join(
                    describe_lines(reader.bootstrap, reader.topic, wanted)))
            except Exception as e:  # noqa: BLE001 - the finding stands without its details
                problems.append("(could not read the records again: %r)" % e)
        assert not problems, "delivery is not exactly once (%s):\n  %s" % (self.summary(), "\n  ".join(problems))

    def assert_sequences_cover(self):
        """Every source's skein.seq runs exactly 1..N over its N records (no gap, no repeat)."""
        lg = self.ledger
        for source, count in lg.source_records.items():
            assert lg.seq_last.get(source) == count, "%s: last skein.seq %s after %d records" % (
                source, lg.seq_last.get(source), count)


class TopicReader:
    """Reads partition 0 of the topic with read_committed from the beginning into a Ledger, incrementally."""

    def __init__(self, bootstrap: str, topic: str, ledger: Ledger | None = None):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        self.ledger = ledger or Ledger()
        self.bootstrap, self.topic = bootstrap, topic
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "agent-files-%d" % time.monotonic_ns(),
                                  "enable.auto.commit": False, "enable.partition.eof": True,
                                  "isolation.level": "read_committed", "fetch.max.bytes": 16 * MiB,
                                  "reconnect.backoff.max.ms": 500, "topic.metadata.refresh.interval.ms": 1000,
                                  # Tests stop brokers on purpose: no connection-refused lines from librdkafka.
                                  "log_level": 2})
        self.consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self.at_eof = False
        self.next_offset = 0

    def poll(self, seconds: float = 0.5) -> int:
        """Reads for up to `seconds`; returns the number of records taken in."""
        from confluent_kafka import KafkaError
        taken = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batch = self.consumer.consume(num_messages=10000, timeout=0.2)
            if not batch:
                if self.at_eof:
                    break
                continue
            for m in batch:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        self.at_eof = True
                        continue
                    if m.error().code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TRANSPORT,
                                            KafkaError._ALL_BROKERS_DOWN):
                        continue
                    raise AssertionError("consumer error: %s" % m.error())
                self.at_eof = False
                self.next_offset = m.offset() + 1
                self.ledger.add(m.headers(), m.value(), m.offset())
                taken += 1
        return taken

    def read_until(self, predicate, timeout: float) -> bool:
        """Reads until predicate(ledger) holds and the partition's end is reached; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll(0.5)
            if self.at_eof and predicate(self.ledger):
                return True
        return False

    def close(self):
        self.consumer.close()


def describe_lines(bootstrap: str, topic: str, wanted: set[tuple[str, int]], limit: int = 40) -> list[str]:
    """Every record of the given (tag, n) lines, read again: offset, skein.seq, skein.position, path. For
    failure messages (a duplicate's two copies, say)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "agent-files-describe-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True, "isolation.level": "read_committed",
                  "log_level": 2})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(out) < limit:
            batch = c.consume(num_messages=10000, timeout=0.5)
            if any(m.error() and m.error().code() == KafkaError._PARTITION_EOF for m in batch):
                deadline = 0  # this batch is the last
            for m in batch:
                if m.error():
                    continue
                h = {k: v.decode() for k, v in m.headers() or []}
                if "skein.checkpoint" in h:
                    continue
                try:
                    record = json.loads(m.value())
                    tag, n, _ = record["message"].split(" ", 2)
                except Exception:  # noqa: BLE001 - the ledger reports unreadable records
                    continue
                if (tag, int(n)) in wanted:
                    out.append("offset %d seq %s %s line %s n %s path %s" % (
                        m.offset(), h.get("skein.seq"), h.get("skein.source"), h.get("skein.position"), n,
                        (record.get("fields") or {}).get("path")))
    finally:
        c.close()
    return out


def wait_all_delivered(reader: TopicReader, written: dict[str, int], on_disk: dict[str, bytearray] | None = None,
                       timeout: float = 120.0) -> bool:
    """Reads until every written line that must arrive has arrived (for tags in on_disk: those still in some
    file), then to the end of the partition. False on timeout (the verdict then says what is missing)."""
    disks = on_disk or {}

    def complete(lg: Ledger) -> bool:
        for tag, n in written.items():
            disk = disks.get(tag)
            if disk is None:
                if lg.delivered(tag) < n:
                    return False
            elif lg.delivered(tag) < sum(1 for m in disk if m) or any(disk[m] for m in lg.missing(tag, n)):
                return False
        return True

    return reader.read_until(complete, timeout)
