"""skein-agent's journald source reading a directory of real journal files (written by systemd-journal-remote),
shipping to skeind: every entry exactly once, checked by the line number in each MESSAGE and by skein.seq,
while new journal files appear, across SIGTERM restarts and across kill -9."""

from __future__ import annotations

import pytest

from agentharness import write_journal
from ledger import TopicReader
from conftest import create_topic, wait_until

pytestmark = pytest.mark.skeind_only("the agent needs transactions")

TAG = "jd"


def journald_agent(agent_factory, broker, topic, directory):
    return agent_factory.new(broker.bootstrap, topic, {}, journald={TAG: {"directory": str(directory)}},
                             delivery={"checkpoint_interval_seconds": 1, "batch_linger_ms": 20})


def read_all(reader: TopicReader, agent, written: int, timeout: float = 90.0):
    ok = reader.read_until(lambda lg: lg.delivered(TAG) >= written, timeout)
    assert ok, "only %d of %d entries delivered:\n%s" % (reader.ledger.delivered(TAG), written, agent.log_tail())


@pytest.mark.timeout(240)
def test_journal_directory_exactly_once_across_new_files_and_restarts(broker, agent_factory, topic_name, tmp_path):
    topic = topic_name()
    create_topic(broker, topic, 1)
    journal = tmp_path / "journal"
    write_journal(journal, "a", TAG, 1, 2000)
    agent = journald_agent(agent_factory, broker, topic, journal).start()
    reader = TopicReader(broker.bootstrap, topic)
    try:
        read_all(reader, agent, 2000)
        # A new journal file in the directory while the agent runs (what journald's rotation does).
        write_journal(journal, "b", TAG, 2001, 3000)
        read_all(reader, agent, 5000)
        assert agent.metric("skein_agent_journald_entries_read_total", {"source": "journald.%s" % TAG}) == 5000

        # SIGTERM, then entries written while it is down: resumed just after the last committed cursor.
        agent.terminate()
        write_journal(journal, "c", TAG, 5001, 1000)
        agent.start()
        read_all(reader, agent, 6000)

        # kill -9 while it ships a large file: each incarnation is killed as soon as it has committed
        # something, 6 times; at least the first kill lands before the file is shipped.
        total = 6000 + 100000
        write_journal(journal, "d", TAG, 6001, 100000)
        source = {"source": "journald.%s" % TAG}
        mid_stream_kills = 0
        for _ in range(6):
            def progress():
                # The sequence gauge starts at the recovered sequence, so a finished source says so at once.
                if agent.metric("skein_agent_source_sequence", source, default=0) >= total:
                    return "done"
                return agent.metric("skein_agent_log_records_committed_total", source, default=0) > 0 and "shipping"
            if wait_until(progress, 60, "the agent to commit entries") == "done":
                break
            mid_stream_kills += 1
            agent.restart(kill=True)
        assert mid_stream_kills >= 1, "the agent shipped everything before the first kill"
        read_all(reader, agent, total, timeout=180)
        # One more restart at the end must add nothing: the last cursor's entry is not shipped again.
        agent.restart(kill=False)
        write_journal(journal, "e", TAG, total + 1, 10)
        read_all(reader, agent, total + 10)
        verdict = reader.ledger.verdict({TAG: total + 10})
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert reader.ledger.records == total + 10, verdict.summary()
        print("journald: %d kills mid-stream, %s" % (mid_stream_kills, verdict.summary()))
        assert agent.terminate() == 0
    finally:
        reader.close()


@pytest.mark.timeout(120)
def test_journald_check_config_names_the_line(tmp_path):
    import subprocess
    from agentharness import agent_path
    config = tmp_path / "agent.toml"
    config.write_text('[sources.journald.sys]\nunits = ["nginx"]\npriority = "loud"\n')
    out = subprocess.run([str(agent_path()), "check-config", "--config", str(config)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert "line 3" in out.stdout + out.stderr, out.stdout + out.stderr
    config.write_text('[sources.journald.sys]\nunits = ["nginx"]\npriority = "err"\ndirectory = "/var/log/journal"\n')
    out = subprocess.run([str(agent_path()), "check-config", "--config", str(config)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "journald.sys → logs: directory /var/log/journal, units nginx.service, priority err and above" in out.stdout
