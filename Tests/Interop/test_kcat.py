"""kcat (Debian's, librdkafka 2.0.2) against skeind: produce files of lines with every codec, keys, headers,
consume from a timestamp, metadata listing."""

import json
import time

import pytest

from conftest import create_topic, kcat, kcat_consume, raw_fetch_batches, topic_partitions, wait_until

SKEIND_SETTINGS = {"auto.create.topics.enable": "true", "num.partitions": "3"}

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def lines_file(tmp_path, lines):
    path = tmp_path / "input.txt"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


@pytest.mark.parametrize("codec", list(CODECS))
def test_file_roundtrip_with_codec(broker, tmp_path, topic_name, codec):
    topic = topic_name()
    create_topic(broker, topic, 1)
    # Compressible, varied lines, including UTF-8 and punctuation that a sloppy decoder would mangle.
    lines = [("line %05d %s ünïcödé {\"k\": [1, 2]} %s" % (i, codec, "abc" * (i % 17))).encode()
             for i in range(400)]
    args = ["-P", "-t", topic, "-p", "0", "-l", str(lines_file(tmp_path, lines))]
    if codec != "none":
        args[1:1] = ["-z", codec]
    kcat(broker, *args)

    got = kcat_consume(broker, topic, 0, "%o\t%s\n")
    assert got == ["%d\t%s" % (i, line.decode()) for i, line in enumerate(lines)]

    # The batches are stored as the producer sent them: compressed with the requested codec. librdkafka 2.0.2
    # silently sends gzip/snappy/lz4 uncompressed unless Produce's advertised range starts at 0, and lz4
    # uncompressed unless FindCoordinator is advertised (DESIGN.md §2); this catches both.
    hw, batches = raw_fetch_batches(broker, topic, 0)
    assert hw == len(lines)
    assert batches, "fetch returned no batches"
    assert [b.codec for b in batches] == [CODECS[codec]] * len(batches), batches
    assert all(b.magic == 2 and b.crc_ok() for b in batches), batches
    assert batches[0].base_offset == 0
    assert sum(b.records_count for b in batches) == len(lines)
    for prev, nxt in zip(batches, batches[1:]):
        assert nxt.base_offset == prev.last_offset + 1


