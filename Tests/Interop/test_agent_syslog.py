"""skein-agent's syslog source with real senders: util-linux logger over UDP, TCP (both framings) and a unix
datagram socket, and rsyslog forwarding with omfwd in both TCP framings. Every message is `<tag> <n> <padding>`
(logwriter.line_text); the topic is read with read_committed and every message must arrive exactly as sent,
once (at-least-once from the read, and nothing here makes the agent read twice)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ledger import TopicReader, wait_all_delivered
from logwriter import line_text
from conftest import HOST, create_topic, free_port, wait_until

LINE_BYTES = 120
LOGGER = shutil.which("logger")
RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None)

pytestmark = [pytest.mark.skipif(LOGGER is None, reason="util-linux logger is not installed"),
              pytest.mark.skeind_only("the agent needs transactions")]


def lines(tag: str, first: int, last: int) -> list[str]:
    return [line_text(tag, n, LINE_BYTES).rstrip("\n") for n in range(first, last + 1)]


def run_logger(args: list[str], tag: str, count: int, timeout: float = 60.0):
    """logger reads one message per stdin line; -t sets the tag (the record's unit)."""
    text = "\n".join(lines(tag, 1, count)) + "\n"
    subprocess.run([LOGGER, "-t", "app-" + tag, *args], input=text.encode(), check=True, timeout=timeout)


def record_fields(reader: TopicReader, wanted_tag: str) -> dict:
    """The first record of a tag, read again from the start (the ledger keeps no values)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": reader.bootstrap, "group.id": "syslog-look-%d" % time.monotonic_ns(),
                  "enable.auto.commit": False, "isolation.level": "read_committed", "log_level": 2})
    c.assign([TopicPartition(reader.topic, 0, OFFSET_BEGINNING)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            headers = dict(m.headers() or [])
            if b"1" == headers.get("skein.checkpoint"):
                continue
            record = json.loads(m.value())
            if record["message"].startswith(wanted_tag + " "):
                return record
    finally:
        c.close()
    raise AssertionError("no record of tag %s" % wanted_tag)


def test_logger_over_udp_tcp_octet_counting_and_unix_socket(broker, agent_factory, topic_name, tmp_path):
    topic = topic_name()
    create_topic(broker, topic, 1)
    udp, tcp = free_port(), free_port()
    sock = tmp_path / "log.sock"
    sock.write_text("")  # not a socket: must be refused, below, then replaced by a stale socket
    agent = agent_factory.new(broker.bootstrap, topic, {}, host_name="it-syslog", syslog={
        "local": {"udp": ["%s:%d" % (HOST, udp)], "tcp": ["%s:%d" % (HOST, tcp)], "unix": [str(sock)]}})
    agent.start()
    wait_until(lambda: not agent.alive() or "is not a socket" in agent.log(), 30, "the agent to refuse a file")
    assert "exists and is not a socket" in agent.log(), agent.log_tail()
    agent.terminate()
    sock.unlink()
    # A stale socket file left by a crashed run is replaced.
    import socket as pysocket
    stale = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_DGRAM)
    stale.bind(str(sock))
    stale.close()
    agent.start()
    wait_until(lambda: os.path.exists(sock) and "listening" in agent.log(), 30, "the syslog listeners")
    assert (os.stat(sock).st_mode & 0o777) == 0o666, oct(os.stat(sock).st_mode)

    counts = {"lu": 2000, "lt": 5000, "lo": 5000, "ls": 5000}
    reader = TopicReader(broker.bootstrap, topic)
    try:
        # UDP is paced by waiting for the agent between bursts: loopback UDP loses nothing unless the
        # receive buffer overflows, which is not what this test is about.
        for start in range(1, counts["lu"] + 1, 500):
            text = "\n".join(lines("lu", start, start + 499)) + "\n"
            subprocess.run([LOGGER, "-t", "app-lu", "--udp", "-n", HOST, "-P", str(udp)], input=text.encode(),
                           check=True, timeout=60)
            wait_until(lambda s=start: agent.metric("skein_agent_syslog_messages_received_total",
                                                    {"transport": "udp"}, 0) >= s + 499, 30, "UDP messages read")
        run_logger(["--tcp", "-n", HOST, "-P", str(tcp)], "lt", counts["lt"])
        run_logger(["--tcp", "--octet-count", "-n", HOST, "-P", str(tcp)], "lo", counts["lo"])
        # An empty datagram reads as end of file on the socket's descriptor: the listener must carry on.
        for _ in range(3):
            empty = pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_DGRAM)
            empty.sendto(b"", str(sock))
            empty.close()
        run_logger(["--socket", str(sock), "--socket-errors=on"], "ls", counts["ls"])
        assert wait_all_delivered(reader, counts, timeout=120), reader.ledger.verdict(counts).summary()
        verdict = reader.ledger.verdict(counts)
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        assert reader.ledger.records == sum(counts.values())

        udp_record = record_fields(reader, "lu")
        assert udp_record["unit"] == "app-lu"
        assert udp_record["source"] == "syslog"
        assert udp_record["severity"] == "notice"  # logger's default priority user.notice
        assert udp_record["fields"]["facility"] == "user"
        assert udp_record["fields"]["transport"] == "udp"
        assert udp_record["fields"]["remote_addr"] == HOST
        assert udp_record["message"] == lines("lu", 1, 1)[0]
        assert record_fields(reader, "lo")["fields"]["transport"] == "tcp"
        unix_record = record_fields(reader, "ls")
        assert unix_record["fields"]["transport"] == "unix" and unix_record["unit"] == "app-ls"

        assert agent.metric("skein_agent_syslog_messages_received_total", {"transport": "tcp"}) == 10000
        assert agent.metric("skein_agent_syslog_messages_received_total", {"transport": "unix"}) == 5000
        assert agent.metric("skein_agent_syslog_parse_errors_total") == 0
        assert agent.metric("skein_agent_source_dropped_total", {"reason": "udp_overflow"}) == 0
        assert agent.terminate() == 0
        assert not os.path.exists(sock), "the agent left its socket behind"
    finally:
        reader.close()


def test_long_messages_are_truncated_and_flagged(broker, agent_factory, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    tcp = free_port()
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={
        "cut": {"tcp": ["%s:%d" % (HOST, tcp)], "max_message_bytes": 1000}}).start()
    wait_until(lambda: "listening" in agent.log(), 30, "the syslog listener")
    import socket as pysocket
    long_line = "<13>Dec  4 10:00:00 h app: tr 1 " + "x" * 5000
    with pysocket.create_connection((HOST, tcp)) as s:
        s.sendall(("%d %s" % (len(long_line), long_line)).encode())
        s.sendall(("%d %s" % (len("<13>Dec  4 10:00:00 h app: tr 2 ok"), "<13>Dec  4 10:00:00 h app: tr 2 ok")).encode())
    reader = TopicReader(broker.bootstrap, topic)
    try:
        assert reader.read_until(lambda lg: lg.delivered("tr") >= 2, 60)
        first = record_fields(reader, "tr")
        assert first["fields"].get("truncated") is True
        # The header is parsed from the kept head; the message is cut so the whole stays within 1000 bytes.
        assert first["unit"] == "app" and len(first["message"]) == 1000 - len("<13>Dec  4 10:00:00 h app: ")
        assert agent.metric("skein_agent_syslog_truncated_total") == 1
    finally:
        reader.close()


def test_udp_datagrams_the_kernel_drops_are_counted(broker, agent_factory, topic_name):
    """With the agent stopped (SIGSTOP), a burst of UDP datagrams overflows its socket's receive buffer and the
    kernel drops the rest. After SIGCONT, every datagram is accounted for exactly: received (read by the
    agent) + skein_agent_syslog_udp_kernel_drops_total (the socket's drops in /proc/net/udp) == sent, and each
    received one reaches the topic once."""
    import socket
    topic = topic_name()
    create_topic(broker, topic, 1)
    port = free_port()
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={"burst": {"udp": ["%s:%d" % (HOST, port)]}})
    agent.start()
    wait_until(lambda: "listening" in agent.log(), 30, "the syslog listener")
    assert agent.metric("skein_agent_syslog_udp_kernel_drops_total") == 0
    reader = TopicReader(broker.bootstrap, topic)
    # The buffer is at most 2 × net.core.rmem_max (the agent asks for 4 MiB); each 1 KiB datagram costs about
    # twice its size in it, so 12,000 of them (12 MiB) overflow any buffer the agent can have.
    sent = 12000
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    os.kill(agent.pid, signal.SIGSTOP)
    try:
        for n in range(1, sent + 1):
            sender.sendto(("<14>Dec  5 06:00:00 burst app-ud: " + line_text("ud", n, 1000).rstrip("\n")).encode(),
                          (HOST, port))
    finally:
        os.kill(agent.pid, signal.SIGCONT)
        sender.close()
    try:
        def settled():
            received = agent.metric("skein_agent_syslog_messages_received_total", {"transport": "udp"}, default=0)
            drops = agent.metric("skein_agent_syslog_udp_kernel_drops_total")
            return received + drops == sent and (int(received), int(drops))
        received, drops = wait_until(settled, 60, "received + kernel drops to account for every datagram")
        assert drops > 0 and received > 0, (received, drops)

        def delivered():
            reader.poll()
            return reader.ledger.delivered("ud") >= received
        wait_until(delivered, 120, "the received datagrams in the topic")
        verdict = reader.ledger.verdict({"ud": sent})
        assert reader.ledger.delivered("ud") == received
        assert not reader.ledger.duplicates, reader.ledger.duplicates
        verdict.assert_sequences_cover()
    finally:
        reader.close()


RSYSLOG_FORWARD_CONF = """\
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{agent_port}" protocol="tcp" TCP_Framing="{framing}"
         template="RSYSLOG_SyslogProtocol23Format" queue.type="LinkedList" action.resumeRetryCount="-1")
}}
*.* action(type="omfile" file="{work}/internal.log")
"""


@pytest.mark.skipif(RSYSLOGD is None, reason="rsyslog is not installed")
@pytest.mark.parametrize("framing", ["traditional", "octet-counted"])
def test_rsyslog_forwarding_with_omfwd(broker, agent_factory, topic_name, tmp_path, framing):
    topic = topic_name()
    create_topic(broker, topic, 1)
    agent_port, rsyslog_port = free_port(), free_port()
    agent = agent_factory.new(broker.bootstrap, topic, {}, syslog={"relay": {"tcp": ["%s:%d" % (HOST, agent_port)]}})
    agent.start()
    wait_until(lambda: "listening" in agent.log(), 30, "the syslog listener")
    work = tmp_path / "rsyslog"
    work.mkdir()
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_FORWARD_CONF.format(work=work, port=rsyslog_port, agent_port=agent_port, framing=framing))
    log = open(work / "rsyslogd.out", "wb")
    proc = subprocess.Popen([RSYSLOGD, "-n", "-f", str(conf), "-i", str(work / "rsyslogd.pid")],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    reader = TopicReader(broker.bootstrap, topic)
    count = 5000
    try:
        from conftest import port_accepts
        wait_until(lambda: proc.poll() is None and port_accepts(HOST, rsyslog_port), 30, "rsyslogd to listen")
        run_logger(["--tcp", "-n", HOST, "-P", str(rsyslog_port)], "rf", count)
        assert wait_all_delivered(reader, {"rf": count}, timeout=120), reader.ledger.verdict({"rf": count}).summary()
        verdict = reader.ledger.verdict({"rf": count})
        verdict.assert_exactly_once(reader)
        verdict.assert_sequences_cover()
        record = record_fields(reader, "rf")
        # rsyslog re-sends in RFC 5424: its app-name is logger's tag, the message exactly what was logged.
        assert record["unit"] == "app-rf" and record["message"] == lines("rf", 1, 1)[0], record
        assert "parse_error" not in record["fields"], record
        assert agent.metric("skein_agent_syslog_parse_errors_total") == 0
    finally:
        reader.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        log.close()


def test_check_config_summarises_and_refuses_syslog_tables(tmp_path):
    from test_agent_check_config import check_config
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nhost_name = "cc"\n\n[sources.host_metrics]\nenabled = false\n\n'
                      '[sources.syslog.edge]\nudp = [":514"]\ntcp = ["fd:syslog-tcp"]\nunix = ["/run/skein/log"]\n')
    res = check_config("--config", str(config))
    assert res.returncode == 0, res.stderr
    assert ("syslog.edge → logs: tcp fd:syslog-tcp, udp 0.0.0.0:514, unix /run/skein/log, max_message_bytes 65536"
            in res.stdout), res.stdout
    assert "topics: logs" in res.stdout
    config.write_text('[sources.syslog.edge]\nudp = [":514"]\n\ntcp = ["localhost"]\n')
    res = check_config("--config", str(config))
    assert res.returncode == 1
    assert "line 4: [sources.syslog.edge] tcp: 'localhost' is not \"HOST:PORT\" or \"fd:NAME\"" in res.stderr, res.stderr
