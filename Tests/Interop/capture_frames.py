"""Captures request frames from real clients and writes the fuzzing seed corpora in Fuzz/Corpus.

Run once (and again when clients or APIs change); the output is committed:

    SKEIN_BIN_DIR=$(swift build --show-bin-path) .venv-interop/bin/python Tests/Interop/capture_frames.py

It starts skeind on 127.0.0.2 advertising 127.0.0.1, and a recording proxy on 127.0.0.1 at the same port, so
every connection a client opens (bootstrap and the ones Metadata points it to) passes the proxy. kcat,
confluent-kafka and kafka-python then produce with every codec they have, consume, join a group and use the
admin APIs, and kafka-python's protocol classes send every API version skeind supports (the checks of
test_codec_crosscheck.py, then the group APIs and Produce v0-2 which that suite leaves out). Topics are named fuzz-a and fuzz-b (two partitions each), which the network fuzzer
(test_fuzz_frames.py) creates before replaying mutated frames.

Written corpora (one input a file):
  request/       client-to-broker frames with their size prefix, a few per client, API and version
  record-batch/  the batches inside the captured Produce frames, plus an xerial-framed snappy one
  decompress/    a codec selector byte (0 gzip, 1 snappy, 2 lz4, 3 zstd) and a compressed records section
  recovery/      segment files made of captured batches: whole, cut short, with a damaged batch
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import REPO, Broker, Skeind, create_topic, free_port, kcat  # noqa: E402
from kafkawire import crc32c  # noqa: E402

CORPUS = REPO / "Fuzz" / "Corpus"
TOPICS = ("fuzz-a", "fuzz-b")
PER_KIND = 3  # frames kept per client, API and version
MAX_FRAME = 64 * 1024  # larger frames are left out of the corpus
API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata", 8: "offsetcommit", 9: "offsetfetch",
             10: "findcoordinator", 11: "joingroup", 12: "heartbeat", 13: "leavegroup", 14: "syncgroup",
             15: "describegroups", 16: "listgroups", 18: "apiversions", 19: "createtopics", 20: "deletetopics",
             22: "initproducerid", 23: "offsetforleaderepoch", 32: "describeconfigs", 33: "alterconfigs",
             42: "deletegroups", 44: "incrementalalterconfigs", 47: "offsetdelete"}
XERIAL_MAGIC = b"\x82SNAPPY\x00"


class RecordingProxy:
    """Forwards 127.0.0.1:port to upstream:port and records every whole client-to-broker frame under the
    current label (the client being run)."""

    def __init__(self, port: int, upstream: str):
        self.upstream = (upstream, port)
        self.label = "none"
        self.frames: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", port))
        self.server.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.server.accept()
            except socket.timeout:
                continue
            upstream = socket.create_connection(self.upstream, timeout=10)
            label = self.label
            threading.Thread(target=self._pump, args=(client, upstream, label), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, label: str | None):
        pending = b""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
                if label is None:
                    continue
                pending += data
                while len(pending) >= 4:
                    (size,) = struct.unpack_from(">i", pending)
                    if len(pending) < 4 + size:
                        break
                    with self.lock:
                        self.frames.append((label, pending[:4 + size]))
                    pending = pending[4 + size:]
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.server.close()


def run_kcat(broker: Broker):
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        # kcat's first batch is uncompressed whatever -z says: several lines make later batches compressed.
        lines = b"".join(b"k%d:%s value %d with some repeated text text text\n" % (i, codec.encode(), i)
                         for i in range(40))
        kcat(broker, "-P", "-t", TOPICS[0], "-z", codec, "-K:", "-H", "h1=v1", "-X", "linger.ms=5", input=lines)
    kcat(broker, "-C", "-t", TOPICS[0], "-p", "0", "-o", "beginning", "-e", "-q")
    kcat(broker, "-L", "-t", TOPICS[0])
    kcat(broker, "-Q", "-t", "%s:0:1700000000000" % TOPICS[0], check=False)


def run_confluent(broker: Broker):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all",
                      "compression.type": codec, "linger.ms": 20})
        for i in range(30):
            p.produce(TOPICS[1], b"confluent %s record %d, compressible compressible" % (codec.encode(), i),
                      key=b"key-%d" % (i % 4), headers=[("trace", b"t-%d" % i)], partition=i % 2)
        assert p.flush(20) == 0
    group = "fuzz-group"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([TOPICS[1]])
    deadline, seen = time.monotonic() + 30, 0
    while seen < 20 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            seen += 1
    c.commit(asynchronous=False)
    c.committed([TopicPartition(TOPICS[1], 0)], timeout=10)
    c.get_watermark_offsets(TopicPartition(TOPICS[1], 0), timeout=10)
    c.offsets_for_times([TopicPartition(TOPICS[1], 0, 1700000000000)], timeout=10)
    c.close()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    fs = admin.create_topics([NewTopic("fuzz-c", num_partitions=3, replication_factor=1,
                                       config={"retention.ms": "3600000"})])
    fs["fuzz-c"].result(timeout=20)
    admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "fuzz-c")])[
        ConfigResource(ConfigResource.Type.TOPIC, "fuzz-c")].result(timeout=20)
    admin.list_consumer_groups().result(timeout=20)
    admin.describe_consumer_groups([group])[group].result(timeout=20)
    admin.delete_topics(["fuzz-c"])["fuzz-c"].result(timeout=20)


def run_kafka_python(broker: Broker):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import ConfigResource

    for codec in (None, "gzip"):
        p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, linger_ms=10)
        for i in range(20):
            p.send(TOPICS[0], key=b"kp-%d" % i, value=b"kafka-python record %d padding padding padding" % i,
                   headers=[("h", b"x")])
        p.flush(20)
        p.close(10)
    c = KafkaConsumer(TOPICS[0], bootstrap_servers=broker.bootstrap, group_id="fuzz-kp",
                      auto_offset_reset="earliest", consumer_timeout_ms=3000)
    for _ in c:
        pass
    c.commit()
    c.close()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    admin.list_groups()
    admin.describe_groups(["fuzz-kp"])
    admin.list_group_offsets("fuzz-kp")
    admin.describe_configs([ConfigResource("TOPIC", TOPICS[0])])
    admin.close()


def run_every_version(broker: Broker):
    """Each API version skeind supports, encoded by kafka-python's protocol classes (test_codec_crosscheck)."""
    import test_codec_crosscheck as cc

    failures = []
    for case in cc.CASES:
        key, version = case.values
        try:
            cc.CHECKS[key](broker, version, TOPICS[1])
        except Exception as e:  # noqa: BLE001 - the frames were sent; the crosscheck suite judges replies
            failures.append("%s v%d: %r" % (cc.CONTRACT[key][0], version, e))
    if failures:
        print("capture: %d crosscheck calls failed (frames kept):\n  %s" % (len(failures), "\n  ".join(failures)))


