"""skein-agent's file source through rotation, against a real skeind, checked line by line: hundreds of
rotations in every mode (rename with and without create, copytruncate, delete and recreate, the real logrotate
with create and with copytruncate) while a writer appends as fast as it is let; the same with twenty kill -9s of
the agent at random moments; and the agent's /metrics after such a run.

Every check reads the whole topic with read_committed (ledger.Ledger): per source, skein.seq is exactly
1..N; per tag, every written line arrives once; per file, in order. Lines that copytruncate's window took off the
disk before anyone could read them are the only ones allowed to be missing; skein_agent_file_lines_lost_total
may count only such losses (see assert_copytruncate_accounting for why it cannot count them all).

Sizes: SKEIN_AGENT_SOAK=1 multiplies them (README, "Test settings")."""

from __future__ import annotations

import os
import random

import pytest

from agentharness import LAG_BYTES, LINES_LOST, LINES_READ, BYTES_READ, ROTATIONS, TRANSACTIONS, TRUNCATIONS
from ledger import TopicReader, wait_all_delivered
from logwriter import SOAK, TRUNCATING, LineWriter, Rotator, lossy_on_disk, torture
from conftest import create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the agent needs transactions")

LINE_BYTES = 120
ALL_MODES = {"rc": "rename_create", "rn": "rename_nocreate", "ct": "copytruncate", "dr": "delete_recreate",
             "lc": "logrotate_create", "lt": "logrotate_copytruncate"}
# SKEIN_AGENT_TORTURE_MODES=ct,lt runs the torture on those tags only (to repeat a finding).
TORTURE_MODES = {t: ALL_MODES[t] for t in os.environ.get("SKEIN_AGENT_TORTURE_MODES", ",".join(ALL_MODES)).split(",")}
# Rounds × tags = rotations: 34 × 6 = 204 by default, 170 × 6 = 1020 in a soak.
TORTURE_ROUNDS = int(os.environ.get("SKEIN_AGENT_TORTURE_ROUNDS", "170" if SOAK else "34"))
TORTURE_LINES = 2000 if SOAK else 1000  # lines per file between rotations
KILLS = int(os.environ.get("SKEIN_AGENT_KILLS", "20"))
KILL_ROUNDS = int(os.environ.get("SKEIN_AGENT_KILL_ROUNDS", "200" if SOAK else "24"))
KILL_SEED = int(os.environ.get("SKEIN_AGENT_KILL_SEED", str(random.SystemRandom().randrange(1 << 31))))


def setup_files(tmp_path, modes):
    logs = tmp_path / "logs"
    logs.mkdir()
    rot = Rotator(logs, modes, keep=TORTURE_ROUNDS + KILL_ROUNDS + 10)
    writer = LineWriter({t: rot.path(t) for t in modes}, line_bytes=LINE_BYTES)
    for t in modes:
        rot.path(t).touch()
    return rot, writer


def windows(lines: list[int]) -> int:
    """Runs of consecutive line numbers: each truncation window that lost anything is one run."""
    return sum(1 for i, n in enumerate(lines) if i == 0 or lines[i - 1] != n - 1)


def assert_copytruncate_accounting(agent, rot, verdict):
    """The issue asks for the lines lost in copytruncate windows to equal the metric. The agent cannot count
    them: the lines between the copy's end and the truncation were never read by it (had it read them, they
    would not be lost), so it cannot know how many there were. What it can know is that a loss happened: it
    saw the file longer than both the copy and its read position, or it holds the head of a line whose rest
    was cut. skein_agent_file_lines_lost_total therefore counts at most one line per truncation, only for
    such proven losses (its help text: "a lower bound"). So the checkable statement is: never more counted
    than lost, and never more than one per window that actually lost lines; nothing counted when nothing
    was lost."""
    for tag, mode in rot.modes.items():
        if mode not in TRUNCATING:
            continue
        gone = verdict.truncated_away[tag]
        counted = agent.metric_total(LINES_LOST, {"source": "files." + tag})
        print("%s (%s): %d lines truncated away unread in %d windows; the agent counted %d"
              % (tag, mode, len(gone), windows(gone), counted))
        assert counted <= len(gone) and counted <= windows(gone), (
            "%s (%s): the agent counted %d lines lost, but only %d lines in %d windows are missing from both the "
            "topic and the disk: %s" % (tag, mode, counted, len(gone), windows(gone), gone[:50]))


