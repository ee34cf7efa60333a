"""The agent file tests' own tools, checked without an agent: the Ledger finds every kind of delivery fault in
synthetic topics (and none in a clean one), the writer and the rotation drivers (including the real logrotate)
lose no line on disk except in copytruncate's window, the TOML and /metrics helpers round-trip."""

from __future__ import annotations

import json
import shutil
import tomllib

import pytest

from agentharness import metric_sum, parse_metrics, toml_document
from ledger import Ledger
from logwriter import LineWriter, Rotator, line_text


def record(tag: str, n: int, seq: int, source: str | None = None, file_id: str = "fp-0000000000000001"):
    headers = [("skein.agent", b"skein-agent/h/it"), ("skein.source", (source or "files." + tag).encode()),
               ("skein.seq", str(seq).encode()), ("skein.position", b"%s@%d" % (file_id.encode(), n * 120))]
    value = json.dumps({"timestamp": "2026-12-05T00:00:00.000Z", "host": "h", "source": "file",
                        "unit": "/x/%s.log" % tag, "message": line_text(tag, n, 120).rstrip("\n"),
                        "fields": {"path": "/x/%s.log" % tag, "file_id": file_id}}).encode()
    return headers, value


CHECKPOINT = ([("skein.agent", b"skein-agent/h/it"), ("skein.checkpoint", b"1")],
              b'{"schema": "skein.agent-checkpoint.v1"}')


def feed(records) -> Ledger:
    ledger = Ledger()
    for offset, (h, v) in enumerate(records):
        ledger.add(h, v, offset)
    return ledger


def test_a_clean_topic_passes():
    recs = []
    for n in range(1, 101):
        recs.append(record("a", n, n, file_id="fp-a1" if n <= 50 else "fp-a2"))
        recs.append(record("b", n, n))
        if n % 30 == 0:
            recs.append(CHECKPOINT)
    ledger = feed(recs)
    v = ledger.verdict({"a": 100, "b": 100})
    assert v.problems() == []
    v.assert_exactly_once()
    v.assert_sequences_cover()
    assert ledger.checkpoints == 3 and ledger.records == 200


def test_a_redelivered_line_is_a_duplicate_even_with_a_fresh_seq():
    recs = [record("a", n, n) for n in range(1, 11)] + [record("a", 10, 11, file_id="fp-other")]
    v = feed(recs).verdict({"a": 10})
    assert any("duplicated lines" in p and "(10, 10)" in p for p in v.problems()), v.problems()
    with pytest.raises(AssertionError, match="duplicated"):
        v.assert_exactly_once()


def test_seq_gaps_and_repeats_are_found():
    recs = [record("a", 1, 1), record("a", 2, 2), record("a", 3, 4), record("a", 4, 4), record("a", 5, 5)]
    v = feed(recs).verdict({"a": 5})
    text = "\n".join(v.problems())
    assert "skein.seq gaps" in text and "(2, 2, 4)" in text
    assert "repeated or backwards" in text and "(3, 4, 4)" in text
    assert "duplicated" not in text


def test_seq_cover_fails_when_the_sequence_does_not_start_at_one():
    ledger = feed([record("a", n, n + 5) for n in range(1, 4)])
    with pytest.raises(AssertionError, match="last skein.seq 8 after 3 records"):
        ledger.verdict({"a": 3}).assert_sequences_cover()


def test_missing_lines_on_disk_are_the_agents_loss_and_truncated_ones_are_not():
    recs = [record("c", n, i + 1) for i, n in enumerate([1, 2, 3, 7, 8, 10])]
    disk = bytearray([0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1])  # 4 and 5 were truncated away; 6 and 9 are on disk
    v = feed(recs).verdict({"c": 10}, {"c": disk})
    assert v.missing["c"] == [4, 5, 6, 9]
    assert v.truncated_away["c"] == [4, 5]
    assert v.agent_lost["c"] == [6, 9]
    assert any("not delivered though still on disk: 6,9" in p for p in v.problems()), v.problems()
    # Without disk information every missing line is a loss.
    v2 = feed(recs).verdict({"c": 10})
    assert v2.agent_lost["c"] == [4, 5, 6, 9]


def test_out_of_order_within_a_file_unknown_and_unwritten_lines_are_found():
    recs = [record("a", 1, 1), record("a", 3, 2), record("a", 2, 3), record("a", 9, 4), record("zz", 1, 1)]
    v = feed(recs).verdict({"a": 3})
    text = "\n".join(v.problems())
    assert "out of order" in text
    assert "never written: [9]" in text
    assert "unknown tags: ['zz']" in text