def run_group_versions(broker: Broker):
    """Every version of the group APIs (and Produce v0-2, which skeind decodes to refuse) that the crosscheck
    does not cover, from kafka-python's classes; answers are not checked, some are errors by design."""
    from kafka.protocol.admin import DescribeGroupsRequest, ListGroupsRequest
    from kafka.protocol.consumer import (HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest,
                                         OffsetFetchRequest, SyncGroupRequest)
    from kafka.protocol.producer import ProduceRequest
    from kafkawire import Conn, build_batch, kp_encode_request

    group, topic, member = "fuzz-raw", TOPICS[0], "member-1"
    C = OffsetCommitRequest.OffsetCommitRequestTopic
    F = OffsetFetchRequest.OffsetFetchRequestTopic
    G = OffsetFetchRequest.OffsetFetchRequestGroup
    T = ProduceRequest.TopicProduceData
    requests = {
        11: (range(0, 8), lambda v: JoinGroupRequest(
            group_id=group, session_timeout_ms=10000, rebalance_timeout_ms=10000, member_id="",
            group_instance_id=None, protocol_type="consumer", reason=None,
            protocols=[JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"\x00\x00subscription")])),
        14: (range(0, 6), lambda v: SyncGroupRequest(
            group_id=group, generation_id=1, member_id=member, group_instance_id=None, protocol_type="consumer",
            protocol_name="range",
            assignments=[SyncGroupRequest.SyncGroupRequestAssignment(member_id=member, assignment=b"\x00\x01")])),
        12: (range(0, 5), lambda v: HeartbeatRequest(
            group_id=group, generation_id=1, member_id=member, group_instance_id=None)),
        13: (range(0, 6), lambda v: LeaveGroupRequest(
            group_id=group, member_id=member,
            members=[LeaveGroupRequest.MemberIdentity(member_id=member, group_instance_id=None, reason=None)])),
        8: (range(2, 10), lambda v: OffsetCommitRequest(
            group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
            retention_time_ms=-1,
            topics=[C(name=topic, partitions=[C.OffsetCommitRequestPartition(
                partition_index=0, committed_offset=3, committed_leader_epoch=-1, committed_metadata="m")])])),
        9: (range(1, 9), lambda v: OffsetFetchRequest(
            groups=[G(group_id=group, topics=[G.OffsetFetchRequestTopics(name=topic, partition_indexes=[0, 1])])],
            require_stable=False) if v >= 8 else OffsetFetchRequest(
            group_id=group, require_stable=False, topics=[F(name=topic, partition_indexes=[0, 1])])),
        15: (range(0, 6), lambda v: DescribeGroupsRequest(groups=[group], include_authorized_operations=False)),
        16: (range(0, 5), lambda v: ListGroupsRequest(states_filter=[], types_filter=[])),
        0: (range(0, 3), lambda v: ProduceRequest(
            transactional_id=None, acks=1, timeout_ms=5000,
            topic_data=[T(name=topic, partition_data=[T.PartitionProduceData(
                index=0, records=build_batch([(b"k", b"old produce")]))])])),
    }
    failures = []
    for key, (versions, make) in requests.items():
        for version in versions:
            try:
                with Conn(broker.host, broker.port, timeout=10) as c:
                    c.roundtrip(kp_encode_request(make(version), version, 500 + version))
            except Exception as e:  # noqa: BLE001 - an error answer or a close still recorded the frame
                failures.append("%s v%d: %r" % (API_NAMES[key], version, e))
    if failures:
        print("capture: %d group-version calls got no answer (frames kept):\n  %s"
              % (len(failures), "\n  ".join(failures)))


