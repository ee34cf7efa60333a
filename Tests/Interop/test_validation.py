"""Batch validation (issue #10): every record of every batch is walked before it is stored, a batch whose
records cannot be parsed is refused whole, the stored maxTimestamp is the one computed from the records, and a
data directory that already holds an unreadable batch is repaired at startup rather than served.

The refused batches are the fuzzer's finds: each would otherwise stop every consumer of the partition at it."""

import gzip
import struct
import zlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (IS_MOCK, assert_clients_work, create_topic, kcat, kcat_consume, raw_fetch_batches,
                      wait_until)
from kafkawire import (Conn, build_batch, crc32c, encode_record, kstring, parse_produce_v3_response,
                       produce_v3_request, request_header_v1, zigzag_varint)

pytestmark = pytest.mark.skipif(IS_MOCK, reason="the mock does not validate records")

CORRUPT_MESSAGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD = 2, 18, 87

# The fuzzer's request, size prefix included: Produce v7 to topic "un", partition 0, acks=1, with an
# uncompressed batch whose CRC holds but whose second record claims 200 bytes it does not have.
FUZZED_PRODUCE = bytes.fromhex(
    "000000800000000700000003000472656c69ffffffff00001388000000010002756e00000001000000000000005600000000000000000"
    "000004affffffff02e6534e90000000000002000001a24225a153000001a24225a153ffffffffffffffffffffffffffff000000030e00"
    "0000010261009003000002010262000e00000401026300")


def reseal(batch: bytearray) -> bytes:
    """Fixes length and CRC after an edit, so only the edit under test is wrong."""
    struct.pack_into(">i", batch, 8, len(batch) - 12)
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
    return bytes(batch)


def gzip_batch(values: list[bytes], base_timestamp: int) -> bytes:
    plain = b"".join(encode_record(i, i, None, v) for i, v in enumerate(values))
    batch = bytearray(build_batch([(None, b"x")], base_timestamp))
    del batch[61:]
    batch += gzip.compress(plain)
    struct.pack_into(">h", batch, 21, 1)  # gzip
    struct.pack_into(">iqq", batch, 23, len(values) - 1, base_timestamp, base_timestamp + len(values) - 1)
    struct.pack_into(">i", batch, 57, len(values))
    return reseal(batch)


def produce_request(version: int, correlation_id: int, topic: str, records: bytes, acks: int = -1) -> bytes:
    """Produce v3-v8 (non-flexible; same request layout)."""
    body = kstring(None) + struct.pack(">hi", acks, 10000)
    body += struct.pack(">i", 1) + kstring(topic) + struct.pack(">i", 1) + struct.pack(">i", 0)
    body += struct.pack(">i", len(records)) + records
    return request_header_v1(0, version, correlation_id) + body


