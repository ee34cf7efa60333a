"""aiokafka 0.14.0 against skeind: producer (send_and_wait, batches, gzip) and a consumer with assign/seek.
aiokafka negotiates with ApiVersions v0 only."""

import asyncio
import time

from conftest import create_topic


async def _consume(consumer, count: int, timeout: float = 20.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        assert time.monotonic() < deadline, "got %d of %d records in %.0fs" % (len(out), count, timeout)
        batches = await consumer.getmany(timeout_ms=200)
        for recs in batches.values():
            out.extend(recs)
    return out


def test_producer_and_assigned_consumer(broker, topic_name):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    topic = topic_name()
    create_topic(broker, topic, 2)
    base = int(time.time() * 1000)

    async def run():
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", request_timeout_ms=15000)
        await p.start()
        try:
            metas = []
            for i in range(30):  # one at a time: each is its own request
                metas.append(await p.send_and_wait(topic, b"single-%02d" % i, key=b"k%d" % i, partition=0,
                                                   headers=[("i", str(i).encode())], timestamp_ms=base + i))
            # Many at once: aiokafka batches them per partition.
            futs = [await p.send(topic, b"bulk-%03d" % i, partition=1) for i in range(150)]
            bulk = [await f for f in futs]
        finally:
            await p.stop()
        assert [(m.partition, m.offset) for m in metas] == [(0, i) for i in range(30)]
        assert [(m.partition, m.offset) for m in bulk] == [(1, i) for i in range(150)]

        gz = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", compression_type="gzip",
                              linger_ms=10)
        await gz.start()
        try:
            futs = [await gz.send(topic, b"gz-%03d " % i * 4, partition=1) for i in range(50)]
            gzm = [await f for f in futs]
        finally:
            await gz.stop()
        assert [m.offset for m in gzm] == list(range(150, 200))

        c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None,
                             auto_offset_reset="none", request_timeout_ms=15000)
        await c.start()
        try:
            tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
            c.assign([tp0, tp1])
            await c.seek_to_beginning(tp0, tp1)
            recs = await _consume(c, 230)
            assert [(r.offset, r.key, r.value, tuple(r.headers), r.timestamp) for r in recs if r.partition == 0] == [
                (i, b"k%d" % i, b"single-%02d" % i, (("i", str(i).encode()),), base + i) for i in range(30)]
            expected1 = [b"bulk-%03d" % i for i in range(150)] + [b"gz-%03d " % i * 4 for i in range(50)]
            assert [(r.offset, r.value) for r in recs if r.partition == 1] == list(enumerate(expected1))

            assert await c.end_offsets([tp0]) == {tp0: 30}
            assert await c.end_offsets([tp1]) == {tp1: 200}
            c.seek(tp1, 190)
            tail = await _consume(c, 10)
            assert [(r.partition, r.offset) for r in tail] == [(1, i) for i in range(190, 200)]
            assert await c.position(tp1) == 200
        finally:
            await c.stop()

    asyncio.run(asyncio.wait_for(run(), 60))
