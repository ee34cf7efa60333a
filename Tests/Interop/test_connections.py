"""The connection layer against a real skeind: refused requests close the connection, client text cannot
forge log lines, and client-triggered warnings are rate-limited with a count of what was left out.

Each test reads skeind's stderr from where it stood when the test began."""

import re
import struct
import time
import urllib.request

import pytest

from conftest import assert_clients_work, wait_until
from kafkawire import Conn, frame, request_header_v1

pytestmark = pytest.mark.skeind_only("reads skeind's own log and metrics")

INTERVAL_MS = 2000
LINES_PER_INTERVAL = 5
SKEIND_SETTINGS = {"connection.log.interval.ms": INTERVAL_MS,
                   "connection.log.lines.per.interval": LINES_PER_INTERVAL}

# Unknown API key 99 whose client id holds a newline and then a whole line in the broker's format.
FORGING_REQUEST = bytes.fromhex(
    "0000004a00630000000000010040780a323032362d31322d30345430303a30303a30302b3030303020637269746963616c20"
    "736b65696e643a205b536b65696e42726f6b65725d20464f52474544")
FORGED = "2026-12-04T00:00:00+0000 critical skeind: [SkeinBroker] FORGED"
# One line as swift-log's StreamLogHandler writes it: time, level, label, optional metadata, [source], text.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (trace|debug|info|notice|warning|error|critical) "
                      r"[A-Za-z0-9_.-]+:( \S.*)? \[[A-Za-z0-9_]+\] .*$")


class LogReader:
    """skeind's stderr from the current end on, split on "\\n" only: a line is what a journal or a
    terminal would take as one (\\r, \\x85 and U+2028 must not appear raw either)."""

    def __init__(self, broker, from_start: bool = False):
        self.path = broker.log_path
        self.start = 0 if from_start else self.path.stat().st_size

    def lines(self) -> list[str]:
        data = self.path.read_bytes()[self.start:]
        return [line.decode("utf-8") for line in data.split(b"\n")[:-1]]


def metric(broker, name: str, labels: str) -> float:
    with urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else 0.0


def assert_one_line_each(lines: list[str]):
    for line in lines:
        assert LOG_LINE.match(line), "not one log line of the broker's format: %r" % line
        for raw in ("\r", "\x85", "\u2028", "\u2029", "\x1b"):
            assert raw not in line, "raw control %r in %r" % (raw, line)


def test_forged_log_line_is_escaped_and_connection_closed(broker, topic_name):
    log = LogReader(broker)
    with Conn(broker.host, broker.port) as c:
        c.send(FORGING_REQUEST)
        assert c.wait_closed(10) == b"", "an unknown API key must close the connection"
    line = wait_until(lambda: [l for l in log.lines() if "unknown API key 99" in l], 10, "the refusal's log line")[0]
    assert '(client "x\\n2026-12-04T00:00:00+0000 critical skeind: [SkeinBroker] FORGED"' in line, line
    lines = LogReader(broker, from_start=True).lines()  # the broker's whole stderr so far
    assert_one_line_each(lines)
    assert not any(l.startswith(FORGED[:35]) for l in lines), "a forged line reached the log"
    assert_clients_work(broker, topic_name)


def test_unsupported_version_closes_after_earlier_answers(broker):
    # ApiVersions v0, then Metadata v99 (flexible header: tagged fields after the client id) pipelined behind.
    api_versions = frame(request_header_v1(18, 0, 1))
    metadata_v99 = frame(request_header_v1(3, 99, 2) + b"\x00")
    with Conn(broker.host, broker.port) as c:
        c.send(api_versions + metadata_v99)
        answer = c.recv_frame(10)
        assert struct.unpack_from(">ih", answer) == (1, 0), "the earlier request must be answered first"
        assert c.wait_closed(10) == b""
    with Conn(broker.host, broker.port) as c:  # a fresh connection is served
        assert struct.unpack_from(">ih", c.roundtrip(request_header_v1(18, 0, 1))) == (1, 0)


def test_refusal_warnings_are_rate_limited_with_a_count(broker, topic_name):
    log = LogReader(broker)
    before = metric(broker, "skein_connections_closed_by_broker_total", 'reason="unsupported_request"')
    requests = 200
    started = time.monotonic()
    for i in range(requests):
        with Conn(broker.host, broker.port) as c:
            c.send(frame(request_header_v1(99, 0, i, "retrying-client")))
            assert c.wait_closed(10) == b"", "request %d: the connection must be closed" % i
    elapsed = time.monotonic() - started

    suppressed_re = re.compile(r"(\d+) more unsupported request lines suppressed")

    def accounted():
        lines = log.lines()
        written = [l for l in lines if "unknown API key 99" in l]
        suppressed = sum(int(m.group(1)) for l in lines for m in [suppressed_re.search(l)] if m)
        return (written, suppressed, lines) if len(written) + suppressed == requests else None

    written, suppressed, lines = wait_until(accounted, INTERVAL_MS / 1000 * 3 + 10,
                                            "every refusal logged or counted as suppressed")
    assert_one_line_each(lines)
    intervals = int(elapsed / (INTERVAL_MS / 1000)) + 2
    assert len(written) <= LINES_PER_INTERVAL * intervals, "%d lines for %d requests in %.1fs" % (
        len(written), requests, elapsed)
    assert suppressed >= requests - LINES_PER_INTERVAL * intervals
    print("rate limit: %d requests in %.2fs -> %d lines written, %d counted as suppressed"
          % (requests, elapsed, len(written), suppressed))
    after = metric(broker, "skein_connections_closed_by_broker_total", 'reason="unsupported_request"')
    assert after - before == requests
    assert_clients_work(broker, topic_name)
