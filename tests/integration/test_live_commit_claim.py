"""A rebalance that keeps a partition never undoes the commit in flight (issue 16, the
compose fault test's lost incident). Every rebalance claims the worker's partitions again,
kept ones too (streams/live/fencing.py); the claim used to stop the producer a commit was
using, and that commit was abandoned as "another worker's" while its states were already in
the table's local copy and no longer waiting to be sent: the worker went on with states the
changelog never got and later committed offsets past them, so whoever recovered the
partition next lost those records' effects. Here, on the real broker, a claim of the same
partition begins while a commit of many states is under way: the commit must end committed
(its offsets in the group, its states in the changelog as a read_committed consumer sees
them), and the partition stays claimed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live.fencing import FENCE_KEY, PartitionCommitter
from streams.ops.kafka import admin_client

from .kafka_helpers import changelog_topic, committed_offsets

STATES = 3000  # enough states that the commit is still sending when the claim begins
STATE_BYTES = 4096
OFFSET = 42


async def _topics(settings: Settings, changelog: str, source: str) -> None:
    async with admin_client(settings) as admin:
        await admin.create_topics(
            [
                changelog_topic(settings, changelog, 1),
                NewTopic(source, num_partitions=1, replication_factor=settings.replication_factor),
            ]
        )


async def _committed_keys(settings: Settings, changelog: str) -> set[bytes]:
    """The changelog's keys as a read_committed consumer sees them (aborted ones hidden)."""
    consumer = AIOKafkaConsumer(
        **aiokafka_options(settings, "admin"),
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        tp = TopicPartition(changelog, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]  # the last stable offset
        keys: set[bytes] = set()
        while await consumer.position(tp) < end:
            for messages in (await consumer.getmany(tp, timeout_ms=2000)).values():
                keys.update(m.key for m in messages if m.key is not None)
        return keys - {FENCE_KEY}
    finally:
        await consumer.stop()


async def _commit_while_claimed(settings: Settings, group: str, changelog: str, source: str):
    committer = PartitionCommitter(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        stage="decide-intake",
        group=group,
        changelog=changelog,
        max_bytes=1 << 20,
    )
    await committer.claim([0])
    states = {0: {f"city-{i}".encode(): bytes(STATE_BYTES) for i in range(STATES)}}
    try:
        committing = asyncio.ensure_future(
            committer.commit(states, {TopicPartition(source, 0): OFFSET})
        )
        # Once the commit holds the committer's turn it is under way (a fixed sleep let a
        # fast commit end before the claim began, now and then).
        while not committer._turn.locked() and not committing.done():
            await asyncio.sleep(0)
        in_flight = not committing.done()
        # A claim that cut the commit off would leave it abandoned (lost), or, begun this
        # early, both hung on the broker until pytest's timeout.
        await committer.claim([0])  # a rebalance that keeps partition 0 here
        lost = await committing
        return in_flight, lost, await _committed_keys(settings, changelog)
    finally:
        await committer.close()


def test_a_claim_of_a_kept_partition_waits_for_the_commit_in_flight(
    stack: Settings, unique_name: Callable[..., str]
) -> None:
    prefix = unique_name("claim")
    settings = stack.model_copy(update={"topic_prefix": prefix})
    group, changelog, source = f"{prefix}.decide-intake", f"{prefix}.changelog", f"{prefix}.in"
    asyncio.run(_topics(settings, changelog, source))
    in_flight, lost, keys = asyncio.run(_commit_while_claimed(settings, group, changelog, source))
    assert in_flight, "the commit ended before the claim began: the test proves nothing"
    assert lost == [], "the commit was abandoned although the partition stayed here"
    committed = asyncio.run(committed_offsets(settings.kafka_bootstrap, group))
    assert committed == {f"{source}[0]": OFFSET}
    assert len(keys) == STATES
