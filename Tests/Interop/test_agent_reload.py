"""skein-agent reloads its sources on SIGHUP without losing or duplicating anything: ten reloads while a writer
appends to the followed files, one of them adding a second file source and one with a file that does not parse
(the agent logs the line and keeps running the previous configuration). Every line of every source arrives
exactly once, and each source's sequence numbers run on without a gap or repeat across the reloads."""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess

import pytest

from agentharness import toml_document
from ledger import TopicReader, wait_all_delivered
from logwriter import LineWriter
from conftest import HOST, create_topic, free_port, wait_until
from test_agent_syslog import LOGGER, lines

ACTIVATE = shutil.which("systemd-socket-activate")

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


@pytest.mark.skipif(ACTIVATE is None or LOGGER is None, reason="needs systemd-socket-activate and util-linux logger")
@pytest.mark.timeout(120)
def test_socket_activated_listener_survives_reloads(broker, agent_factory, topic_name):
    """A listener systemd passed (fd:NAME) is not closed by a reload: the agent takes it up again, and lines sent
    over it after each reload arrive, each once."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    port = free_port()
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={"act": {"tcp": ["fd:syslog-tcp"]}})
    agent.command_prefix = [ACTIVATE, "-l", "%s:%d" % (HOST, port), "--fdname=syslog-tcp"]
    agent.start(wait_ready=False)
    wait_until(lambda: _accepts(port), 30, "systemd-socket-activate to listen")
    reader = TopicReader(broker.bootstrap, topic)
    batch, rounds = 500, 4
    try:
        for r in range(rounds):
            first, last = r * batch + 1, (r + 1) * batch
            text = "\n".join(lines("rt", first, last)) + "\n"
            subprocess.run([LOGGER, "-t", "app-rt", "--tcp", "--octet-count", "-n", HOST, "-P", str(port)],
                           input=text.encode(), check=True, timeout=60)
            if r == 0:
                agent.wait_ready()
            # Read before the reload, so each batch is known to have gone through the listener of its round.
            assert wait_all_delivered(reader, {"rt": last}, timeout=60), reader.ledger.verdict({"rt": last}).summary()
            if r < rounds - 1:
                line = agent.reload(tables=agent.tables)
                assert "stopping the log sources" in line, line
        counts = {"rt": rounds * batch}
        reader.ledger.verdict(counts).assert_exactly_once(reader)
        assert agent.log().count("listening: tcp fd:syslog-tcp") == rounds, agent.log_tail()
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False