def request_name(label: str, frame: bytes, counts: dict) -> str | None:
    if len(frame) < 12 or len(frame) > MAX_FRAME:
        return None
    key, version = struct.unpack_from(">hh", frame, 4)
    kind = "%s-%s-v%d" % (label, API_NAMES.get(key, "api%d" % key), version)
    counts[kind] = counts.get(kind, 0) + 1
    return "%s-%d" % (kind, counts[kind]) if counts[kind] <= PER_KIND else None


def batches_in(data: bytes) -> list[bytes]:
    """Every whole RecordBatch v2 with a valid CRC inside data (found by scanning, so no Produce parser is
    needed for every version)."""
    found, pos = [], 0
    while pos + 61 <= len(data):
        (length,) = struct.unpack_from(">i", data, pos + 8)
        end = pos + 12 + length
        if data[pos + 16] == 2 and 49 <= length and end <= len(data):
            (crc,) = struct.unpack_from(">I", data, pos + 17)
            if crc32c(data[pos + 21:end]) == crc:
                found.append(data[pos:end])
                pos = end
                continue
        pos += 1
    return found


def with_payload(batch: bytes, payload: bytes, attributes: int) -> bytes:
    """batch's header around another records section, with length and CRC recomputed."""
    head = bytearray(batch[:61])
    struct.pack_into(">i", head, 8, 49 + len(payload))
    struct.pack_into(">h", head, 21, attributes)
    body = bytes(head[21:]) + payload
    struct.pack_into(">I", head, 17, crc32c(body))
    return bytes(head[:21]) + body