def test_unreadable_records_are_findings():
    ledger = Ledger()
    ledger.add([("skein.source", b"files.a"), ("skein.seq", b"1")], b"not json", 0)
    ledger.add([("skein.source", b"files.a")], b"{}", 1)
    assert len(ledger.malformed) == 2
    assert any("unreadable" in p for p in ledger.verdict({}).problems())


def test_toml_document_parses_back():
    tables = {"agent": {"bootstrap": "127.0.0.1:1", "name": 'q"uote\\', "memory_cap": "16MiB"},
              "delivery": {"topic": "logs", "batch_linger_ms": 20},
              "sources.files.a": {"paths": ["/x/a.log*"], "start_at": "beginning", "multiline": {"max_lines": 3}}}
    parsed = tomllib.loads(toml_document(tables))
    assert parsed["agent"]["name"] == 'q"uote\\'
    assert parsed["sources"]["files"]["a"]["paths"] == ["/x/a.log*"]
    assert parsed["sources"]["files"]["a"]["multiline"] == {"max_lines": 3}
    assert parsed["delivery"]["batch_linger_ms"] == 20


def test_metrics_parser_sums_label_subsets():
    text = ('# HELP x y\n# TYPE skein_agent_file_lines_read_total counter\n'
            'skein_agent_file_lines_read_total{source="files.a"} 10\n'
            'skein_agent_file_lines_read_total{source="files.b",x="q\\"z"} 5\n'
            'skein_agent_transactions_total{outcome="committed"} 3\nup 1\n')
    samples = parse_metrics(text)
    assert metric_sum(samples, "skein_agent_file_lines_read_total") == 15
    assert metric_sum(samples, "skein_agent_file_lines_read_total", {"source": "files.b"}) == 5
    assert metric_sum(samples, "skein_agent_file_lines_read_total", {"x": 'q"z'}) == 5
    assert metric_sum(samples, "nope") is None
    assert metric_sum(samples, "up") == 1


@pytest.mark.timeout(60)
def test_writer_and_rotations_keep_every_line_on_disk(tmp_path):
    """The harness itself: every rotation mode, with the writer running flat out, keeps every line on disk
    once (rename and logrotate create), or loses only what copytruncate's window loses, or only rotated-away
    files (delete). Otherwise a test's finding could be the harness's own."""
    assert shutil.which("logrotate"), "logrotate is not installed (scripts/setup installs it)"
    logs = tmp_path / "logs"
    logs.mkdir()
    modes = {"rc": "rename_create", "rn": "rename_nocreate", "ct": "copytruncate", "dr": "delete_recreate",
             "lc": "logrotate_create", "lt": "logrotate_copytruncate"}
    rot = Rotator(logs, modes)
    writer = LineWriter({t: rot.path(t) for t in modes}, line_bytes=100).start()
    try:
        per_file, rounds = 500, 8
        for r in range(1, rounds + 1):
            writer.allow_all(int(per_file * (r + 0.5)))
            for tag in modes:
                from conftest import wait_until
                wait_until(lambda: writer.count(tag) >= per_file * r, 30, "writer progress on %s" % tag,
                           interval=0.005)
                rot.rotate(tag)
        writer.allow_all(per_file * (rounds + 1))
        writer.wait_written(30)
    finally:
        written = writer.stop()
    assert written == {t: per_file * (rounds + 1) for t in modes}
    for tag, mode in modes.items():
        disk = rot.on_disk(tag, written[tag])
        present = sum(1 for m in disk if m)
        assert max(disk) == 1, "%s: a line in two files" % tag
        if mode in ("rename_create", "rename_nocreate", "logrotate_create"):
            assert present == written[tag], (tag, present)
            assert len(list(logs.glob(tag + ".log*"))) == rounds + 1
        elif mode == "delete_recreate":
            assert 0 < present < written[tag]
            assert disk[written[tag]] == 1
        else:
            assert present <= written[tag] and disk[written[tag]] == 1
        # Files hold whole lines, each once, in order.
        for path in logs.glob(tag + ".log*"):
            ns = [int(line.split(b" ")[1]) for line in path.read_bytes().splitlines()]
            assert ns == sorted(set(ns)), path
            assert all(len(line) == 99 for line in path.read_bytes().splitlines())
