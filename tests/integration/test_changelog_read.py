"""The worker reads its decide table's changelog back itself, in bulk, when it claims its
partitions (streams/live/changelog_read.py), in place of Faust's record-by-record recovery.
On the real broker, through the worker's own commits: what it reads back must be exactly the
committed records of the claimed partitions, last value per key, tombstones deleting,
aborted transactions (a killed worker's open one included) left out; and Faust's recovery
must be told to start where that read ended. The expected mappings are written by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.types import TP

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live.changelog_read import STORE_URL, ReadAheadStore
from streams.live.fencing import PartitionCommitter
from streams.ops.kafka import admin_client

from .kafka_helpers import changelog_topic


async def _topics(settings: Settings, changelog: str) -> None:
    async with admin_client(settings) as admin:
        await admin.create_topics([changelog_topic(settings, changelog, 2)])


def _committer(settings: Settings, changelog: str, reload: Any = None) -> PartitionCommitter:
    return PartitionCommitter(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        stage="decide-intake",
        group=f"{settings.topic_prefix}.decide-intake",
        changelog=changelog,
        max_bytes=1 << 20,
        reload=reload,
    )


async def _aborted(settings: Settings, changelog: str) -> None:
    """Another producer's transaction, aborted: none of it may be read back."""
    producer = AIOKafkaProducer(
        **aiokafka_options(settings, "worker"),
        transactional_id=f"{settings.topic_prefix}.decide-intake.0",
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await (await producer.send(changelog, b"X", b"a", 0))
        await (await producer.send(changelog, b"Y", b"d", 1))
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def _end_offsets(settings: Settings, changelog: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(
        **aiokafka_options(settings, "worker"), isolation_level="read_committed"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(changelog, p) for p in (0, 1)]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: ends[tp] for tp in tps}
    finally:
        await consumer.stop()


def _store() -> ReadAheadStore:
    app = faust.App("changelog-read-test", autodiscover=False)
    table = app.Table("state", key_type=bytes, value_type=bytes, store=STORE_URL)
    store = table.data
    assert isinstance(store, ReadAheadStore)
    return store


async def _scenario(settings: Settings, changelog: str) -> dict[str, Any]:
    first = _committer(settings, changelog)
    await first.claim([0, 1])
    await first.commit({0: {b"a": b"1", b"b": b"2"}, 1: {b"c": b"3"}}, {})
    await first.commit({0: {b"b": None, b"a": b"a2"}}, {})
    await first.close()
    await _aborted(settings, changelog)
    # A worker killed mid-commit: its transaction on partition 1 is left open.
    killed = _committer(settings, changelog)
    await killed.claim([1])
    killed_producer = killed._producers[1]
    await killed_producer.begin_transaction()
    await (await killed_producer.send(changelog, b"Z", b"e", 1))

    store = _store()
    store.data[b"stale"] = b"from before the rebalance"
    kafka = aiokafka_options(settings, "worker")
    restarted = _committer(
        settings, changelog, reload=lambda ps: store.refill(kafka, changelog, ps)
    )
    # The restart's claim fences the killed producer (aborting its open transaction),
    # then reads back: it must not wait on that transaction, nor see it.
    await asyncio.wait_for(restarted.claim([0, 1]), timeout=60)
    both = dict(store.data)
    read_to = {p: store.persisted_offset(TP(changelog, p)) for p in (0, 1)}
    ends = await _end_offsets(settings, changelog)
    await restarted.close()
    await killed_producer.stop()

    one = _store()
    await one.refill(kafka, changelog, [1])
    return {
        "both": both,
        "read_to": read_to,
        "ends": ends,
        "one": dict(one.data),
        "one_read_to": {p: one.persisted_offset(TP(changelog, p)) for p in (0, 1)},
    }


def test_a_claim_reads_back_exactly_the_committed_states(
    stack: Settings, unique_name: Callable[..., str]
) -> None:
    prefix = unique_name("readback")
    settings = stack.model_copy(update={"topic_prefix": prefix})
    changelog = f"{prefix}.decide-state-changelog"
    asyncio.run(_topics(settings, changelog))
    seen = asyncio.run(_scenario(settings, changelog))
    # by hand: a's last committed value, b deleted, c; X, Y (aborted) and Z (the killed
    # worker's open transaction) never; the stale local record gone; the fence
    # tombstones (streams.live.fencing.FENCE_KEY) delete a key no state has
    assert seen["both"] == {b"a": b"a2", b"c": b"3"}
    # Faust's recovery starts after the last record read: nothing is left for it
    assert seen["read_to"] == {p: seen["ends"][p] - 1 for p in (0, 1)}
    assert seen["one"] == {b"c": b"3"}
    assert seen["one_read_to"] == {0: None, 1: seen["ends"][1] - 1}
