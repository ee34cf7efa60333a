"""Bad input over raw sockets: broken frames, unknown APIs, garbage, invalid Produce requests. Each must get an
error response or a clean disconnect, never a crash or a hang, and afterwards normal clients still work.

Frames are built by hand (kafkawire.py, struct.pack)."""

import random
import socket
import struct

import pytest

from conftest import IS_MOCK, assert_clients_work, create_topic, raw_fetch
from kafkawire import (Closed, Conn, build_batch, frame, parse_produce_v3_response, produce_v3_request,
                       request_header_v1)

CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_TOPIC_EXCEPTION, UNSUPPORTED_VERSION, INVALID_RECORD = 2, 10, 17, 35, 87
UNKNOWN_TOPIC_OR_PARTITION = 3


def rss_bytes(pid: int) -> int:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def expect_error_or_close(conn: Conn, correlation_id: int, timeout: float = 10.0):
    """Either a response frame carrying correlation_id (returned) or a clean close (None). A hang fails."""
    try:
        payload = conn.recv_frame(timeout)
    except Closed:
        return None
    (corr,) = struct.unpack_from(">i", payload)
    assert corr == correlation_id, "response to the wrong request: correlation %d" % corr
    return payload


@pytest.mark.parametrize("size", [0x7FFFFFFF, 100 * 1024 * 1024 + 1], ids=["2GiB", "100MiB+1"])
def test_frame_size_above_limit_disconnects(broker, topic_name, size):
    before = rss_bytes(broker.pid) if broker.kind == "skeind" else 0
    with Conn(broker.host, broker.port) as c:
        c.send(struct.pack(">i", size) + request_header_v1(18, 0, 1))
        got = c.wait_closed(10)
    assert got == b"", "expected a disconnect, got %r" % got[:64]
    if broker.kind == "skeind":
        grown = rss_bytes(broker.pid) - before
        assert grown < 256 * 1024 * 1024, "RSS grew by %d MiB: the frame was allocated" % (grown >> 20)
    assert_clients_work(broker, topic_name)


@pytest.mark.parametrize("size", [-1, -2147483648, 0])
def test_negative_or_empty_frame_size_disconnects(broker, topic_name, size):
    with Conn(broker.host, broker.port) as c:
        c.send(struct.pack(">i", size) + b"\x00" * 16)
        got = c.wait_closed(10)
    assert got == b"", "expected a disconnect, got %r" % got[:64]
    assert_clients_work(broker, topic_name)


def test_truncated_frame_then_close(broker, topic_name):
    # Frame claims 200 bytes; a valid header start and a few body bytes arrive, then the client goes away.
    for cut in (2, 10, 60):
        partial = (request_header_v1(3, 1, 9) + b"\x00" * 200)[:cut]
        s = socket.create_connection((broker.host, broker.port), timeout=5)
        s.sendall(struct.pack(">i", 200) + partial)
        s.close()
    # And a frame cut off in its size field.
    s = socket.create_connection((broker.host, broker.port), timeout=5)
    s.sendall(b"\x00\x00")
    s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    assert s.recv(100) == b""
    s.close()
    assert_clients_work(broker, topic_name)


@pytest.mark.parametrize("api_key,version", [(9999, 0), (-1, 0), (3, 999), (18, -1)],
                         ids=["key9999", "key-1", "metadata-v999", "apiversions-v-1"])
def test_unknown_api_or_version(broker, topic_name, api_key, version):
    with Conn(broker.host, broker.port) as c:
        c.send(frame(request_header_v1(api_key, version, 4242) + b"\x00\x00\x00\x00"))
        payload = expect_error_or_close(c, 4242)
        if payload is not None and api_key == 18:
            # ApiVersions: the v0-layout error reply (error_code UNSUPPORTED_VERSION, then the ranges).
            (err,) = struct.unpack_from(">h", payload, 4)
            assert err == UNSUPPORTED_VERSION
    assert_clients_work(broker, topic_name)