def parse_produce_response(payload: bytes, version: int):
    """Produce v3-v8 response of one partition: (error_code, base_offset, [(batch_index, message)], error_message).
    v5 added log_start_offset, v8 the record errors and the error message."""
    pos = 4 + 4  # correlation id, topic count

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, payload, pos)
        pos += struct.calcsize(fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take(">h")
        if n < 0:
            return None
        text = payload[pos:pos + n].decode()
        pos += n
        return text

    string()  # topic
    take(">i")  # partition count
    _, error, base, _ = take(">ihqq")
    if version >= 5:
        take(">q")
    record_errors, message = [], None
    if version >= 8:
        (count,) = take(">i")
        for _ in range(count):
            (index,) = take(">i")
            record_errors.append((index, string()))
        message = string()
    take(">i")  # throttle
    assert pos == len(payload), "trailing bytes in the Produce v%d response" % version
    return error, base, record_errors, message


def produce_lines(broker, topic: str, lines: list[str]):
    kcat(broker, "-P", "-t", topic, "-p", "0", "-X", "acks=all", input=("\n".join(lines) + "\n").encode())


def test_fuzzed_batch_is_refused_and_hides_nothing(broker, topic_name):
    """The request exactly as the fuzzer sent it (topic "un"): CORRUPT_MESSAGE for Produce v7, nothing stored,
    and kcat reads every record produced before and after it."""
    produce_lines(broker, "un", ["before-%d" % i for i in range(3)])
    with Conn(broker.host, broker.port) as c:
        c.send(FUZZED_PRODUCE)
        payload = c.recv_frame(10)
    assert struct.unpack_from(">i", payload)[0] == 3  # correlation id
    error, base, _, _ = parse_produce_response(payload, 7)
    assert (error, base) == (CORRUPT_MESSAGE, -1)
    produce_lines(broker, "un", ["after-%d" % i for i in range(3)])
    lines = kcat_consume(broker, "un", 0, "%o:%s\n")
    assert lines == ["%d:before-%d" % (i, i) for i in range(3)] + ["%d:after-%d" % (i + 3, i) for i in range(3)]
    assert_clients_work(broker, topic_name)


def test_produce_v8_names_the_bad_record(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    batch = FUZZED_PRODUCE[-0x56:]
    with Conn(broker.host, broker.port) as c:
        error, base, record_errors, message = parse_produce_response(
            c.roundtrip(produce_request(8, 21, topic, batch)), 8)
    assert (error, base) == (INVALID_RECORD, -1)
    assert [index for index, _ in record_errors] == [1], record_errors
    assert message and "record 1" in message, message
    hw, batches = raw_fetch_batches(broker, topic, 0)
    assert (hw, batches) == (0, [])


def test_gzip_batch_cut_in_half_is_refused_and_consumers_finish(broker, topic_name):
    """The fuzzer's second find: a gzip batch cut in half made confluent-kafka spin and hang in close(), and
    ListOffsets by time fail. Refused now; a confluent consumer reads everything else and closes promptly."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    now = int(time.time() * 1000)
    sound = gzip_batch([b"g-%d" % i for i in range(50)], now)
    cut = bytearray(sound[:61 + (len(sound) - 61) // 2])
    with Conn(broker.host, broker.port) as c:
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(5, topic, 0, reseal(cut))))
        assert parts[0][2] == CORRUPT_MESSAGE, parts
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(6, topic, 0, sound)))
        assert (parts[0][2], parts[0][3]) == (0, 0), parts
    script = r"""
import sys, time
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "v-" + sys.argv[2], "auto.offset.reset": "earliest",
              "enable.partition.eof": True})
c.assign([TopicPartition(sys.argv[2], 0, 0)])
values, deadline = [], time.monotonic() + 20
while time.monotonic() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        if m.error().code() == -191:  # _PARTITION_EOF
            break
        raise SystemExit("consumer error: %s" % m.error())
    values.append(m.value().decode())
