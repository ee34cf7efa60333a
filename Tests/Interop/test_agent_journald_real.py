"""skein-agent's journald source against a real journald: a systemd box (systemdbox.py) boots Debian's systemd as
PID 1, services inside log through stdout, `logger` and `systemd-cat`, and the agent on the host ships the box's
journal into skeind; agentharness's Ledger checks every line by its sequence number with read_committed.

Where the agent runs. Mostly on the host, reading the box's journal directory (`directory = "…"`): journald
inside writes /var/log/journal, which is a host directory bind-mounted in (Storage=persistent), so the files stay
put across a journald restart, a rotation and the box's own end, the host's inotify sees journald's writes (the
files live on the host's file system), and the agent is an ordinary host process (its own network, SIGKILL by
pid, no runtime to bring). The host and the box run the same libsystemd (the box is built from the host's apt
sources). The default source (no directory: the local system journal, chosen by /etc/machine-id) is tested too,
by one test that runs the agent in the box's mount namespace (systemdbox.host_binaries binds the Swift runtime
in, SystemdBox.mount_argv keeps the host's pid and network namespaces).

Lines are `TAG N pad…`. Every service logs under its own SYSLOG_IDENTIFIER, which is the tag; the agent's
source matches those identifiers only (so systemd's own entries stay out):
  jstdout  stdout of a transient service (systemd-run), severity info, unit jt-stdout-PHASE.service
  jlogger  `logger -p user.err` fed by a pipe inside a service, severity err
  jcat     `systemd-cat -p warning` likewise, severity warning

Knobs: SKEIN_AGENT_KILLS (20), SKEIN_AGENT_KILL_SEED (random, printed), SKEIN_JOURNALD_LINES (lines per tag and
phase in the rotation test, 2000), SKEIN_JOURNALD_RATE (lines per second per tag in the kill loop, 300)."""

from __future__ import annotations

import os
import random
import time

import pytest

from agentharness import agent_path
from ledger import Ledger, TopicReader, wait_all_delivered
from conftest import create_topic, wait_until
from systemdbox import BoxFactory, host_binaries, read_journal, require_boxes

# 900 s: the first run on a machine builds the cached root file system (1 to 3 minutes) inside a test.
pytestmark = [pytest.mark.skeind_only("ships into skeind with transactions"), pytest.mark.timeout(900)]

KILLS = int(os.environ.get("SKEIN_AGENT_KILLS", "20"))
KILL_SEED = int(os.environ.get("SKEIN_AGENT_KILL_SEED", str(random.SystemRandom().randrange(1 << 31))))
LINES = int(os.environ.get("SKEIN_JOURNALD_LINES", "2000"))
RATE = int(os.environ.get("SKEIN_JOURNALD_RATE", "300"))

TAGS = ("jstdout", "jlogger", "jcat")
SEVERITY = {"jstdout": "info", "jlogger": "err", "jcat": "warning"}
TRANSPORT = {"jstdout": "stdout", "jlogger": "syslog", "jcat": "stdout"}
DROPPED = "skein_agent_source_dropped_total"

# jt-gen TAG FIRST LAST BATCH PAUSE: prints "TAG n pad" for n = FIRST..LAST, sleeping PAUSE s after every BATCH
# lines, and stops early once /run/jt-stop exists; then writes the last n it printed to /run/jt-last-TAG.
GENERATOR = """#!/bin/sh
tag=$1; n=$2; last=$3; batch=$4; pause=$5; k=0
while [ "$n" -le "$last" ]; do
  echo "$tag $n pad-$tag-$n-0123456789abcdefghijklmnopqrstuvwxyz"
  n=$((n+1)); k=$((k+1))
  if [ "$k" -ge "$batch" ]; then
    k=0
    [ -e /run/jt-stop ] && break
    sleep "$pause"
  fi
done
echo $((n-1)) > /run/jt-last-$tag.tmp && mv /run/jt-last-$tag.tmp /run/jt-last-$tag
"""


@pytest.fixture
def boxes(tmp_path):
    require_boxes()
    f = BoxFactory(tmp_path / "boxes")
    yield f
    f.cleanup()


