"""Hand-written Kafka wire helpers for the interop suite: frames, RecordBatch v2, Produce v3.

Everything here is built with struct.pack so that the bad-input tests do not depend on a client library's
encoder; kafka-python's protocol classes are used only where this module says so (the codec cross-check and
fetch decoding), and `selfcheck_*` tests in test_wire_helpers.py check these builders against kafka-python.
"""

from __future__ import annotations

import io
import socket
import struct
import time

# ---------------------------------------------------------------------------------------------- CRC-32C

_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------- varints


def zigzag_varint(value: int) -> bytes:
    """Kafka record-level varint/varlong: zigzag, then unsigned LEB128."""
    v = (value << 1) ^ (value >> 63)
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = 0
    value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _bytes_field(data: bytes | None) -> bytes:
    if data is None:
        return zigzag_varint(-1)
    return zigzag_varint(len(data)) + data


# ---------------------------------------------------------------------------------------------- RecordBatch v2


def encode_record(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
                  headers: list[tuple[str, bytes | None]] = ()) -> bytes:
    body = bytearray()
    body += b"\x00"  # attributes
    body += zigzag_varint(timestamp_delta)
    body += zigzag_varint(offset_delta)
    body += _bytes_field(key)
    body += _bytes_field(value)
    body += zigzag_varint(len(headers))
    for hk, hv in headers:
        body += _bytes_field(hk.encode())
        body += _bytes_field(hv)
    return zigzag_varint(len(body)) + bytes(body)


