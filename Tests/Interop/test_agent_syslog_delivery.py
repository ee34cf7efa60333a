"""skein-agent's syslog source beyond the happy path: listeners handed over by systemd socket activation (by fd
name, as systemd-socket-activate passes them), backpressure while the broker is away (a TCP sender blocks and
the agent's memory stays bounded, UDP drops are counted; everything the TCP sender sent arrives once the broker
is back), and SIGTERM delivering what was read."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from ledger import MiB, TopicReader, wait_all_delivered
from logwriter import line_text
from conftest import HOST, create_topic, free_port, wait_until
from test_agent_syslog import LINE_BYTES, LOGGER, lines, run_logger

ACTIVATE = shutil.which("systemd-socket-activate")

pytestmark = [pytest.mark.skipif(LOGGER is None, reason="util-linux logger is not installed"),
              pytest.mark.skeind_only("the agent needs transactions")]


def bsd_line(tag: str, n: int) -> bytes:
    return ("<13>Dec  4 10:00:00 sender app: " + line_text(tag, n, LINE_BYTES)).encode()


@pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_socket_activated_tcp(broker, agent_factory, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    port = free_port()
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={"act": {"tcp": ["fd:syslog-tcp"]}})
    agent.command_prefix = [ACTIVATE, "-l", "%s:%d" % (HOST, port), "--fdname=syslog-tcp"]
    agent.start(wait_ready=False)
    # systemd-socket-activate listens first and starts the agent on the first connection.
    wait_until(lambda: _accepts(port), 30, "systemd-socket-activate to listen")
    reader = TopicReader(broker.bootstrap, topic)
    try:
        run_logger(["--tcp", "--octet-count", "-n", HOST, "-P", str(port)], "sa", 3000)
        agent.wait_ready()
        assert wait_all_delivered(reader, {"sa": 3000}, timeout=90), reader.ledger.verdict({"sa": 3000}).summary()
        reader.ledger.verdict({"sa": 3000}).assert_exactly_once(reader)
        assert "listening: tcp fd:syslog-tcp" in agent.log()
    finally:
        reader.close()


@pytest.mark.skipif(ACTIVATE is None, reason="systemd-socket-activate is not installed")
def test_socket_activated_udp_and_unix_datagram(broker, agent_factory, topic_name, tmp_path):
    topic = topic_name()
    create_topic(broker, topic, 1)
    port = free_port()
    path = tmp_path / "activated.sock"
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={
        "act": {"udp": ["fd:syslog-udp"], "unix": ["fd:devlog"]}})
    agent.command_prefix = [ACTIVATE, "-d", "-l", "%s:%d" % (HOST, port), "-l", str(path),
                            "--fdname=syslog-udp:devlog"]
    agent.start(wait_ready=False)
    wait_until(lambda: path.exists(), 30, "systemd-socket-activate to bind the unix socket")
    reader = TopicReader(broker.bootstrap, topic)
    try:
        # The first datagram starts the agent; it waits in the socket until the agent reads it.
        run_logger(["--udp", "-n", HOST, "-P", str(port)], "au", 1)
        agent.wait_ready()
        wait_until(lambda: "listening" in agent.log(), 30, "the syslog listeners")
        for first in range(2, 1001, 250):
            last = min(first + 249, 1000)
            text = "\n".join(lines("au", first, last)) + "\n"
            subprocess.run([LOGGER, "-t", "app-au", "--udp", "-n", HOST, "-P", str(port)], input=text.encode(),
                           check=True, timeout=60)
            wait_until(lambda n=last: agent.metric("skein_agent_syslog_messages_received_total",
                                                   {"transport": "udp"}, 0) >= n, 30, "UDP messages read")
        run_logger(["--socket", str(path), "--socket-errors=on"], "ax", 2000)
        counts = {"au": 1000, "ax": 2000}
        assert wait_all_delivered(reader, counts, timeout=90), reader.ledger.verdict(counts).summary()
        reader.ledger.verdict(counts).assert_exactly_once(reader)
    finally:
        reader.close()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


MEMORY_CAP = 16 * MiB
# RSS over memory_cap that the cap does not count: the runtime, code, buffers (as in the file source's outage
# test) plus the syslog queue between the listeners and the delivery core (4 MiB of messages).
RSS_OVERHEAD = 72 * MiB


@pytest.mark.timeout(300)
def test_backpressure_blocks_tcp_senders_and_counts_udp_drops(skeind_factory, agent_factory, topic_name):
    b = skeind_factory.new().start()
    topic = topic_name()
    create_topic(b, topic, 1)
    tcp, udp = free_port(), free_port()
    agent = agent_factory.new(b.bootstrap, topic, {}, agent={"memory_cap": "%dMiB" % (MEMORY_CAP // MiB)},
                              syslog={"bp": {"tcp": ["%s:%d" % (HOST, tcp)], "udp": ["%s:%d" % (HOST, udp)]}})
    agent.start()
    wait_until(lambda: "listening" in agent.log(), 30, "the syslog listeners")
    reader = TopicReader(b.bootstrap, topic)
    sender = socket.create_connection((HOST, tcp))
    sender.setblocking(False)
    pending = b""
    sent_lines = 0  # lines handed whole to the kernel
    next_n = 1
    try:
        def pump(budget_s: float, more: bool = True) -> int:
            """Sends for up to budget_s (new lines only if `more`); returns bytes the kernel took."""
            nonlocal pending, next_n, sent_lines
            taken = 0
            deadline = time.monotonic() + budget_s
            while time.monotonic() < deadline and (more or pending):
                if more and len(pending) < 1 << 16:
                    pending += b"".join(bsd_line("bt", n) for n in range(next_n, next_n + 1000))
                    next_n += 1000
                try:
                    k = sender.send(pending[:1 << 16])
                except BlockingIOError:
                    time.sleep(0.01)  # pacing of a blocked sender's retries
                    continue
                taken += k
                sent_lines += pending[:k].count(b"\n")
                pending = pending[k:]
            return taken

        assert pump(1.0) > 0
        assert reader.read_until(lambda lg: lg.delivered("bt") >= 1000, 60), "the first lines did not arrive"
        assert b.terminate() == 0, b.log_tail()

        # The agent fills its memory cap, stops reading the connection, and the sender blocks.
        rss, stalled, total = [], False, 0
        for _ in range(600):  # up to about 10 minutes of 1 s pumps, cut short by the stall
            took = pump(1.0)
            total += took
            rss.append(agent.rss_bytes())
            if took == 0:
                stalled = True
                break
            assert total < 2048 * MiB, "sent 2 GiB without blocking"
        assert stalled, "the TCP sender never blocked"
        # Blocked for good: a few more seconds take nothing.
        assert pump(3.0) == 0, "the sender got through while the broker was away"
        rss.append(agent.rss_bytes())
        print("backpressure: %d MiB sent before the sender blocked; agent RSS max %.1f MiB (cap %d MiB)"
              % (total // MiB, max(rss) / MiB, MEMORY_CAP // MiB))
        assert max(rss) < MEMORY_CAP + RSS_OVERHEAD, "RSS %.1f MiB" % (max(rss) / MiB)

        # UDP meanwhile: datagrams that find the queue full are dropped and counted.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_sent = 20000
        for n in range(1, udp_sent + 1):
            u.sendto(bsd_line("bu", n).rstrip(b"\n"), (HOST, udp))
        u.close()
        wait_until(lambda: agent.metric("skein_agent_source_dropped_total", {"reason": "udp_overflow"}) > 0, 30,
                   "UDP drops to be counted")
        dropped = agent.metric("skein_agent_source_dropped_total", {"reason": "udp_overflow"})

        b.start()
        # The sender gets through again and finishes its last line.
        wait_until(lambda: pump(0.5, more=False) > 0 or not pending, 120, "the sender to get through")
        wait_until(lambda: pump(0.5, more=False) >= 0 and not pending, 120, "the sender to send its last line")
        sender.close()
        assert wait_all_delivered(reader, {"bt": sent_lines}, timeout=180), \
            reader.ledger.verdict({"bt": sent_lines}).summary()
        lg = reader.ledger
        assert lg.missing("bt", sent_lines) == [] and not lg.duplicates, (lg.duplicates, sent_lines)
        assert not lg.seq_gaps and not lg.seq_repeats and not lg.malformed
        print("backpressure: %d TCP lines all delivered; UDP %d sent, %d delivered, %d counted as dropped"
              % (sent_lines, udp_sent, lg.delivered("bu"), dropped))
        assert lg.delivered("bu") + dropped <= udp_sent
    finally:
        reader.close()
        sender.close()


def test_sigterm_delivers_what_was_read(broker, agent_factory, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    tcp = free_port()
    # A long linger keeps what was read in the agent until SIGTERM.
    agent = agent_factory.new(broker.bootstrap, topic, {}, delivery={"batch_linger_ms": 60000},
                              agent={"shutdown_flush_seconds": 20},
                              syslog={"st": {"tcp": ["%s:%d" % (HOST, tcp)]}})
    agent.start()
    # The listener opens before delivery is ready; the first transaction (which carries the first checkpoint)
    # would take lines sent before it. Wait for it, so what follows waits for SIGTERM.
    wait_until(lambda: agent.metric("skein_agent_checkpoints_total", default=0) >= 1, 30, "the first checkpoint")
    run_logger(["--tcp", "-n", HOST, "-P", str(tcp)], "sg", 3000)
    wait_until(lambda: agent.metric("skein_agent_syslog_messages_received_total", {"transport": "tcp"}) == 3000, 30,
               "the agent to read every message")
    assert agent.metric("skein_agent_log_records_committed_total", default=0) == 0
    assert agent.terminate() == 0, agent.log_tail()
    reader = TopicReader(broker.bootstrap, topic)
    try:
        assert wait_all_delivered(reader, {"sg": 3000}, timeout=60), reader.ledger.verdict({"sg": 3000}).summary()
        reader.ledger.verdict({"sg": 3000}).assert_exactly_once(reader)
    finally:
        reader.close()


@pytest.mark.timeout(180)
def test_listeners_accept_before_the_broker_answers(skeind_factory, agent_factory, topic_name):
    """The syslog listeners open as the agent starts, with the broker down: what TCP and UDP senders send
    meanwhile waits in the agent and arrives exactly once when the broker comes up (rsyslog and syslog-ng
    accept at once too; before, connections were refused and datagrams lost uncounted until the broker
    answered)."""
    b = skeind_factory.new().start()
    topic = topic_name()
    create_topic(b, topic, 1)
    assert b.terminate() == 0, b.log_tail()
    tcp, udp = free_port(), free_port()
    agent = agent_factory.new(b.bootstrap, topic, {},
                              syslog={"early": {"tcp": ["%s:%d" % (HOST, tcp)], "udp": ["%s:%d" % (HOST, udp)]}})
    agent.start(wait_ready=False)
    wait_until(lambda: _accepts(tcp), 30, "the TCP listener, with the broker down")
    run_logger(["--tcp", "-n", HOST, "-P", str(tcp)], "et", 2000)
    run_logger(["--udp", "-n", HOST, "-P", str(udp)], "eu", 200)
    wait_until(lambda: agent.metric("skein_agent_syslog_messages_received_total", {"transport": "tcp"}) == 2000
               and agent.metric("skein_agent_syslog_messages_received_total", {"transport": "udp"}) == 200, 30,
               "the agent to read every message while the broker is down")
    assert agent.metric("skein_agent_log_records_committed_total", default=0) == 0
    b.start()
    reader = TopicReader(b.bootstrap, topic)
    try:
        expected = {"et": 2000, "eu": 200}
        assert wait_all_delivered(reader, expected, timeout=90), reader.ledger.verdict(expected).summary()
        reader.ledger.verdict(expected).assert_exactly_once(reader)
        assert agent.metric_total("skein_agent_source_dropped_total") == 0
    finally:
        reader.close()