@pytest.mark.timeout(600 if SOAK else 150)
def test_rotation_torture(broker, agent_factory, topic_name, tmp_path):
    topic = topic_name()
    create_topic(broker, topic, 1)
    rot, writer = setup_files(tmp_path, TORTURE_MODES)
    agent = agent_factory.new(broker.bootstrap, topic, rot.sources()).start()
    rot.holder = lambda: agent.pid if agent.alive() else None
    writer.start()
    try:
        written = torture(rot, writer, TORTURE_LINES, TORTURE_ROUNDS)
    finally:
        writer.kill()
    assert sum(rot.done.values()) == TORTURE_ROUNDS * len(TORTURE_MODES)
    on_disk = lossy_on_disk(rot, written)
    reader = TopicReader(broker.bootstrap, topic)
    try:
        wait_all_delivered(reader, written, on_disk, timeout=300 if SOAK else 90)
        verdict = reader.ledger.verdict(written, on_disk)
        print("torture: %d rotations; %s" % (sum(rot.done.values()), verdict.summary()))
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert agent.alive(), agent.log_tail()
        assert_copytruncate_accounting(agent, rot, verdict)
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()


@pytest.mark.timeout(900 if SOAK else 150)
def test_agent_kill9_loop(broker, agent_factory, topic_name, tmp_path):
    """Twenty SIGKILLs of the agent at random moments of a rotation torture (seeded: SKEIN_AGENT_KILL_SEED
    repeats a run). After a kill the agent stays down for 0 to 2 more rotations, so files are renamed and
    logrotate shifts them while nothing follows them. Delete-and-recreate is left out: a file deleted while the
    agent is down is gone before anyone can read it, so no shipper could deliver it."""
    print("kill loop seed: %d (SKEIN_AGENT_KILL_SEED=%d repeats it)" % (KILL_SEED, KILL_SEED))
    rng = random.Random(KILL_SEED)
    modes = {t: m for t, m in ALL_MODES.items() if m != "delete_recreate"}
    topic = topic_name()
    create_topic(broker, topic, 1)
    rot, writer = setup_files(tmp_path, modes)
    lines_per_file = 600
    agent = agent_factory.new(broker.bootstrap, topic, rot.sources(),
                              delivery={"checkpoint_interval_seconds": 2}).start()
    steps = KILL_ROUNDS * len(modes)
    kill_at = set(rng.sample(range(steps - 1), min(KILLS, steps - 1)))
    state = {"down_until": None, "kills": 0}
    tags = list(modes)

    def after_rotation(step):
        if state["down_until"] is not None and step >= state["down_until"]:
            agent.start()
            state["down_until"] = None
        if step in kill_at:
            if not agent.alive():
                agent.start()
            # A random moment: after a random number of further lines of a random tag (bounded by what the
            # writer is allowed, so this never waits for nothing).
            tag = rng.choice(tags)
            target = min(writer.count(tag) + rng.randrange(lines_per_file // 2), writer.allowed(tag))
            wait_until(lambda: writer.count(tag) >= target, 30, "writer progress before a kill", interval=0.001)
            agent.kill9()
            state["kills"] += 1
            state["down_until"] = step + rng.randint(0, 2)

    writer.start()
    try:
        written = torture(rot, writer, lines_per_file, KILL_ROUNDS, after_rotation)
    finally:
        writer.kill()
    if not agent.alive():
        agent.start()
    assert state["kills"] == len(kill_at), state
    on_disk = lossy_on_disk(rot, written)
    reader = TopicReader(broker.bootstrap, topic)
    try:
        wait_all_delivered(reader, written, on_disk, timeout=300 if SOAK else 90)
        verdict = reader.ledger.verdict(written, on_disk)
        print("kill loop: %d kills, %d rotations, seed %d; %s" % (state["kills"], sum(rot.done.values()), KILL_SEED,
                                                                  verdict.summary()))
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert agent.alive(), agent.log_tail()
    finally:
        reader.close()
    assert agent.starts == state["kills"] + 1
    assert agent.terminate() == 0, agent.log_tail()


def caught_up(agent, writer, tag: str, timeout: float = 30.0):
    """Waits until the agent has read as many lines of tag as were written (more would be a re-read, which the
    exactly-once check then describes)."""
    seen = []

    def done():
        seen[:] = [agent.metric(LINES_READ, {"source": "files." + tag}, default=0.0), writer.count(tag)]
        return seen[0] >= seen[1]
    try:
        wait_until(done, timeout, "the agent to read %s to its end" % tag)
    except AssertionError as e:
        raise AssertionError("%s (lines read, written: %s)" % (e, seen)) from None


@pytest.mark.timeout(90)
def test_agent_metrics_after_rotations(broker, agent_factory, topic_name, tmp_path):
    """/metrics per source: lines and bytes read, rotations, truncations, lag back to 0, lines lost to
    copytruncate, transactions committed. Each rotation waits until the writer has stopped and the agent has
    read the file to its end, so the agent sees every rotation and truncation as it happens and nothing falls
    into a copytruncate window: the counts are exact. Files differ in length (500, 513, 526… lines), so a
    truncated file never grows back to the length it had (test_copytruncate_regrown_to_the_same_length)."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    modes = {"rc": "rename_create", "ct": "copytruncate", "lt": "logrotate_copytruncate"}
    rot, writer = setup_files(tmp_path, modes)
    agent = agent_factory.new(broker.bootstrap, topic, rot.sources()).start()
    writer.start()
    rounds, total = 8, 0
    try:
        for r in range(rounds + 1):
            total += 500 + 13 * r
            writer.allow_all(total)
            writer.wait_written(30)
            if r == rounds:
                break
            for tag in modes:
                caught_up(agent, writer, tag)
                rot.rotate(tag)
    finally:
        written = writer.stop()
    reader = TopicReader(broker.bootstrap, topic)
    try:
        wait_all_delivered(reader, written, timeout=60)
        verdict = reader.ledger.verdict(written)
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
    finally:
        reader.close()
    for tag in modes:
        labels = {"source": "files." + tag}
        # Nothing was restarted or lost, so every line was read once.
        assert agent.metric(LINES_READ, labels) == written[tag]
        assert agent.metric(BYTES_READ, labels) == written[tag] * LINE_BYTES
        wait_until(lambda: agent.metric(LAG_BYTES, labels) == 0, 30, "the agent's lag on %s to reach 0" % tag)
        assert agent.metric(LINES_LOST, labels, default=0.0) == 0
    assert agent.metric(ROTATIONS, {"source": "files.rc"}) == rounds
    assert agent.metric(TRUNCATIONS, {"source": "files.ct"}) == rounds
    assert agent.metric(TRUNCATIONS, {"source": "files.lt"}) == rounds
    assert agent.metric(TRANSACTIONS, {"outcome": "committed"}) >= 1
    assert agent.terminate() == 0, agent.log_tail()


@pytest.mark.timeout(60)
def test_copytruncate_regrown_to_the_same_length(broker, agent_factory, topic_name, tmp_path):
    """The agent has read a file to its end (500 lines); copytruncate; the application writes 500 lines of the
    same length again, so the file has its old length with new content before the agent looks. Its first bytes
    changed (a new fingerprint), so the agent must see a truncation and read the new lines from 0."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    modes = {"ct": "copytruncate"}
    rot, writer = setup_files(tmp_path, modes)
    agent = agent_factory.new(broker.bootstrap, topic, rot.sources(scan_interval_seconds=1)).start()
    writer.start()
    try:
        writer.allow("ct", 500)
        writer.wait_written(30)
        caught_up(agent, writer, "ct")
        rot.rotate("ct")
        writer.allow("ct", 1000)
        writer.wait_written(30)
    finally:
        written = writer.stop()
    assert (rot.dir / "ct.log").stat().st_size == (rot.dir / "ct.log.1").stat().st_size == 500 * LINE_BYTES
    reader = TopicReader(broker.bootstrap, topic)
    try:
        wait_all_delivered(reader, written, timeout=30)
        verdict = reader.ledger.verdict(written)
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
    finally:
        reader.close()
    assert agent.metric(TRUNCATIONS, {"source": "files.ct"}) == 1
    assert agent.terminate() == 0, agent.log_tail()