@pytest.mark.mock_xfail("the mock implements Produce v0-2")
def test_produce_v2_is_rejected(broker, topic_name):
    """DESIGN.md §2: Produce is advertised from v0 (for librdkafka's compression check) but v0-2 are rejected
    with UNSUPPORTED_VERSION, or the connection is closed."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    body = struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + struct.pack(">h", len(topic)) + topic.encode()
    batch = build_batch([(None, b"v2")])
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    with Conn(broker.host, broker.port) as c:
        c.send(frame(request_header_v1(0, 2, 31) + body))
        payload = expect_error_or_close(c, 31)
    if payload is not None:
        # v2 response layout is v3's: [topic [partition error base_offset log_append_time]] throttle
        corr, parts, _ = parse_produce_v3_response(payload)
        assert [(p[0], p[1], p[2]) for p in parts] == [(topic, 0, UNSUPPORTED_VERSION)], parts
    assert raw_fetch(broker, topic, 0)[1] == 0, "a rejected Produce v2 appended records"
    assert_clients_work(broker, topic_name)


def test_garbage_bytes(broker, topic_name):
    rng = random.Random(0x5EED)
    for round_no in range(40):
        if round_no % 2 == 0:
            # A well-sized frame of random bytes (random api key, version, body).
            size = rng.randint(4, 600)
            data = struct.pack(">i", size) + bytes(rng.getrandbits(8) for _ in range(size))
        else:
            # Random bytes, size field included.
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 600)))
        with Conn(broker.host, broker.port) as c:
            try:
                c.send(data)
                c.sock.shutdown(socket.SHUT_WR)  # EOF: a broker waiting for the rest must give up
            except OSError:  # already closed by the broker (EPIPE, ECONNRESET, ENOTCONN)
                broker.assert_alive()
                continue
            # Whatever comes back (an error response or nothing), the connection must end.
            c.wait_closed(10)
        broker.assert_alive()
    assert_clients_work(broker, topic_name)


@pytest.mark.mock_xfail("the mock accepts any topic name (answers UNKNOWN_TOPIC_OR_PARTITION)")
def test_produce_invalid_topic_names(broker, topic_name):
    names = ["bad topic!", ".", "..", "x" * 250, "t\u00fcpic", "a/b", ""]
    with Conn(broker.host, broker.port) as c:
        for i, name in enumerate(names):
            corr, parts, _ = parse_produce_v3_response(
                c.roundtrip(produce_v3_request(100 + i, name, 0, build_batch([(None, b"x")]))))
            assert corr == 100 + i
            assert [(p[0], p[1]) for p in parts] == [(name, 0)]
            # DESIGN.md §2: names outside [a-zA-Z0-9._-]{1,249}, '.' and '..' get INVALID_TOPIC_EXCEPTION.
            assert parts[0][2] == INVALID_TOPIC_EXCEPTION, (name, parts)
    assert_clients_work(broker, topic_name)


def _count_mismatch():
    good = bytearray(build_batch([(None, b"a"), (None, b"b")]))
    # lastOffsetDelta says 5 records, recordsCount says 2; recompute the CRC so only the count is wrong.
    struct.pack_into(">i", good, 23, 5)
    from kafkawire import crc32c
    struct.pack_into(">I", good, 17, crc32c(bytes(good[21:])))
    return bytes(good)


def _control_batch():
    return build_batch([(b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")], attributes=0x20)


def _truncated():
    return build_batch([(None, b"abcdefgh" * 10)])[:-30]


BAD_BATCHES = {
    "bad-crc": lambda: build_batch([(None, b"payload %d" % i) for i in range(5)], corrupt_crc=True),
    "magic-1": lambda: build_batch([(None, b"m1")], magic=1),
    "magic-0": lambda: build_batch([(None, b"m0")], magic=0),
    "count-mismatch": _count_mismatch,
    "control-batch": _control_batch,
    "truncated": _truncated,
}


@pytest.mark.parametrize("kind", list(BAD_BATCHES))
@pytest.mark.mock_xfail("the mock does not validate batches")
def test_produce_invalid_batch_is_rejected(broker, topic_name, kind):
    topic = topic_name()
    create_topic(broker, topic, 1)
    with Conn(broker.host, broker.port) as c:
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(7, topic, 0, BAD_BATCHES[kind]())))
        assert corr == 7 and [(p[0], p[1]) for p in parts] == [(topic, 0)]
        err = parts[0][2]
        # The connection stays usable: a valid batch on it lands at offset 0, so nothing was appended.
        corr, ok, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(8, topic, 0, build_batch([(None, b"ok")]))))
        assert [(p[2], p[3]) for p in ok] == [(0, 0)], ok
    assert err in (CORRUPT_MESSAGE, INVALID_RECORD), "%s: error code %d" % (kind, err)
    assert raw_fetch(broker, topic, 0)[1] == 1
    assert_clients_work(broker, topic_name)


@pytest.mark.mock_xfail("the mock has no max.message.bytes")
def test_oversized_batch_is_rejected(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    big = build_batch([(None, b"B" * 1_100_000)])  # above max.message.bytes' default 1,048,588
    fits = build_batch([(None, b"F" * 1_000_000)])
    with Conn(broker.host, broker.port) as c:
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(11, topic, 0, big), timeout=30))
        assert corr == 11
        corr, ok, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(12, topic, 0, fits), timeout=30))
    assert [(p[2], p[3]) for p in ok] == [(0, 0)], "a 1 MB batch (under the limit) must be accepted: %s" % ok
    assert [(p[0], p[1], p[2]) for p in parts] == [(topic, 0, MESSAGE_TOO_LARGE)], parts
    assert raw_fetch(broker, topic, 0)[1] == 1
    assert_clients_work(broker, topic_name)