class Services:
    """Starts the three logging services in a box, phase after phase, and knows what they wrote: per tag, lines
    1..written[tag], in order (a phase starts where the previous one of its tag ended)."""

    def __init__(self, box):
        self.box = box
        self.written = {t: 0 for t in TAGS}
        self.running: dict[str, str] = {}  # tag → unit
        self.units: dict[str, list[str]] = {t: [] for t in TAGS}  # every unit a tag ran in, by phase
        box.write_file("/usr/local/bin/jt-gen", GENERATOR, mode=0o755)
        box.write_file("/usr/local/bin/jt-logger", '#!/bin/sh\njt-gen jlogger "$@" | logger -t jlogger -p user.err\n',
                       mode=0o755)
        box.write_file("/usr/local/bin/jt-cat", '#!/bin/sh\njt-gen jcat "$@" | systemd-cat -t jcat -p warning\n',
                       mode=0o755)

    def start(self, phase: str, lines: int, batch: int, pause: float):
        """Starts every tag's next `lines` lines (or until stop())."""
        self.box.exec("rm", "-f", "/run/jt-stop")
        for tag in TAGS:
            assert tag not in self.running, "%s still running" % tag
            first, last = self.written[tag] + 1, self.written[tag] + lines
            args = [str(first), str(last), str(batch), str(pause)]
            unit = "jt-%s-%s" % (tag[1:], phase)
            self.box.exec("rm", "-f", "/run/jt-last-" + tag)
            if tag == "jstdout":
                self.box.run_unit(unit, "/usr/local/bin/jt-gen", tag, *args, properties={"SyslogIdentifier": tag})
            else:
                self.box.run_unit(unit, "/usr/local/bin/jt-" + tag[1:], *args)
            self.running[tag] = unit
            self.units[tag].append(unit + ".service")

    def stop(self):
        """Asks the running services to stop after their current batch."""
        self.box.exec("touch", "/run/jt-stop")

    def wait(self, timeout: float = 120.0) -> dict[str, int]:
        """Waits until every running service has exited 0; returns written (tag → N)."""
        for tag, unit in list(self.running.items()):
            self.box.wait_unit_done(unit, timeout)
            self.written[tag] = int(self.box.exec("cat", "/run/jt-last-" + tag).stdout)
            del self.running[tag]
        return dict(self.written)

    def numbers(self, tag: str) -> list[int]:
        """The line numbers of the tag in the journal now (read on the host), in journal order."""
        return [int(e["MESSAGE"].split(" ", 2)[1])
                for e in read_journal(self.box.machine_journal, "SYSLOG_IDENTIFIER=" + tag)]

    def progress(self, tag: str) -> int:
        """The highest line number of the tag in the journal (0: none): for placing events among the writes."""
        return max(self.numbers(tag), default=0)


def journald_agent(agent_factory, broker, topic, box, **settings):
    return agent_factory.new(broker.bootstrap, topic, {}, host_name="it-journald", journald={
        "x": {"directory": str(box.machine_journal), "identifiers": list(TAGS), "start_at": "beginning",
              **settings}},
        delivery={"batch_linger_ms": 50, "checkpoint_interval_seconds": 2})


