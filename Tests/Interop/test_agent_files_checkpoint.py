"""skein-agent's state_dir is a cache: between restarts its files are deleted (or the whole directory), zeroed,
filled with random bytes, or given wrong numbers that still parse (every digit run replaced), and the agent, restarted after SIGTERM or
SIGKILL, still delivers every line once: positions come from its own partition, not from the cache."""

from __future__ import annotations

import os
import random
import re
import shutil

import pytest

from ledger import TopicReader, wait_all_delivered
from logwriter import SOAK, LineWriter, Rotator, torture
from conftest import create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the agent needs transactions")

SEED = int(os.environ.get("SKEIN_AGENT_CACHE_SEED", str(random.SystemRandom().randrange(1 << 31))))
DAMAGE = ("delete", "garbage", "empty", "wrong_numbers", "delete_dir")


def damage_state(state_dir, how: str, rng: random.Random) -> int:
    """Damages every file under state_dir; returns how many there were."""
    files = [p for p in state_dir.rglob("*") if p.is_file()] if state_dir.exists() else []
    if how == "delete_dir":
        shutil.rmtree(state_dir)
    for path in files if how != "delete_dir" else []:
        if how == "delete":
            path.unlink()
            continue
        data = path.read_bytes()
        if how == "garbage":
            path.write_bytes(rng.randbytes(max(64, len(data))))
        elif how == "empty":
            path.write_bytes(b"")
        else:
            # Still JSON, still this agent's: offsets that are 0, small, or past the end.
            path.write_bytes(re.sub(rb"\d+", lambda m: str(rng.choice([0, rng.randrange(1, 1000),
                                                                        rng.randrange(1, 1 << 40)])).encode(), data))
    return len(files)


@pytest.mark.timeout(300 if SOAK else 120)
def test_state_cache_deleted_or_damaged_between_restarts(broker, agent_factory, topic_name, tmp_path):
    print("state cache seed: %d (SKEIN_AGENT_CACHE_SEED)" % SEED)
    rng = random.Random(SEED)
    topic = topic_name()
    create_topic(broker, topic, 1)
    logs = tmp_path / "logs"
    logs.mkdir()
    modes = {"rc": "rename_create", "lc": "logrotate_create"}
    rot = Rotator(logs, modes)
    for t in modes:
        rot.path(t).touch()
    writer = LineWriter({t: rot.path(t) for t in modes}, line_bytes=120)
    agent = agent_factory.new(broker.bootstrap, topic, rot.sources(),
                              delivery={"checkpoint_interval_seconds": 1}).start()
    rounds = 60 if SOAK else 16
    restart_at = {s: DAMAGE[i % len(DAMAGE)] for i, s in enumerate(sorted(rng.sample(range(rounds * 2), 10)))}
    seen = []

    cache = agent.state_dir / "checkpoints.json"  # README: the cache names the last checkpoint's offset

    def after_rotation(step):
        how = restart_at.get(step)
        if how is None:
            return
        # Damage a cache that exists: the agent writes it with its next checkpoint after a start.
        wait_until(cache.exists, 30, "the agent to write %s" % cache)
        if len(seen) % 2:
            agent.kill9()
        else:
            assert agent.terminate() == 0, agent.log_tail()
        seen.append((how, damage_state(agent.state_dir, how, rng)))
        agent.start()

    writer.start()
    try:
        written = torture(rot, writer, 1500, rounds, after_rotation)
    finally:
        writer.kill()
    print("state cache: restarts (damage, files damaged): %s" % seen)
    assert len(seen) == 10 and all(n >= 1 for how, n in seen), seen
    reader = TopicReader(broker.bootstrap, topic)
    try:
        wait_all_delivered(reader, written, timeout=90)
        verdict = reader.ledger.verdict(written)
        print("state cache: " + verdict.summary())
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
    finally:
        reader.close()
    assert agent.alive(), agent.log_tail()
    assert agent.terminate() == 0, agent.log_tail()
