"""skein-agent reloads its sources on SIGHUP without losing or duplicating anything: ten reloads while a writer
appends to the followed files, one of them adding a second file source and one with a file that does not parse
(the agent logs the line and keeps running the previous configuration). Every line of every source arrives
exactly once, and each source's sequence numbers run on without a gap or repeat across the reloads."""

from __future__ import annotations

import copy

import pytest

from agentharness import LineWriter, TopicReader, toml_document, wait_all_delivered
from conftest import create_topic

pytestmark = pytest.mark.skeind_only("the agent needs transactions")

RELOADS = 10
ADD_SOURCE_AT = 3
INVALID_AT = 6
LINES_PER_ROUND = 400


@pytest.mark.timeout(180)
def test_sighup_reloads_sources_exactly_once(broker, agent_factory, topic_name, tmp_path):
    topic = topic_name()
    create_topic(broker, topic, 1)
    logs = tmp_path / "logs"
    logs.mkdir()
    files = {tag: logs / ("%s.log" % tag) for tag in ("a", "b")}
    for path in files.values():
        path.touch()
    writer = LineWriter(files, line_bytes=120)
    agent = agent_factory.new(broker.bootstrap, topic, {"a": {"paths": [str(files["a"])]}},
                              delivery={"checkpoint_interval_seconds": 1}).start()
    with_b = copy.deepcopy(agent.tables)
    with_b["sources.files.b"] = {"start_at": "beginning", "paths": [str(files["b"])]}
    taken = []
    writer.start()
    try:
        for i in range(RELOADS):
            # The writer keeps going while the agent stops and starts its sources.
            writer.allow_all((i + 1) * LINES_PER_ROUND)
            if i == INVALID_AT:
                line = agent.reload(text=toml_document(agent.tables) + "\nthis is not toml\n")
                assert "line " in line and "previous configuration" in line, line
            elif i >= ADD_SOURCE_AT:
                line = agent.reload(tables=with_b)
                assert "stopping the log sources" in line, line
            else:
                line = agent.reload(tables=agent.tables)
                assert "stopping the log sources" in line, line
            taken.append(line)
            writer.wait_written(timeout=60)
        writer.allow_all((RELOADS + 1) * LINES_PER_ROUND)
        writer.wait_written(timeout=60)
        written = writer.stop()
    finally:
        writer.kill()
    assert len(taken) == RELOADS
    assert written == {"a": (RELOADS + 1) * LINES_PER_ROUND, "b": (RELOADS + 1) * LINES_PER_ROUND}, written
    reader = TopicReader(broker.bootstrap, topic)
    try:
        assert wait_all_delivered(reader, written, timeout=90), reader.ledger.verdict(written).summary()
        verdict = reader.ledger.verdict(written)
        print("reload: " + verdict.summary())
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
    finally:
        reader.close()
    assert agent.alive(), agent.log_tail()
    assert agent.terminate() == 0, agent.log_tail()