class FieldCheck:
    """Ledger hook: every numbered line must carry its service's unit, identifier, severity and host; a record
    that is not a numbered line (the source's own notice, e.g. after a vacuum) is set aside."""

    def __init__(self, services: Services):
        self.services = services
        self.source = "journald.x"
        self.wrong: list = []
        self.units: dict[tuple[str, int], str | None] = {}

    def compare_units(self, box) -> int:
        """Every delivered line's unit against its entry still in the journal (_SYSTEMD_UNIT, else
        SYSLOG_IDENTIFIER). Returns how many entries had no _SYSTEMD_UNIT."""
        wrong, without = [], 0
        for tag in TAGS:
            for e in read_journal(box.machine_journal, "SYSLOG_IDENTIFIER=" + tag):
                n = int(e["MESSAGE"].split(" ", 2)[1])
                want = e.get("_SYSTEMD_UNIT", e["SYSLOG_IDENTIFIER"])
                without += "_SYSTEMD_UNIT" not in e
                if (tag, n) in self.units and self.units[(tag, n)] != want and len(wrong) < 10:
                    wrong.append((tag, n, self.units[(tag, n)], want))
        assert not wrong, "records whose unit is not their journal entry's (tag, n, got, want): %s" % wrong
        return without

    def __call__(self, record: dict, headers: dict) -> bool:
        message = record.get("message", "")
        tag = message.split(" ", 1)[0]
        if tag not in TAGS:
            return False
        fields = record.get("fields") or {}
        want = {"source": "journald", "severity": SEVERITY[tag], "host": "skein-box"}
        got = {k: record.get(k) for k in want}
        # The unit is the entry's _SYSTEMD_UNIT, which journald can miss (a stream's last lines read after the
        # writer exited, across a journald restart): then it is the identifier. compare_units() checks each
        # record against its own journal entry.
        unit = record.get("unit")
        if unit not in self.services.units[tag] and unit != tag:
            got["unit"], want["unit"] = unit, "one of %s or %s" % (self.services.units[tag], tag)
        try:
            self.units[(tag, int(message.split(" ", 2)[1]))] = unit
        except (IndexError, ValueError):
            pass  # the Ledger reports the unreadable line
        # README, "journald source": the kept fields by their names, the others lower-cased.
        kept = {"syslog_identifier": fields.get("syslog_identifier"), "transport": fields.get("transport"),
                "pid": type(fields.get("pid")).__name__, "_systemd_unit": fields.get("_systemd_unit", "absent")}
        expect = {"syslog_identifier": tag, "transport": TRANSPORT[tag], "pid": "int", "_systemd_unit": "absent"}
        for k in kept:
            if kept[k] != expect[k]:
                got[k], want[k] = kept[k], expect[k]
        if headers.get("skein.source") != self.source:
            got["skein.source"], want["skein.source"] = headers.get("skein.source"), self.source
        if got != want and len(self.wrong) < 10:
            self.wrong.append((message[:40], got, want))
        return True


def archived(box) -> list[str]:
    return sorted(p.name for p in box.machine_journal.glob("system@*.journal"))