found = c.offsets_for_times([TopicPartition(sys.argv[2], 0, int(sys.argv[3]))], timeout=10)
c.close()
print(len(values), values[0], values[-1], found[0].offset, found[0].error)
"""
    res = subprocess.run([sys.executable, "-c", script, broker.bootstrap, topic, str(now + 20)],
                         capture_output=True, timeout=60, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["50", "g-0", "g-49", "20", "None"], res.stdout


def test_zip_bomb_is_refused_without_inflating(broker, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    now = int(time.time() * 1000)
    bomb = bytearray(build_batch([(None, b"x")], now))
    del bomb[61:]
    # One record whose value is 256 MiB of zeros: a quarter megabyte compressed, past the 128 MiB bound inflated.
    value_length = 256 << 20
    record_head = b"\x00" + b"\x00" + b"\x00" + b"\x01"  # attributes, timestamp delta, offset delta, null key
    body_length = len(record_head) + len(zigzag_varint(value_length)) + value_length + 1
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip wrapper
    stream = compressor.compress(zigzag_varint(body_length) + record_head + zigzag_varint(value_length))
    chunk = bytes(1 << 20)
    for _ in range(value_length >> 20):
        stream += compressor.compress(chunk)
    stream += compressor.compress(b"\x00") + compressor.flush()
    assert len(stream) < 1_000_000
    bomb += stream
    struct.pack_into(">h", bomb, 21, 1)
    rss_before = int(Path("/proc/%d/status" % broker.pid).read_text().split("VmRSS:")[1].split()[0]) * 1024
    with Conn(broker.host, broker.port) as c:
        corr, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(9, topic, 0, reseal(bomb)),
                                                               timeout=60))
    assert parts[0][2] == RECORD_LIST_TOO_LARGE, parts
    rss_after = int(Path("/proc/%d/status" % broker.pid).read_text().split("VmRSS:")[1].split()[0]) * 1024
    assert rss_after - rss_before < 300 << 20, "RSS grew by %d MiB" % ((rss_after - rss_before) >> 20)
    assert raw_fetch_batches(broker, topic, 0) == (0, [])


def test_sarama_max_timestamp_minus_one_is_found_by_time(broker, topic_name):
    """Sarama before 2025 (Debian's 1.22) writes -1 as the batch's maxTimestamp. The broker stores the largest
    record timestamp instead, so kcat -o s@TIME finds the records."""
    topic = topic_name()
    create_topic(broker, topic, 1)
    base = int(time.time() * 1000) - 60_000
    records = b"".join(encode_record(i, i * 1000, None, b"sarama-%d" % i) for i in range(10))
    batch = bytearray(build_batch([(None, b"x")], base))
    del batch[61:]
    batch += records
    struct.pack_into(">iqq", batch, 23, 9, base, -1)  # lastOffsetDelta, firstTimestamp, maxTimestamp -1
    struct.pack_into(">i", batch, 57, 10)
    with Conn(broker.host, broker.port) as c:
        _, parts, _ = parse_produce_v3_response(c.roundtrip(produce_v3_request(4, topic, 0, reseal(batch))))
    assert parts[0][2] == 0, parts
    hw, stored = raw_fetch_batches(broker, topic, 0)
    assert hw == 10 and len(stored) == 1
    assert stored[0].max_timestamp == base + 9000 and stored[0].crc_ok()
    # The record at base + 4000 ms is offset 4.
    lines = kcat_consume(broker, topic, 0, "%o %s\n", offset="s@%d" % (base + 3500))
    assert lines[0] == "4 sarama-4", lines


def test_damaged_data_directory_is_repaired_at_startup(skeind_factory, topic_name):
    """A batch whose CRC holds but whose records do not parse, already on disk (stored by an older skeind):
    startup cuts the log at it, says so, and consumers read everything before it and everything produced after."""
    b = skeind_factory.new().start()
    topic = topic_name()
    create_topic(b, topic, 1)
    produce_lines(b, topic, ["kept-%d" % i for i in range(4)])
    assert b.terminate() == 0
    segment = b.data_dir / ("%s-0" % topic) / ("0" * 20 + ".log")
    bad = bytearray(FUZZED_PRODUCE[-0x56:])
    struct.pack_into(">q", bad, 0, 4)  # the next offset, as the old broker assigned it
    good = bytearray(build_batch([(None, b"hidden")]))
    struct.pack_into(">q", good, 0, 7)
    with open(segment, "ab") as f:
        f.write(bytes(bad) + bytes(good))
    (b.data_dir / ".skein-records-checked").unlink()  # as a directory written before the check has none
    b.start()
    wait_until(lambda: "truncated" in b.log_tail(), 10, "the repair log line")
    assert "unreadableRecords" in b.log_tail() or "record 1" in b.log_tail(), b.log_tail()
    produce_lines(b, topic, ["new-0"])
    lines = kcat_consume(b, topic, 0, "%o:%s\n")
    assert lines == ["%d:kept-%d" % (i, i) for i in range(4)] + ["4:new-0"], lines
    assert b.terminate() == 0
    b.start()  # and the repaired directory opens again
    assert kcat_consume(b, topic, 0, "%o:%s\n")[-1] == "4:new-0"
    assert b.terminate() == 0