def xerial(raw_snappy: bytes) -> bytes:
    """A raw snappy block in the xerial framing Java clients write: magic, version 1, compatible 1, chunks."""
    return XERIAL_MAGIC + struct.pack(">ii", 1, 1) + struct.pack(">i", len(raw_snappy)) + raw_snappy


def write_corpus(name: str, files: dict[str, bytes]):
    directory = CORPUS / name
    # Findings (names starting with "finding-") are kept: they are regression inputs, not captures.
    if directory.exists():
        for old in directory.iterdir():
            if not old.name.startswith("finding-") and not old.name.startswith("issue-"):
                old.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    seen = set()
    for file_name, data in sorted(files.items()):
        digest = hashlib.sha1(data).digest()
        if digest in seen:
            continue
        seen.add(digest)
        (directory / file_name).write_bytes(data)
    print("capture: %s: %d files, %d bytes" % (name, len(seen), sum(len(d) for d in files.values())))


def derive_corpora(frames: list[tuple[str, bytes]]):
    counts: dict = {}
    requests = {}
    for label, frame in frames:
        name = request_name(label, frame, counts)
        if name:
            requests[name] = frame
    write_corpus("request", requests)

    batches = []
    for label, frame in frames:
        if struct.unpack_from(">h", frame, 4)[0] == 0:
            batches += [(label, b) for b in batches_in(frame)]
    by_codec: dict[int, list[bytes]] = {}
    for _, b in batches:
        by_codec.setdefault(struct.unpack_from(">h", b, 21)[0] & 7, []).append(b)
    record_batches, decompress = {}, {}
    for codec, group in sorted(by_codec.items()):
        for i, b in enumerate(group[:4]):
            record_batches["codec%d-%d" % (codec, i)] = b
            if codec:
                decompress["codec%d-%d" % (codec, i)] = bytes([codec - 1]) + b[61:]
    snappy = by_codec.get(2, [])
    if snappy:
        wrapped = xerial(snappy[0][61:]) if not snappy[0][61:].startswith(XERIAL_MAGIC) else snappy[0][61:]
        record_batches["snappy-xerial"] = with_payload(snappy[0], wrapped, struct.unpack_from(">h", snappy[0], 21)[0])
        decompress["snappy-xerial"] = bytes([1]) + wrapped
    write_corpus("record-batch", record_batches)
    write_corpus("decompress", decompress)

    segment, offset = b"", 0
    for _, b in batches[:24]:
        rebased = struct.pack(">q", offset) + b[8:]
        segment += rebased
        offset += struct.unpack_from(">i", b, 23)[0] + 1
    middle = len(segment) // 2
    damaged = bytearray(segment)
    damaged[middle] ^= 0xFF
    write_corpus("recovery", {"whole": segment, "cut": segment[:middle], "damaged": bytes(damaged),
                              "one-batch": segment[:12 + struct.unpack_from(">i", segment, 8)[0]]})


def main():
    work = Path(tempfile.mkdtemp(prefix="skein-capture-"))
    port = free_port()
    skeind = Skeind(work / "data", work, port=port, settings={"advertised.listeners": "127.0.0.1:%d" % port})
    skeind.host = "127.0.0.2"  # the proxy takes 127.0.0.1:port, which Metadata advertises
    skeind.start()
    proxy = RecordingProxy(port, "127.0.0.2")
    broker = Broker("127.0.0.1", port)
    broker.kind, broker.node_id, broker.pid = "skeind", 0, skeind.pid
    try:
        proxy.label = "setup"
        for topic in TOPICS:
            create_topic(broker, topic, 2)
        for label, run in (("kcat", run_kcat), ("confluent", run_confluent), ("kafkapython", run_kafka_python),
                           ("versions", run_every_version), ("groupversions", run_group_versions)):
            proxy.label = label
            run(broker)
    finally:
        proxy.stop()
        skeind.terminate()
    print("capture: %d frames" % len(proxy.frames))
    derive_corpora(proxy.frames)
    if not os.environ.get("SKEIN_INTEROP_KEEP"):
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