def test_keys_and_headers(broker, tmp_path, topic_name):
    topic = topic_name()
    create_topic(broker, topic, 1)
    lines = [b"key-%03d:value %03d with: colons" % (i, i) for i in range(50)]
    kcat(broker, "-P", "-t", topic, "-p", "0", "-K", ":", "-H", "app=skein", "-H", "trace=a1b2=c3",
         "-l", str(lines_file(tmp_path, lines)))
    got = kcat_consume(broker, topic, 0, "%o|%k|%s|%h\n")
    # -K splits at the first delimiter only.
    assert got == ["%d|key-%03d|value %03d with: colons|app=skein,trace=a1b2=c3" % (i, i, i) for i in range(50)]

    # The JSON envelope shows the same keys and values, and the header list in order.
    res = kcat(broker, "-C", "-q", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-c", "3", "-J")
    msgs = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert [(m["offset"], m["key"], m["payload"]) for m in msgs] == [
        (i, "key-%03d" % i, "value %03d with: colons" % i) for i in range(3)]
    assert all(m["headers"] == ["app", "skein", "trace", "a1b2=c3"] for m in msgs), msgs


def test_keyed_produce_across_partitions(broker, tmp_path, topic_name):
    topic = topic_name()
    parts = create_topic(broker, topic, 3)
    keys = ["user-%d" % k for k in range(12)]
    lines = [("%s:event %04d" % (keys[i % len(keys)], i)).encode() for i in range(600)]
    kcat(broker, "-P", "-t", topic, "-K", ":", "-l", str(lines_file(tmp_path, lines)))
    seen = {}
    for p in range(parts):
        rows = [line.split("|", 3) for line in kcat_consume(broker, topic, p, "%p|%o|%k|%s\n")]
        assert [int(r[1]) for r in rows] == list(range(len(rows))), "offsets of partition %d not 0..n-1" % p
        for _, _, key, value in rows:
            seen.setdefault(key, []).append((p, value))
    assert sum(len(v) for v in seen.values()) == len(lines)
    for key in keys:
        expected = [("event %04d" % i) for i in range(len(lines)) if keys[i % len(keys)] == key]
        assert len({p for p, _ in seen[key]}) == 1, "key %s landed in several partitions" % key
        assert [v for _, v in seen[key]] == expected, "order of key %s" % key


@pytest.mark.mock_xfail("the mock's ListOffsets has no timestamp lookup")
def test_consume_from_timestamp(broker, topic_name):
    from confluent_kafka import Producer

    topic = topic_name()
    create_topic(broker, topic, 1)
    base = int(time.time() * 1000) - 600_000  # recent, so retention (7 days) never applies
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    for i in range(20):
        p.produce(topic, b"ts-%02d" % i, partition=0, timestamp=base + 1000 * i)
        p.flush(10)  # one batch per record, so the time index has something to find
    assert p.flush(10) == 0

    # All records, with CreateTime timestamps as produced.
    assert kcat_consume(broker, topic, 0, "%o %T %s\n") == [
        "%d %d ts-%02d" % (i, base + 1000 * i, i) for i in range(20)]
    # s@T starts at the first record whose timestamp is >= T.
    assert kcat_consume(broker, topic, 0, "%o %s\n", offset="s@%d" % (base + 7000)) == [
        "%d ts-%02d" % (i, i) for i in range(7, 20)]
    assert kcat_consume(broker, topic, 0, "%o %s\n", offset="s@%d" % (base + 12500)) == [
        "%d ts-%02d" % (i, i) for i in range(13, 20)]
    assert kcat_consume(broker, topic, 0, "%o %s\n", offset="s@%d" % (base - 5000))[0] == "0 ts-00"


def test_metadata_lists_broker_and_partitions(broker, topic_name, tmp_path):
    topic = topic_name("created")
    create_topic(broker, topic, 3 if broker.kind == "skeind" else 4)
    expected_parts = topic_partitions(broker, topic)

    res = kcat(broker, "-L", "-J", "-t", topic)
    md = json.loads(res.stdout)
    assert md["brokers"] == [{"id": broker.node_id, "name": broker.bootstrap}]
    (t,) = md["topics"]
    assert t["topic"] == topic and "error" not in t, t
    assert [p["partition"] for p in sorted(t["partitions"], key=lambda p: p["partition"])] == list(
        range(expected_parts))
    for p in t["partitions"]:
        assert p["leader"] == broker.node_id, p
        assert p["replicas"] == [{"id": broker.node_id}], p
        assert p["isrs"] == [{"id": broker.node_id}], p

    # Plain text listing too (what people read).
    text = kcat(broker, "-L", "-t", topic).stdout.decode()
    assert "broker %d at %s" % (broker.node_id, broker.bootstrap) in text
    assert 'topic "%s" with %d partitions:' % (topic, expected_parts) in text

    # Auto-creation (num.partitions=3 on this module's skeind) through a kcat produce.
    auto = topic_name("auto")
    kcat(broker, "-P", "-t", auto, "-p", "0", "-l", str(lines_file(tmp_path, [b"first", b"second"])))
    assert kcat_consume(broker, auto, 0, "%o %s\n") == ["0 first", "1 second"]
    md = wait_until(lambda: [t for t in json.loads(kcat(broker, "-L", "-J").stdout)["topics"]
                             if t["topic"] == auto], 10, "auto-created topic in the full listing")
    assert len(md[0]["partitions"]) == broker.auto_partitions
    listed = [t["topic"] for t in json.loads(kcat(broker, "-L", "-J").stdout)["topics"]]
    assert topic in listed and auto in listed
