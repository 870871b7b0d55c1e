"""The outputs' sender (streams/live/output_sender.py) on the real broker, as the worker
principal: each record lands in the partition aiokafka's own ``send`` gives its key (or the
one it names), in the order sent within each partition, across several produce batches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live.output_sender import BATCH_BYTES, OutputSender
from streams.ops.kafka import admin_client
from streams.stages.batch import Outgoing

from .kafka_helpers import read_topic

KEYS = (b"5101", b"5102", b"4401", b"DLQ-source")
PARTITIONS = 6


def _outgoing(topic: str) -> list[Outgoing]:
    # ~2.5 MiB to each key's partition: several produce batches of BATCH_BYTES
    size = 2_000
    per_key = 3 * BATCH_BYTES // size
    out = [
        Outgoing(topic, KEYS[n % len(KEYS)], f"{n:06d}".encode().ljust(size, b"."))
        for n in range(per_key * len(KEYS))
    ]
    out.append(Outgoing(topic, b"5101", b"named", partition=5))
    out.append(Outgoing(topic, None, b"keyless"))
    return out


async def _aiokafka_partitions(settings: Settings, topic: str) -> dict[bytes, int]:
    """Where aiokafka's ``send`` (Kafka's default partitioner) puts each key."""
    producer = AIOKafkaProducer(**aiokafka_options(settings, "worker"))
    await producer.start()
    try:
        return {
            key: (await (await producer.send(topic, b"probe", key=key))).partition for key in KEYS
        }
    finally:
        await producer.stop()


async def _send(settings: Settings, topic: str, outgoing: list[Outgoing]) -> None:
    sender = OutputSender(aiokafka_options(settings, "worker"))
    holder = asyncio.ensure_future(sender.run())
    try:
        await asyncio.wait_for(sender.send(outgoing), timeout=120)
    finally:
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)


def test_records_land_in_their_partitions_in_order(
    stack: Settings, unique_name: Callable[..., str]
) -> None:
    prefix = unique_name("outputs")
    settings = stack.model_copy(update={"topic_prefix": prefix})
    topic = f"{prefix}.alerts.v1"

    async def create() -> None:
        async with admin_client(settings) as admin:
            await admin.create_topics([NewTopic(topic, PARTITIONS, settings.replication_factor)])

    asyncio.run(create())
    outgoing = _outgoing(topic)
    asyncio.run(_send(settings, topic, outgoing))
    expected = asyncio.run(_aiokafka_partitions(settings, topic))
    assert len(set(expected.values())) > 1  # the keys spread: a fixed partition would fail

    seen = [(k, v, p) for k, v, p in read_topic(stack.kafka_bootstrap, topic) if v != b"probe"]
    assert len(seen) == len(outgoing)
    for key in KEYS:
        sent = [o.value for o in outgoing if o.key == key and o.partition is None]
        landed = [v for k, v, p in seen if k == key and p == expected[key]]
        assert landed == sent  # all of them, in the order sent
    assert (b"5101", b"named", 5) in seen
    assert (None, b"keyless", 0) in seen