def test_journald_services_ship_exactly_once_through_rotate_vacuum_and_restart(boxes, broker, agent_factory,
                                                                               topic_name, tmp_path):
    box = boxes.new(journal_dir=tmp_path / "journal").boot()
    topic = topic_name()
    create_topic(broker, topic, 1)
    svc = Services(box)
    check = FieldCheck(svc)
    agent = journald_agent(agent_factory, broker, topic, box).start()
    reader = TopicReader(broker.bootstrap, topic, Ledger(order_field=None, on_record=check))
    try:
        # Phase a: a rotation while the services write.
        svc.start("a", LINES, batch=20, pause=0.02)
        wait_until(lambda: svc.progress("jstdout") >= LINES // 2, 60, "half of phase a in the journal", 0.1)
        box.exec("journalctl", "--rotate")
        written = svc.wait()
        for tag in TAGS:
            wait_until(lambda: svc.numbers(tag) == list(range(1, LINES + 1)), 30, "phase a of %s in the journal" % tag)
        assert wait_all_delivered(reader, written, timeout=120), reader.ledger.verdict(written).summary()

        # Everything so far is committed: rotate again and vacuum the older archive, which the agent has read.
        box.exec("journalctl", "--rotate")
        before = archived(box)
        assert len(before) >= 2, before
        # --vacuum-files counts the active file too: keep it and all archives but the oldest.
        box.exec("journalctl", "--vacuum-files=%d" % len(before))
        assert archived(box) == before[1:], "vacuum did not remove the oldest archive: %s → %s" % (before,
                                                                                                   archived(box))

        # Phase b: journald restarts while the services write.
        svc.start("b", LINES, batch=20, pause=0.02)
        wait_until(lambda: svc.progress("jstdout") >= LINES + LINES // 3, 60, "a third of phase b", 0.1)
        pid_before = box.systemctl("show", "-p", "MainPID", "systemd-journald").stdout.strip()
        box.systemctl("restart", "systemd-journald")
        assert box.systemctl("show", "-p", "MainPID", "systemd-journald").stdout.strip() != pid_before
        written = svc.wait()
        assert wait_all_delivered(reader, written, timeout=120), reader.ledger.verdict(written).summary()
        # journald itself kept every line of phase b (else a loss below would not be the agent's).
        for tag in TAGS:
            wait_until(lambda: [n for n in svc.numbers(tag) if n > LINES] == list(range(LINES + 1, written[tag] + 1)), 30,
                       "every line of phase b of %s in the journal" % tag)
        verdict = reader.ledger.verdict(written)
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert not check.wrong, "records with wrong fields (message, got, want): %s" % check.wrong
        check.compare_units(box)
        assert not reader.ledger.others, "unexpected records: %s" % reader.ledger.others[:5]
        assert agent.metric(DROPPED, {"source": "journald.x", "reason": "vacuumed"}, default=0.0) == 0
        print("journald: %s; box booted in %.2f s" % (verdict.summary(), box.boot_seconds))
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()


def test_journald_vacuumed_unread_entries_are_reported_not_skipped_silently(boxes, broker, agent_factory,
                                                                            topic_name, tmp_path):
    """The agent is down while lines are written and their journal file is vacuumed: at start its cursor no
    longer exists. It must say so (a warning record, skein_agent_source_dropped_total{reason="vacuumed"}) and
    resume at the oldest entry left, neither at the head nor at the tail."""
    box = boxes.new(journal_dir=tmp_path / "journal").boot()
    topic = topic_name()
    create_topic(broker, topic, 1)
    svc = Services(box)
    check = FieldCheck(svc)
    agent = journald_agent(agent_factory, broker, topic, box).start()
    reader = TopicReader(broker.bootstrap, topic, Ledger(order_field=None, on_record=check))
    n = 300
    try:
        svc.start("a", n, batch=100, pause=0.01)
        written = svc.wait()
        assert wait_all_delivered(reader, written, timeout=60), reader.ledger.verdict(written).summary()
        assert agent.terminate() == 0, agent.log_tail()

        # Unread: lines n+1..2n, in the file that also holds the agent's cursor; both go with the vacuum.
        svc.start("b", n, batch=100, pause=0.01)
        svc.wait()
        for tag in TAGS:
            wait_until(lambda: len(svc.numbers(tag)) == 2 * n, 30, "phase b of %s in the journal" % tag)
        box.exec("journalctl", "--rotate")
        box.exec("journalctl", "--vacuum-size=1")  # every archived file
        assert archived(box) == [], archived(box)
        assert all(svc.numbers(tag) == [] for tag in TAGS), "the vacuum left lines of the services"
        # Phase c is in the journal before the agent starts, phase d arrives while it runs.
        svc.start("c", n, batch=100, pause=0.01)
        svc.wait()
        agent.start()
        svc.start("d", n, batch=100, pause=0.01)
        written = svc.wait()
        lost = {t: list(range(n + 1, 2 * n + 1)) for t in TAGS}

        def complete(lg):
            return all(lg.delivered(t) >= written[t] - n for t in TAGS)

        assert reader.read_until(complete, 60), reader.ledger.verdict(written).summary()
        verdict = reader.ledger.verdict(written)
        assert verdict.missing == lost, "missing lines other than the vacuumed ones: %s" % {
            t: sorted(set(verdict.missing[t]) ^ set(lost[t]))[:20] for t in TAGS}
        lg = reader.ledger
        assert not lg.duplicates and not lg.order_errors and not lg.malformed, verdict.problems()
        verdict.assert_sequences_cover()
        assert not check.wrong, "records with wrong fields (message, got, want): %s" % check.wrong
        # The warning record: the source's own, in the same sequence, saying that entries were vacuumed.
        notices = [r for _, r in lg.others]
        assert any("vacuum" in (r.get("message") or "").lower() for r in notices), \
            "no warning record about the vacuumed entries; other records: %s" % notices[:5]
        warnings = [r for r in notices if (r.get("fields") or {}).get("journald_gap") is True]
        assert len(warnings) == 1 and warnings[0].get("severity") == "warning" \
            and warnings[0].get("unit") == "skein-agent", "the warning record: %s" % notices[:5]
        print("journald vacuum warning: %s" % warnings[0]["message"])
        # It counts the journal's entries between the cursors: at least the services' lines that went.
        dropped = agent.metric(DROPPED, {"source": "journald.x", "reason": "vacuumed"})
        assert dropped >= sum(len(v) for v in lost.values()), dropped
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()


def test_journald_agent_killed_20_times_loses_and_duplicates_nothing(boxes, broker, agent_factory, topic_name,
                                                                    tmp_path):
    """SIGKILL at random moments while the services log (and the journal rotates now and then); at the end every
    line is in the topic exactly once and skein.seq has no gap and no repeat."""
    print("kill seed: SKEIN_AGENT_KILL_SEED=%d, kills: %d" % (KILL_SEED, KILLS))
    rng = random.Random(KILL_SEED)
    box = boxes.new(journal_dir=tmp_path / "journal").boot()
    topic = topic_name()
    create_topic(broker, topic, 1)
    svc = Services(box)
    check = FieldCheck(svc)
    agent = journald_agent(agent_factory, broker, topic, box).start()
    reader = TopicReader(broker.bootstrap, topic, Ledger(order_field=None, on_record=check))
    batch = 10
    try:
        svc.start("k", 10_000_000, batch=batch, pause=round(batch / RATE, 3))
        started = time.monotonic()
        for k in range(KILLS):
            # A random moment: within the first second after the start (recovery, first transactions) or later.
            time.sleep(rng.uniform(0.05, 1.5))  # the randomised kill point, not a synchronisation
            reader.poll(0.05)
            agent.kill9()
            if k % 7 == 3:
                box.exec("journalctl", "--rotate")
            agent.start()
        svc.stop()
        written = svc.wait()
        elapsed = time.monotonic() - started
        assert wait_all_delivered(reader, written, timeout=180), reader.ledger.verdict(written).summary()
        verdict = reader.ledger.verdict(written)
        print("kill loop: %d kills in %.1f s, %s" % (KILLS, elapsed, verdict.summary()))
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert not check.wrong, "records with wrong fields (message, got, want): %s" % check.wrong
        check.compare_units(box)
        assert all(written[t] > 0 for t in TAGS), written
        assert agent.starts == KILLS + 1 and agent.exit_codes == [-9] * KILLS, agent.exit_codes
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()


def test_journald_local_journal_read_inside_the_box(boxes, broker, agent_factory, topic_name, tmp_path):
    """The default source (no directory: the local system journal, SD_JOURNAL_LOCAL_ONLY) as it runs on a
    machine: the agent runs in the box's mount namespace (its /etc/machine-id, /run/log/journal and
    /var/log/journal; the host's Swift runtime bound in), in the host's network and pid namespaces so that it
    reaches skeind and is killed by pid. Through a rotation, a journald restart and 5 SIGKILLs, every line
    arrives once."""
    exe = agent_path()
    settings = host_binaries(exe)
    box = boxes.new(journal_dir=tmp_path / "journal", network="host", extra_packages=settings["extra_packages"],
                    ro_binds={**settings["ro_binds"], str(exe.parent): str(exe.parent)},
                    binds={str(agent_factory.base): str(agent_factory.base)}).boot()
    topic = topic_name()
    create_topic(broker, topic, 1)
    svc = Services(box)
    check = FieldCheck(svc)
    agent = agent_factory.new(broker.bootstrap, topic, {}, host_name="it-journald-local", journald={
        "local": {"identifiers": list(TAGS), "start_at": "beginning"}},
        delivery={"batch_linger_ms": 50, "checkpoint_interval_seconds": 2})
    agent.command_prefix = box.mount_argv()
    agent.start()
    check.source = "journald.local"
    reader = TopicReader(broker.bootstrap, topic, Ledger(order_field=None, on_record=check))
    rng = random.Random(KILL_SEED)
    try:
        svc.start("l", LINES, batch=20, pause=0.02)
        wait_until(lambda: svc.progress("jstdout") >= LINES // 3, 60, "a third of the lines in the journal", 0.1)
        box.exec("journalctl", "--rotate")
        for k in range(5):
            time.sleep(rng.uniform(0.05, 0.8))  # the randomised kill point, not a synchronisation
            agent.kill9()
            if k == 2:
                box.systemctl("restart", "systemd-journald")
            agent.start()
        written = svc.wait()
        assert wait_all_delivered(reader, written, timeout=120), reader.ledger.verdict(written).summary()
        verdict = reader.ledger.verdict(written)
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert not check.wrong, "records with wrong fields (message, got, want): %s" % check.wrong
        without = check.compare_units(box)
        assert not reader.ledger.others, "unexpected records: %s" % reader.ledger.others[:5]
        print("journald local, agent in the box: %s; entries without _SYSTEMD_UNIT: %d" % (verdict.summary(),
                                                                                           without))
    finally:
        reader.close()
    assert agent.terminate() == 0, agent.log_tail()