def build_batch(records: list[tuple[bytes | None, bytes | None]] | list[tuple[bytes | None, bytes | None, list]],
                base_timestamp: int | None = None, *, magic: int = 2, attributes: int = 0,
                producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                base_offset: int = 0, corrupt_crc: bool = False) -> bytes:
    """An uncompressed RecordBatch v2 (the layout in DESIGN.md §2), CRC-32C over bytes 21.. end."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    encoded = bytearray()
    for i, rec in enumerate(records):
        key, value = rec[0], rec[1]
        headers = rec[2] if len(rec) > 2 else []
        encoded += encode_record(i, 0, key, value, headers)
    after_crc = struct.pack(">hiqqqhii", attributes, len(records) - 1, base_timestamp, base_timestamp,
                            producer_id, producer_epoch, base_sequence, len(records)) + bytes(encoded)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0xDEADBEEF
    length = 4 + 1 + 4 + len(after_crc)  # partitionLeaderEpoch + magic + crc + rest
    return struct.pack(">qiibI", base_offset, length, -1, magic, crc) + after_crc


class BatchHeader:
    __slots__ = ("base_offset", "length", "leader_epoch", "magic", "crc", "attributes", "last_offset_delta",
                 "base_timestamp", "max_timestamp", "producer_id", "producer_epoch", "base_sequence",
                 "records_count", "raw")

    @property
    def codec(self) -> int:
        return self.attributes & 0x07

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    def __repr__(self):
        return ("BatchHeader(base_offset=%d, count=%d, magic=%d, attributes=%#x, crc_ok=%s)"
                % (self.base_offset, self.records_count, self.magic, self.attributes, self.crc_ok()))

    def crc_ok(self) -> bool:
        return crc32c(self.raw[21:]) == self.crc


def parse_batches(data: bytes) -> list[BatchHeader]:
    """Splits a Fetch response's records bytes into v2 batch headers. A partial trailing batch (allowed by
    the protocol when max_bytes cuts a batch) is ignored."""
    out = []
    pos = 0
    while pos + 12 <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        h = BatchHeader()
        h.base_offset, h.length = base_offset, length
        (h.leader_epoch, h.magic, h.crc, h.attributes, h.last_offset_delta, h.base_timestamp, h.max_timestamp,
         h.producer_id, h.producer_epoch, h.base_sequence, h.records_count) = struct.unpack_from(
            ">ibIhiqqqhii", data, pos + 12)
        h.raw = bytes(data[pos:end])
        out.append(h)
        pos = end
    return out


# ---------------------------------------------------------------------------------------------- frames


def kstring(s: str | None) -> bytes:
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request_header_v1(api_key: int, api_version: int, correlation_id: int, client_id: str | None = "skein-interop"):
    return struct.pack(">hhi", api_key, api_version, correlation_id) + kstring(client_id)


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


class Closed(Exception):
    """The peer closed the connection (EOF or reset) before a whole frame arrived."""


class Conn:
    """A blocking loopback connection with bounded reads."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no complete frame within %.1fs (%d of %d bytes)" % (self.timeout, len(buf), n))
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e)) from e
            if not chunk:
                raise Closed("EOF after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def recv_frame(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        (size,) = struct.unpack(">i", self._recv_exact(4, deadline))
        if size < 4 or size > 200 * 1024 * 1024:
            raise AssertionError("implausible response frame size %d" % size)
        return self._recv_exact(size, deadline)

    def wait_closed(self, timeout: float = 10.0) -> bytes:
        """Reads until the peer closes; returns whatever arrived. Raises TimeoutError if it stays open."""
        deadline = time.monotonic() + timeout
        got = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("connection still open after %.1fs (received %d bytes)" % (timeout, len(got)))
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return bytes(got)
            if not chunk:
                return bytes(got)
            got += chunk

    def roundtrip(self, payload: bytes, timeout: float | None = None) -> bytes:
        self.send(frame(payload))
        return self.recv_frame(timeout)


# ---------------------------------------------------------------------------------------------- Produce v3


def produce_v3_request(correlation_id: int, topic: str, partition: int, records: bytes | None,
                       acks: int = -1, timeout_ms: int = 10000) -> bytes:
    """ProduceRequest v3, non-flexible: transactional_id, acks, timeout, [topic [partition records]]."""
    body = kstring(None) + struct.pack(">hi", acks, timeout_ms)
    body += struct.pack(">i", 1) + kstring(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", partition)
    if records is None:
        body += struct.pack(">i", -1)
    else:
        body += struct.pack(">i", len(records)) + records
    return request_header_v1(0, 3, correlation_id) + body


def parse_produce_v3_response(payload: bytes) -> tuple[int, list[tuple[str, int, int, int, int]], int]:
    """Returns (correlation_id, [(topic, partition, error_code, base_offset, log_append_time)], throttle_ms).
    Raises if the payload has trailing or missing bytes."""
    r = io.BytesIO(payload)

    def take(fmt):
        size = struct.calcsize(fmt)
        data = r.read(size)
        if len(data) != size:
            raise AssertionError("Produce v3 response truncated")
        return struct.unpack(fmt, data)

    def string():
        (n,) = take(">h")
        if n < 0:
            return None
        data = r.read(n)
        if len(data) != n:
            raise AssertionError("Produce v3 response truncated in a string")
        return data.decode()

    (corr,) = take(">i")
    out = []
    (ntopics,) = take(">i")
    for _ in range(ntopics):
        name = string()
        (nparts,) = take(">i")
        for _ in range(nparts):
            idx, err, base, lat = take(">ihqq")
            out.append((name, idx, err, base, lat))
    (throttle,) = take(">i")
    rest = r.read()
    if rest:
        raise AssertionError("Produce v3 response has %d trailing bytes" % len(rest))
    return corr, out, throttle


# ---------------------------------------------------------------------------------------------- kafka-python codec


def kp_encode_request(req, version: int, correlation_id: int, client_id: str = "skein-interop") -> bytes:
    """Encodes a kafka-python 3.x ApiMessage request (with header) as one frame payload."""
    req.with_header(correlation_id=correlation_id, client_id=client_id)
    return bytes(req.encode(version=version, header=True, framed=False))


def kp_decode_response_exact(resp_cls, version: int, payload: bytes):
    """Decodes a response payload with kafka-python's class for `version` and checks that the decode consumed
    every byte. Returns (correlation_id, response). The ApiVersions response header is always v0."""
    data = memoryview(payload)
    (corr,) = struct.unpack_from(">i", data, 0)
    pos = 4
    flexible = resp_cls.flexible_version_q(version)
    if flexible and resp_cls.API_KEY != 18:
        ntags, pos = read_uvarint(payload, pos)
        for _ in range(ntags):
            _tag, pos = read_uvarint(payload, pos)
            size, pos = read_uvarint(payload, pos)
            pos += size
    primary = resp_cls[None]
    decode = primary._struct.compiled_decode_from(version, compact=flexible, tagged=flexible, data_class=primary)
    try:
        obj, end = decode(data, pos)
    except Exception as e:  # a response that does not decode is a test failure, not an error
        raise AssertionError("%s v%d does not decode (%d bytes: %s...): %r"
                             % (primary.__name__, version, len(payload), payload[:48].hex(), e)) from e
    if end != len(payload):
        raise AssertionError("%s v%d: decode consumed %d of %d bytes (trailing: %s)"
                             % (primary.__name__, version, end, len(payload), bytes(data[end:end + 32]).hex()))
    return corr, obj
